package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	ddl "github.com/accrue/accrue/deploy/clickhouse"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/sinks/clickhouse"
)

// TestClickHouseMigrate applies the built-in migrations to a new database,
// then again (nothing to do), and lists nothing pending afterwards.
func TestClickHouseMigrate(t *testing.T) {
	addr := pt.ClickHouseAddr(t)
	db := fmt.Sprintf("accrue_cmd_test_%d", time.Now().UnixNano())
	pt.DropDatabaseAtCleanup(t, addr, db)
	ms, err := clickhouse.LoadMigrations(ddl.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--log-level", "error", "clickhouse", "migrate", "--clickhouse-addr", addr, "--database", db}
	out, _, err := runCLI(t, append(args, "--dry-run")...)
	if want := fmt.Sprintf("%d pending, 0 already present", len(ms)); err != nil || !strings.Contains(out, want) {
		t.Fatalf("dry run on a new database: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, args...)
	if want := fmt.Sprintf("%d applied, 0 already present", len(ms)); err != nil || !strings.Contains(out, want) ||
		!strings.Contains(out, "applied  "+ms[0].Name) {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	out, _, err = runCLI(t, args...)
	if want := fmt.Sprintf("0 applied, %d already present", len(ms)); err != nil || !strings.Contains(out, want) {
		t.Fatalf("second run: %v\n%s", err, out)
	}
}
