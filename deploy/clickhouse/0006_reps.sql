-- Reps and their history (ref.reps): who manages whom, in which team and
-- role, from which date. Reports use it to roll reps up by manager.
--
-- Row identity is the record key (rep_id, valid_from; valid_from is '' for
-- a row in force from the beginning). version is the record's Kafka offset:
-- one key always lands in one partition, so the latest publication of a
-- version wins; deleted = 1 is a tombstone that removed that version.
CREATE TABLE IF NOT EXISTS reps
(
    rep_id          String,
    valid_from      String,
    name            String,
    role            ${LowCardinality(String)},
    team            ${LowCardinality(String)},
    manager_id      String,
    currency        ${LowCardinality(String)},
    deleted         UInt8,
    version         UInt64,
    kafka_topic     ${LowCardinality(String)},
    kafka_partition Int32,
    kafka_offset    Int64,
    kafka_time      DateTime('UTC'),
    inserted_at     DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (rep_id, valid_from);
