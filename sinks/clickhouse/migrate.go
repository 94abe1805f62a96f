package clickhouse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// Migration is one numbered DDL file, NNNN_name.sql: statements separated
// by semicolons, each safe to run again (CREATE … IF NOT EXISTS), with
// placeholders for types newer servers have (Render).
type Migration struct {
	Version  int
	Name     string // file name
	SQL      string
	Checksum string // SHA-256 of the file, hex
}

// MigrationsTable records the applied migrations in the target database.
const MigrationsTable = "accrue_migrations"

// LoadMigrations reads every NNNN_name.sql file at the top of fsys, sorted
// by version. Other files are ignored; two files with one version, or a
// .sql file without a version, are an error.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || path.Ext(name) != ".sql" {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, name, v)
		}
		seen[v] = name
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		out = append(out, Migration{Version: v, Name: name, SQL: string(b), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Capabilities are what a server offers beyond the baseline every
// migration must run on (ClickHouse 18.16).
type Capabilities struct {
	Version string
	// LowCardinality is true where LowCardinality columns need no setting
	// (18.16 has them only behind allow_experimental_low_cardinality_type).
	LowCardinality bool
}

// DetectCapabilities asks the server what it supports.
func DetectCapabilities(ctx context.Context, conn driver.Conn) (Capabilities, error) {
	var c Capabilities
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&c.Version); err != nil {
		return c, fmt.Errorf("server version: %w", err)
	}
	// Servers where the type is no longer experimental either drop the
	// setting or keep it, obsolete, at 1.
	rows, err := conn.Query(ctx, "SELECT value FROM system.settings WHERE name = 'allow_experimental_low_cardinality_type'")
	if err != nil {
		return c, fmt.Errorf("server settings: %w", err)
	}
	defer rows.Close()
	c.LowCardinality = true
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return c, err
		}
		c.LowCardinality = v == "1" || v == "true"
	}
	return c, rows.Err()
}

// placeholders are the types a migration may ask for by name, each with its
// baseline form and the form used where the server supports it.
var placeholders = map[string]func(Capabilities) string{
	"LowCardinality(String)": func(c Capabilities) string {
		if c.LowCardinality {
			return "LowCardinality(String)"
		}
		return "String"
	},
}

// Render replaces each ${Type} placeholder of sql with the type the server
// supports. An unknown placeholder is an error.
func Render(sql string, c Capabilities) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(sql, "${")
		if i < 0 {
			b.WriteString(sql)
			return b.String(), nil
		}
		j := strings.IndexByte(sql[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("unterminated placeholder %q", sql[i:min(len(sql), i+30)])
		}
		name := sql[i+2 : i+j]
		f, ok := placeholders[name]
		if !ok {
			return "", fmt.Errorf("unknown placeholder ${%s}", name)
		}
		b.WriteString(sql[:i])
		b.WriteString(f(c))
		sql = sql[i+j+1:]
	}
}

// SplitStatements cuts sql at the semicolons that are outside quotes and
// comments, and drops the pieces that hold only comments and blanks.
func SplitStatements(sql string) []string {
	var out []string
	start := 0
	emit := func(end int) {
		if s := strings.TrimSpace(sql[start:end]); !onlyComments(s) {
			out = append(out, s)
		}
	}
	for i := 0; i < len(sql); i++ {
		switch c := sql[i]; {
		case c == '\'' || c == '"' || c == '`':
			for i++; i < len(sql) && sql[i] != c; i++ {
				if sql[i] == '\\' {
					i++
				}
			}
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				i = len(sql)
			} else {
				i += end + 3
			}
		case c == ';':
			emit(i)
			start = i + 1
		}
	}
	emit(len(sql))
	return out
}

func onlyComments(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
			return false
		}
	}
	return true
}

// MigrateResult says what Migrate found and did.
type MigrateResult struct {
	Database     string
	Capabilities Capabilities
	// Applied are the migrations run now (with DryRun: those that would
	// run), in order; Present those recorded before.
	Applied []Migration
	Present []Migration
}

// MigrateOptions change how Migrate works.
type MigrateOptions struct {
	// DryRun reports what would be applied and changes nothing (not even
	// the database or the migrations table).
	DryRun bool
	// OnStatement, when set, is called before each statement runs (for
	// logs), with its rendered text.
	OnStatement func(m Migration, stmt string)
}

