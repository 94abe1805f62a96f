-- Clean sales: the canonical sale events of sales.clean, one row per event.
--
-- Row identity is event_id (deterministic: the source's id, or
-- source:txn_id:type). A batch written twice (the sink crashed after the
-- insert, before its offset commit) leaves two rows with the same key until
-- a merge; read through FINAL (or the views) to see each event once.
CREATE TABLE IF NOT EXISTS sales
(
    event_id         String,
    source           ${LowCardinality(String)},
    txn_id           String,
    type             ${LowCardinality(String)},
    ref_txn_id       String,
    event_time       DateTime('UTC'),
    rep_id           String,
    account_id       String,
    product_id       String,
    quantity         Nullable(Decimal(38, 10)),
    amount           Decimal(38, 10),
    currency         ${LowCardinality(String)},
    margin           Nullable(Decimal(38, 10)),
    margin_currency  ${LowCardinality(String)},
    split_rep_ids    Array(String),
    split_shares     Array(Decimal(38, 18)),
    attribute_keys   Array(String),
    attribute_values Array(String),
    kafka_topic      ${LowCardinality(String)},
    kafka_partition  Int32,
    kafka_offset     Int64,
    kafka_time       DateTime('UTC'),
    inserted_at      DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY event_id;
