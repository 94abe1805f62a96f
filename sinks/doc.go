// Package sinks holds the writers that take accrue's topics out of Kafka:
// ClickHouse, payout files and webhooks. Each sink commits its consumed
// offsets only after its target acknowledged the batch, and relies on the
// deterministic ids of the records it writes so that a replay changes
// nothing downstream.
package sinks
