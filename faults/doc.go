// Package faults is accrue's fault suite: the whole pipeline (ingest,
// dedupe, link, accrue and the ClickHouse sink, each a real `accrue`
// process) runs on real Kafka and ClickHouse while its processes are
// killed, frozen and rebalanced, the broker is killed and restarted and
// ClickHouse goes away for a minute. After each fault every output is
// checked against `accrue simulate` on the same input: to the cent,
// nothing missing, nothing doubled.
//
// The scenarios are the tests of this package (faults_test.go); what they
// measure is a Table, printed as markdown in docs/reliability.md.
package faults
