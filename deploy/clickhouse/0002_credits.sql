-- Credits: sales.credited, one row per recipient's share of an event.
--
-- Row identity is credit_id ("<event_id>/<rep_id>"); rep_id leads the
-- sorting key so that a rep's statement reads a narrow range.
-- credited_amount is amount × share, exact to 10 decimal places
-- (half-even beyond). Amounts are the event's own, in its own currency:
-- returns carry the returned part as a positive amount (see docs/bi.md).
CREATE TABLE IF NOT EXISTS credits
(
    credit_id         String,
    event_id          String,
    rep_id            String,
    share             Decimal(38, 18),
    via               ${LowCardinality(String)},
    rep_ref           String,
    account_ref       String,
    product_ref       String,
    source            ${LowCardinality(String)},
    txn_id            String,
    type              ${LowCardinality(String)},
    ref_txn_id        String,
    event_time        DateTime('UTC'),
    event_rep_id      String,
    account_id        String,
    product_id        String,
    quantity          Nullable(Decimal(38, 10)),
    amount            Decimal(38, 10),
    currency          ${LowCardinality(String)},
    margin            Nullable(Decimal(38, 10)),
    margin_currency   ${LowCardinality(String)},
    credited_amount   Decimal(38, 10),
    credited_margin   Nullable(Decimal(38, 10)),
    credited_quantity Nullable(Decimal(38, 10)),
    kafka_topic       ${LowCardinality(String)},
    kafka_partition   Int32,
    kafka_offset      Int64,
    kafka_time        DateTime('UTC'),
    inserted_at       DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (rep_id, credit_id);
