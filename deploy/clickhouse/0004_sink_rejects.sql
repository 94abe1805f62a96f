-- Records the sink could not turn into a row (not the JSON its topic
-- carries, a value out of a column's range): kept whole here so that
-- nothing read from Kafka is dropped without a trace. Identity is the
-- record's own position, the only thing known about it.
CREATE TABLE IF NOT EXISTS sink_rejects
(
    kafka_topic     ${LowCardinality(String)},
    kafka_partition Int32,
    kafka_offset    Int64,
    kafka_time      DateTime('UTC'),
    table_name      ${LowCardinality(String)},
    error           String,
    raw_key         String,
    raw_value       String,
    inserted_at     DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(kafka_time)
ORDER BY (kafka_topic, kafka_partition, kafka_offset);
