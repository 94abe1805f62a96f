// Package clickhouse holds accrue's ClickHouse schema as numbered
// migrations (NNNN_name.sql), embedded in the binary so that `accrue
// clickhouse migrate` needs no files on disk. README.md in this folder says
// how to write one.
package clickhouse

import "embed"

// Migrations are the migration files, named NNNN_name.sql.
//
//go:embed *.sql
var Migrations embed.FS
