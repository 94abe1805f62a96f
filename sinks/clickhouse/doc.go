// Package clickhouse writes accrue's topics to ClickHouse and keeps the
// schema they land in.
//
// The sink (Sink) consumes topics read_committed, decodes each record
// straight into the typed column slices of its table (Table, Rows: no
// reflection per record), inserts in batches with clickhouse-go's batch
// API and a named column list, retries the inserts that may succeed later
// (Retryable), and marks offsets for commit only after ClickHouse
// acknowledged a batch. Replays are harmless because every table is a
// ReplacingMergeTree on an id derived from the record (event_id,
// credit_id, a dead letter's source position), and reports read through
// FINAL.
//
// The schema is a sequence of numbered migrations (deploy/clickhouse),
// applied by Migrate and recorded in the database, written for ClickHouse
// 18.16 and using newer types only where the server reports them
// (Capabilities, Render).
package clickhouse
