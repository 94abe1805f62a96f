// Package e2e holds what the end-to-end runs of the whole pipeline share:
// a generated world of reference data and raw records from two sources
// (some broken, some sent twice, with returns, cancels, splits and FX), the
// topics and stage arguments of one run, `accrue simulate`'s statements for
// the same input, and the comparison of ClickHouse's reports with them.
// The sink's end-to-end test (sinks/clickhouse) and the fault suite
// (faults) run on it.
package e2e
