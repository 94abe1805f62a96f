-- Rejected records: the dead letters of sales.rejected (and of any stage's
-- <stage>.rejected topic the sink is given), with why, from where, and the
-- original bytes.
--
-- Row identity is reject_id, built from where the refused record came from
-- (stage, source topic, partition, offset and line), never from the dead
-- letter's own offset: `accrue dlq replay` re-sends a record to its source
-- topic, and if it is refused again that is a new rejection with its own
-- source position. Records that came from no Kafka topic (HTTP bodies,
-- files: partition and offset -1) are identified by stage, source, file,
-- line, time of rejection and a hash of the bytes.
CREATE TABLE IF NOT EXISTS rejects
(
    reject_id        String,
    reason           ${LowCardinality(String)},
    field            String,
    message          String,
    stage            ${LowCardinality(String)},
    source           ${LowCardinality(String)},
    source_topic     ${LowCardinality(String)},
    source_partition Int32,
    source_offset    Int64,
    source_line      UInt32,
    source_file      String,
    replayed_from    String,
    rejected_at      DateTime('UTC'),
    raw_key          String,
    raw_value        String,
    kafka_topic      ${LowCardinality(String)},
    kafka_partition  Int32,
    kafka_offset     Int64,
    kafka_time       DateTime('UTC'),
    inserted_at      DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(rejected_at)
ORDER BY (reason, reject_id);
