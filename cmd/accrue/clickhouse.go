package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	ddl "github.com/accrue/accrue/deploy/clickhouse"
	"github.com/accrue/accrue/sinks/clickhouse"
)

func init() { commands = append(commands, newClickHouseCmd) }

// chFlags are the flags of every command that talks to ClickHouse.
type chFlags struct {
	addr, database, user, passwordFile                string
	tls, compress                                     bool
	tlsCAFile, tlsCertFile, tlsKeyFile, tlsServerName string
}

func (f *chFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.addr, "clickhouse-addr", envOr("ACCRUE_CLICKHOUSE_ADDR", "127.0.0.1:19000"),
		"ClickHouse native protocol host:port, comma separated (env ACCRUE_CLICKHOUSE_ADDR)")
	cmd.Flags().StringVar(&f.database, "database", envOr("ACCRUE_CLICKHOUSE_DATABASE", clickhouse.DefaultDatabase),
		"ClickHouse database of accrue's tables (env ACCRUE_CLICKHOUSE_DATABASE)")
	cmd.Flags().StringVar(&f.user, "clickhouse-user", envOr("ACCRUE_CLICKHOUSE_USER", "default"),
		"ClickHouse user (env ACCRUE_CLICKHOUSE_USER)")
	cmd.Flags().StringVar(&f.passwordFile, "clickhouse-password-file", envOr("ACCRUE_CLICKHOUSE_PASSWORD_FILE", ""),
		"file holding the ClickHouse password (env ACCRUE_CLICKHOUSE_PASSWORD_FILE; or the password itself in ACCRUE_CLICKHOUSE_PASSWORD)")
	cmd.Flags().BoolVar(&f.tls, "clickhouse-tls", os.Getenv("ACCRUE_CLICKHOUSE_TLS") == "true",
		"connect with TLS (the server's tcp_port_secure), checked against the system's roots unless --clickhouse-tls-ca-file is set (env ACCRUE_CLICKHOUSE_TLS=true)")
	cmd.Flags().StringVar(&f.tlsCAFile, "clickhouse-tls-ca-file", envOr("ACCRUE_CLICKHOUSE_TLS_CA_FILE", ""),
		"PEM file of the CAs that sign the server's certificate; implies --clickhouse-tls (env ACCRUE_CLICKHOUSE_TLS_CA_FILE)")
	cmd.Flags().StringVar(&f.tlsCertFile, "clickhouse-tls-cert-file", envOr("ACCRUE_CLICKHOUSE_TLS_CERT_FILE", ""),
		"PEM client certificate, for servers that require one; implies --clickhouse-tls (env ACCRUE_CLICKHOUSE_TLS_CERT_FILE)")
	cmd.Flags().StringVar(&f.tlsKeyFile, "clickhouse-tls-key-file", envOr("ACCRUE_CLICKHOUSE_TLS_KEY_FILE", ""),
		"PEM private key of --clickhouse-tls-cert-file (env ACCRUE_CLICKHOUSE_TLS_KEY_FILE)")
	cmd.Flags().StringVar(&f.tlsServerName, "clickhouse-tls-server-name", envOr("ACCRUE_CLICKHOUSE_TLS_SERVER_NAME", ""),
		"name the server's certificate must carry, when it is not the host of its address (env ACCRUE_CLICKHOUSE_TLS_SERVER_NAME)")
	cmd.Flags().BoolVar(&f.compress, "clickhouse-compress", false, "send blocks LZ4-compressed")
}

// options reads the flags into connection options; the password comes
// from a file or the environment, never from the command line.
func (f *chFlags) options() (clickhouse.Options, error) {
	o := clickhouse.Options{Database: f.database, User: f.user, Compress: f.compress}
	for _, a := range strings.Split(f.addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			o.Addr = append(o.Addr, a)
		}
	}
	if len(o.Addr) == 0 {
		return o, usageError{fmt.Errorf("--clickhouse-addr is empty")}
	}
	var err error
	if o.Password, err = secret("clickhouse password", f.passwordFile, "ACCRUE_CLICKHOUSE_PASSWORD"); err != nil {
		return o, err
	}
	o.TLS, err = tlsConfig("clickhouse", f.tls, f.tlsCAFile, f.tlsCertFile, f.tlsKeyFile, f.tlsServerName)
	return o, err
}

func newClickHouseCmd(*globals) *cobra.Command {
	cmd := &cobra.Command{Use: "clickhouse", Short: "Manage accrue's ClickHouse schema"}
	var f chFlags
	var dir string
	var dryRun bool
	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Create or update accrue's ClickHouse tables and views (idempotent)",
		Long: `Applies the numbered migrations (deploy/clickhouse/NNNN_name.sql, built into
this binary; --dir reads them from a folder instead) that the database has not
recorded yet, in order, and records each in the table accrue_migrations. The
database is created if it is missing. Running it again changes nothing. A
migration that was changed after it was applied is refused: write a new one.

Migrations run on ClickHouse 18.16 and later; where the server supports newer
types without a setting (LowCardinality), they are used.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := f.options()
			if err != nil {
				return err
			}
			fsys := os.DirFS(dir)
			if dir == "" {
				fsys = ddl.Migrations
			}
			ms, err := clickhouse.LoadMigrations(fsys)
			if err != nil {
				return usageError{err}
			}
			res, err := clickhouse.Migrate(cmd.Context(), o, ms, clickhouse.MigrateOptions{DryRun: dryRun})
			out := cmd.OutOrStdout()
			verb := "applied"
			if dryRun {
				verb = "pending"
			}
			if res.Capabilities.Version != "" {
				fmt.Fprintf(out, "clickhouse %s, database %s, LowCardinality %v\n",
					res.Capabilities.Version, res.Database, res.Capabilities.LowCardinality)
			}
			for _, m := range res.Applied {
				fmt.Fprintf(out, "%-8s %s\n", verb, m.Name)
			}
			fmt.Fprintf(out, "%d %s, %d already present\n", len(res.Applied), verb, len(res.Present))
			return err
		},
	}
	f.register(migrate)
	migrate.Flags().StringVar(&dir, "dir", "", "read migrations from this folder instead of the built-in ones")
	migrate.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be applied, change nothing")
	cmd.AddCommand(migrate)
	return cmd
}
