-- Reports on what exists so far: rejects by source, reason and day, and
-- freshness (how long rows took to reach ClickHouse).

-- Rejects by day (UTC), source, stage and reason. replayed counts the
-- rejections of records that were themselves replays (accrue dlq replay).
CREATE VIEW IF NOT EXISTS rejects_daily AS
SELECT
    toDate(rejected_at) AS day,
    source,
    source_topic,
    stage,
    reason,
    count() AS rejects,
    countIf(replayed_from != '') AS replayed
FROM rejects FINAL
GROUP BY day, source, source_topic, stage, reason;

-- Freshness per table and minute of arrival: seconds from event time (or
-- rejection time) and from the Kafka record's time to the row's insertion.
-- Every arrival counts, replayed duplicates too: this reports delivery,
-- not money. It covers the last 7 days of arrivals, so that a dashboard
-- reading it scans a week, not the whole history.
CREATE VIEW IF NOT EXISTS freshness AS
SELECT
    table_name,
    toStartOfMinute(inserted_at) AS minute,
    count() AS rows,
    quantileExact(0.5)(event_lag) AS event_lag_p50,
    quantileExact(0.99)(event_lag) AS event_lag_p99,
    max(event_lag) AS event_lag_max,
    quantileExact(0.5)(kafka_lag) AS kafka_lag_p50,
    quantileExact(0.99)(kafka_lag) AS kafka_lag_p99,
    max(kafka_lag) AS kafka_lag_max
FROM
(
    SELECT 'sales' AS table_name, inserted_at,
        toInt64(inserted_at) - toInt64(event_time) AS event_lag,
        toInt64(inserted_at) - toInt64(kafka_time) AS kafka_lag
    FROM sales
    WHERE inserted_at >= now() - INTERVAL 7 DAY
    UNION ALL
    SELECT 'credits' AS table_name, inserted_at,
        toInt64(inserted_at) - toInt64(event_time) AS event_lag,
        toInt64(inserted_at) - toInt64(kafka_time) AS kafka_lag
    FROM credits
    WHERE inserted_at >= now() - INTERVAL 7 DAY
    UNION ALL
    SELECT 'rejects' AS table_name, inserted_at,
        toInt64(inserted_at) - toInt64(rejected_at) AS event_lag,
        toInt64(inserted_at) - toInt64(kafka_time) AS kafka_lag
    FROM rejects
    WHERE inserted_at >= now() - INTERVAL 7 DAY
)
GROUP BY table_name, minute;
