// Package reference holds the reference data that links sales to one view of
// the company (PROGRAMS.md §2): reps with their history, products, accounts
// with their owners, exchange rates and the identities each source uses for
// a rep.
//
// Every row has a ValidFrom date; the row in force for an event is the one
// with the latest ValidFrom on or before the event's date in UTC (as-of
// lookup). Rows without a date are in force since forever.
//
// Rows travel as JSON objects, one a line in files and one a record on the
// compacted ref.* topics. A topic key names a row version (KIND key plus
// ValidFrom), so compaction keeps every version of a rep's history while a
// re-published row replaces only itself; a tombstone removes one version.
//
// Tables is the in-memory form every stage that links or accrues reads.
// Lookups are safe for concurrent use with updates. Global fills a Tables
// from the ref.* topics and keeps it current; Publish writes a load of rows
// to a topic in one transaction (`accrue ref load`).
package reference