// Migrate brings the database of o up to date with ms: it creates the
// database and the migrations table if they are missing, refuses to go on
// when a recorded migration's file has changed since, and then runs every
// migration not yet recorded, in order, recording each after its last
// statement succeeded. It is safe to run again, and to run after a crash
// halfway through a migration: statements are written to be repeatable,
// and "already exists" answers to a repeated one count as done.
//
// Migrate blocks; it uses connections of its own and closes them.
func Migrate(ctx context.Context, o Options, ms []Migration, mo MigrateOptions) (MigrateResult, error) {
	db := o.database()
	res := MigrateResult{Database: db}
	srv, err := o.open(ctx, "")
	if err != nil {
		return res, err
	}
	defer srv.Close()
	if res.Capabilities, err = DetectCapabilities(ctx, srv); err != nil {
		return res, err
	}
	var exists uint64
	if err := srv.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", db).Scan(&exists); err != nil {
		return res, fmt.Errorf("look up database %s: %w", db, err)
	}
	if exists == 0 && mo.DryRun {
		res.Applied = ms
		return res, nil
	}
	if exists == 0 {
		if err := srv.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(db)); err != nil {
			return res, fmt.Errorf("create database %s: %w", db, err)
		}
	}
	conn, err := o.open(ctx, db)
	if err != nil {
		return res, err
	}
	defer conn.Close()

	recorded, err := appliedMigrations(ctx, conn, mo.DryRun)
	if err != nil {
		return res, err
	}
	var changed []string
	var pending []Migration
	for _, m := range ms {
		sum, ok := recorded[m.Version]
		switch {
		case !ok:
			pending = append(pending, m)
		case sum != m.Checksum:
			changed = append(changed, m.Name)
		default:
			res.Present = append(res.Present, m)
		}
	}
	if len(changed) > 0 {
		return res, fmt.Errorf("migrations changed after they were applied to %s: %s (write a new migration instead)",
			db, strings.Join(changed, ", "))
	}
	for _, m := range pending {
		sql, err := Render(m.SQL, res.Capabilities)
		if err != nil {
			return res, fmt.Errorf("%s: %w", m.Name, err)
		}
		if mo.DryRun {
			res.Applied = append(res.Applied, m)
			continue
		}
		for _, stmt := range SplitStatements(sql) {
			if mo.OnStatement != nil {
				mo.OnStatement(m, stmt)
			}
			if err := conn.Exec(ctx, stmt); err != nil && !alreadyDone(err) {
				return res, fmt.Errorf("%s: %w\n%s", m.Name, err, stmt)
			}
		}
		if err := recordMigration(ctx, conn, m); err != nil {
			return res, fmt.Errorf("%s: applied, but not recorded: %w", m.Name, err)
		}
		res.Applied = append(res.Applied, m)
	}
	return res, nil
}

// appliedMigrations reads version → checksum of the recorded migrations,
// creating the table first unless dryRun (where a missing table means none).
func appliedMigrations(ctx context.Context, conn driver.Conn, dryRun bool) (map[int]string, error) {
	if !dryRun {
		// ReplacingMergeTree: two migrators racing record a version twice,
		// which collapses.
		if err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+MigrationsTable+` (
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime('UTC') DEFAULT now()
) ENGINE = ReplacingMergeTree ORDER BY version`); err != nil {
			return nil, fmt.Errorf("create %s: %w", MigrationsTable, err)
		}
	} else {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?",
			MigrationsTable).Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			return map[int]string{}, nil
		}
	}
	rows, err := conn.Query(ctx, "SELECT version, checksum FROM "+MigrationsTable+" FINAL")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", MigrationsTable, err)
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var v uint32
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, err
		}
		out[int(v)] = sum
	}
	return out, rows.Err()
}

func recordMigration(ctx context.Context, conn driver.Conn, m Migration) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+MigrationsTable+" (version, name, checksum)")
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Append(uint32(m.Version), m.Name, m.Checksum); err != nil {
		return err
	}
	return b.Send()
}

// ClickHouse exception codes that mean a repeated statement had already
// done its work.
const (
	codeDuplicateColumn    = 15 // ALTER … ADD COLUMN (18.16 has no IF NOT EXISTS there)
	codeIllegalColumn      = 44 // the same, on a MergeTree table, when its message says so
	codeTableAlreadyExists = 57
	codeDatabaseExists     = 82
)

func alreadyDone(err error) bool {
	var ex *proto.Exception
	if !errors.As(err, &ex) {
		return false
	}
	switch ex.Code {
	case codeDuplicateColumn, codeTableAlreadyExists, codeDatabaseExists:
		return true
	case codeIllegalColumn:
		return strings.Contains(ex.Message, "already exists")
	}
	return false
}

// quoteIdent quotes a database or table name for ClickHouse.
func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "`", "\\`") + "`"
}
