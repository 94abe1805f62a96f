// Package mapping turns what an upstream system sends into canonical sale
// events (connectors/canonical), by a declarative per-source config.
//
// A Config says how a source frames its records (JSON, CSV or Debezium
// change events), where each canonical field is found in a record, and how
// times, decimals and the event type are read. Load and Parse check a
// config completely and list every problem with its line and column; New
// compiles it into a Mapper, which is immutable and safe for concurrent use.
//
// Mapper.Map decodes one payload — a Kafka record value, an HTTP body, a
// file — and reports one Outcome per record found, in order: an event, a
// counted skip, or a *pipeline.Reject with a stable reason code and the
// canonical field at fault. Nothing found in a payload is dropped without
// an outcome.
//
// The config format is documented in connectors/examples/README.md, with
// worked examples; schema.json is its JSON Schema.
package mapping
