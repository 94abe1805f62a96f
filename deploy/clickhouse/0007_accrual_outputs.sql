-- The accrual stage's outputs: accrual deltas, attainment snapshots,
-- nudges and awards (transforms/accrue, PROGRAMS.md §4–5). Periods are
-- labels ("2026-11", "2026-Q4", "2026"); tables are partitioned by their
-- year. Money (delta, earned, commission, spiff, override) is rounded to
-- the currency's minor unit by the stage and stored exactly; figures that
-- explain it (bands, rates, exact parts, measures) keep 18 decimal places.

-- Accruals: the change of a rep's reported earned in a period of a
-- program, with what moved it (trace: each band, spiff and override, its
-- rate and exact amount). A period's deltas add up to its reported earned.
-- Row identity is accrual_id (the input's id, program, period and rep).
CREATE TABLE IF NOT EXISTS accruals
(
    accrual_id      String,
    program_id      ${LowCardinality(String)},
    program_version UInt32,
    period          ${LowCardinality(String)},
    rep_id          String,
    currency        ${LowCardinality(String)},
    delta           Decimal(38, 10),
    earned          Decimal(38, 10),
    capped          UInt8,
    event_id        String,
    input_id        String,
    trace Nested
    (
        kind        String,
        band_from   Nullable(Decimal(38, 18)),
        rate        Nullable(Decimal(38, 18)),
        spiff_id    String,
        level       UInt8,
        from_rep_id String,
        amount      Decimal(38, 18)
    ),
    kafka_topic     ${LowCardinality(String)},
    kafka_partition Int32,
    kafka_offset    Int64,
    kafka_time      DateTime('UTC'),
    inserted_at     DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY substring(period, 1, 4)
ORDER BY (program_id, period, rep_id, accrual_id);

-- Attainment: a rep's statement in a period of a program, as of the input
-- that changed it. One row per (program, period, rep) survives, the one
-- with the highest version: read through FINAL for the latest statement.
CREATE TABLE IF NOT EXISTS attainment
(
    snapshot_id     String,
    program_id      ${LowCardinality(String)},
    program_version UInt32,
    period          ${LowCardinality(String)},
    rep_id          String,
    currency        ${LowCardinality(String)},
    measure         Decimal(38, 18),
    quota           Nullable(Decimal(38, 10)),
    attainment      Nullable(Decimal(38, 10)),
    commission      Decimal(38, 10),
    spiff           Decimal(38, 10),
    override        Decimal(38, 10),
    earned          Decimal(38, 10),
    capped          UInt8,
    version         UInt64,
    event_id        String,
    kafka_topic     ${LowCardinality(String)},
    kafka_partition Int32,
    kafka_offset    Int64,
    kafka_time      DateTime('UTC'),
    inserted_at     DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY substring(period, 1, 4)
ORDER BY (program_id, period, rep_id);

-- Nudges: attainment_crossed (threshold, attainment) and near_next_tier
-- (band_from, gap), once per program, period, rep, kind and threshold or
-- band (nudge_id).
CREATE TABLE IF NOT EXISTS nudges
(
    nudge_id        String,
    kind            ${LowCardinality(String)},
    program_id      ${LowCardinality(String)},
    period          ${LowCardinality(String)},
    rep_id          String,
    threshold       Nullable(Decimal(38, 18)),
    attainment      Nullable(Decimal(38, 18)),
    band_from       Nullable(Decimal(38, 18)),
    gap             Nullable(Decimal(38, 18)),
    event_id        String,
    kafka_topic     ${LowCardinality(String)},
    kafka_partition Int32,
    kafka_offset    Int64,
    kafka_time      DateTime('UTC'),
    inserted_at     DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY substring(period, 1, 4)
ORDER BY (program_id, period, rep_id, nudge_id);

-- Awards: badges, once per program, period, rep and badge (award_id).
CREATE TABLE IF NOT EXISTS awards
(
    award_id        String,
    badge           ${LowCardinality(String)},
    program_id      ${LowCardinality(String)},
    period          ${LowCardinality(String)},
    rep_id          String,
    event_id        String,
    kafka_topic     ${LowCardinality(String)},
    kafka_partition Int32,
    kafka_offset    Int64,
    kafka_time      DateTime('UTC'),
    inserted_at     DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY substring(period, 1, 4)
ORDER BY (program_id, period, rep_id, award_id);
