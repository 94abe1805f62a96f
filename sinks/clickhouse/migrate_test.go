package clickhouse

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	ddl "github.com/accrue/accrue/deploy/clickhouse"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

func TestSplitStatements(t *testing.T) {
	got := SplitStatements(`-- heading; with a semicolon
CREATE TABLE a (s String DEFAULT 'x;y') ENGINE = Log;
/* block; comment */
CREATE VIEW v AS SELECT ';' AS c, "q;" FROM a -- trailing; comment
;
-- only a comment;
`)
	want := []string{
		"-- heading; with a semicolon\nCREATE TABLE a (s String DEFAULT 'x;y') ENGINE = Log",
		"/* block; comment */\nCREATE VIEW v AS SELECT ';' AS c, \"q;\" FROM a -- trailing; comment",
	}
	if strings.Join(got, "\n---\n") != strings.Join(want, "\n---\n") {
		t.Fatalf("got %q", got)
	}
}

func TestRender(t *testing.T) {
	sql := "a ${LowCardinality(String)}, b ${LowCardinality(String)}"
	if got, _ := Render(sql, Capabilities{}); got != "a String, b String" {
		t.Errorf("18.16: %s", got)
	}
	if got, _ := Render(sql, Capabilities{LowCardinality: true}); got != "a LowCardinality(String), b LowCardinality(String)" {
		t.Errorf("newer: %s", got)
	}
	for _, bad := range []string{"${Map(String, String)}", "x ${LowCardinality(String)"} {
		if _, err := Render(bad, Capabilities{}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestLoadMigrations(t *testing.T) {
	ms, err := LoadMigrations(ddl.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.Version != i+1 {
			t.Errorf("%s: version %d, want the numbers without gaps", m.Name, m.Version)
		}
		sql, err := Render(m.SQL, Capabilities{})
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
		for _, s := range SplitStatements(sql) {
			body := strings.ToUpper(stripComments(s))
			if strings.HasPrefix(body, "CREATE") && !strings.Contains(body, "IF NOT EXISTS") {
				t.Errorf("%s: a CREATE without IF NOT EXISTS cannot run twice:\n%s", m.Name, s)
			}
		}
	}
	for name, fsys := range map[string]fstest.MapFS{
		"no version": {"sales.sql": {}},
		"duplicate":  {"0001_a.sql": {}, "0001_b.sql": {}},
	} {
		if _, err := LoadMigrations(fsys); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return strings.TrimSpace(b.String())
}

// testDatabase names a database for one test on the shared server and
// drops it at the end; it is not created.
func testDatabase(t testing.TB) Options {
	t.Helper()
	addr := pt.ClickHouseAddr(t)
	o := Options{Addr: []string{addr}, Database: fmt.Sprintf("accrue_test_%d", time.Now().UnixNano())}
	pt.DropDatabaseAtCleanup(t, addr, o.Database)
	return o
}

// migrated returns a test database with every migration applied and a
// connection to it.
func migrated(t testing.TB) (Options, driver.Conn) {
	t.Helper()
	o := testDatabase(t)
	ms, err := LoadMigrations(ddl.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := Migrate(ctx, o, ms, MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	conn, err := o.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return o, conn
}

// schema returns every object of the database with its CREATE statement.
func schema(t testing.TB, conn driver.Conn) map[string]string {
	t.Helper()
	rows, err := conn.Query(context.Background(),
		"SELECT name, engine, create_table_query FROM system.tables WHERE database = currentDatabase()")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, engine, create string
		if err := rows.Scan(&name, &engine, &create); err != nil {
			t.Fatal(err)
		}
		out[name] = engine + ": " + create
	}
	return out
}

func count(t testing.TB, conn driver.Conn, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// The tables and views the migrations build, sorted.
var (
	views      = []string{"freshness", "leaderboard", "rejects_daily", "rep_statement", "team_rollup"}
	allObjects = []string{"accruals", "accrue_migrations", "attainment", "awards", "credits", "freshness",
		"leaderboard", "nudges", "rejects", "rejects_daily", "rep_statement", "reps", "sales", "sink_rejects", "team_rollup"}
)

// Applied to an empty server, the migrations build every table and view;
// applied again they change nothing.
func TestMigrateTwice(t *testing.T) {
	o := testDatabase(t)
	ms, err := LoadMigrations(ddl.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dry, err := Migrate(ctx, o, ms, MigrateOptions{DryRun: true})
	if err != nil || len(dry.Applied) != len(ms) {
		t.Fatalf("dry run on an empty server: %d pending, %v", len(dry.Applied), err)
	}
	first, err := Migrate(ctx, o, ms, MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("clickhouse %s: applied %d migrations", first.Capabilities.Version, len(first.Applied))
	if len(first.Applied) != len(ms) || len(first.Present) != 0 {
		t.Fatalf("first run applied %d of %d", len(first.Applied), len(ms))
	}
	conn, err := o.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	before := schema(t, conn)
	var names []string
	for n := range before {
		names = append(names, n)
	}
	sort.Strings(names)
	if got, want := strings.Join(names, " "), strings.Join(allObjects, " "); got != want {
		t.Fatalf("objects %s, want %s", got, want)
	}
	for _, v := range views {
		if n := count(t, conn, "SELECT count() FROM "+v); n != 0 {
			t.Errorf("%s on empty tables has %d rows", v, n)
		}
	}

	second, err := Migrate(ctx, o, ms, MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Applied) != 0 || len(second.Present) != len(ms) {
		t.Fatalf("second run applied %d, found %d present", len(second.Applied), len(second.Present))
	}
	after := schema(t, conn)
	for n, s := range before {
		if after[n] != s {
			t.Errorf("%s changed:\n%s\n%s", n, s, after[n])
		}
	}
	if n := count(t, conn, "SELECT count() FROM "+MigrationsTable); n != uint64(len(ms)) {
		t.Errorf("%d rows in %s, want %d", n, MigrationsTable, len(ms))
	}

	// A file changed after it was applied is refused, and nothing runs.
	changed := append([]Migration(nil), ms...)
	changed[1].Checksum = "0"
	changed = append(changed, Migration{Version: 999, Name: "0999_extra.sql",
		SQL: "CREATE TABLE IF NOT EXISTS extra (a UInt8) ENGINE = Log", Checksum: "1"})
	if _, err := Migrate(ctx, o, changed, MigrateOptions{}); err == nil || !strings.Contains(err.Error(), ms[1].Name) {
		t.Fatalf("changed migration: %v", err)
	}
	if _, ok := schema(t, conn)["extra"]; ok {
		t.Fatal("a migration ran after a changed one was found")
	}
	// A new migration runs alone.
	res, err := Migrate(ctx, o, append(ms, changed[len(changed)-1]), MigrateOptions{})
	if err != nil || len(res.Applied) != 1 || res.Applied[0].Version != 999 {
		t.Fatalf("new migration: %+v, %v", res.Applied, err)
	}
}

// A migration interrupted halfway (its first statements ran, it was not
// recorded) completes when run again.
func TestMigrateAfterCrashHalfway(t *testing.T) {
	o := testDatabase(t)
	ms, err := LoadMigrations(ddl.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := Migrate(ctx, o, ms[:len(ms)-1], MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	conn, err := o.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	last := ms[len(ms)-1]
	sql, _ := Render(last.SQL, Capabilities{})
	if err := conn.Exec(ctx, SplitStatements(sql)[0]); err != nil {
		t.Fatal(err)
	}
	res, err := Migrate(ctx, o, ms, MigrateOptions{})
	if err != nil || len(res.Applied) != 1 {
		t.Fatalf("rerun: applied %d, %v", len(res.Applied), err)
	}
	if n := len(schema(t, conn)); n != len(allObjects) {
		t.Fatalf("%d objects after the rerun, want %d", n, len(allObjects))
	}
}
