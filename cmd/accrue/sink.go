package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/sinks/clickhouse"
)

func init() { commands = append(commands, newSinkCmd) }

func newSinkCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "sink", Short: "Write accrue's topics out of Kafka"}
	var f chFlags
	var cfg clickhouse.Config
	var topics []string
	var adminAddr string
	ch := &cobra.Command{
		Use:   "clickhouse",
		Short: "Copy accrue's output topics into ClickHouse tables",
		Long: fmt.Sprintf(`Consumes the given topics (read_committed) and inserts their records into
ClickHouse in batches (by --batch-rows and --batch-interval), committing
offsets only after ClickHouse acknowledged a batch. A crash repeats at most
the batches after the last commit; the tables' row identity (ReplacingMergeTree
on ids derived from the records) makes the repeat harmless for every report
that reads through FINAL or the views. While ClickHouse is down or refuses
inserts for a retryable reason the sink backs off and retries, holding at most
two batches in memory (fetching pauses). An insert refused for good (a missing
table or column) stops the sink with the server's error.

Each topic is NAME or NAME=KIND, where KIND is one of
  %s
A bare NAME is its own kind, and NAME.rejected is a dead-letter topic.
Run 'accrue clickhouse migrate' first.`, strings.Join(clickhouse.Kinds(), "\n  ")),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := f.options()
			if err != nil {
				return err
			}
			tables, err := clickhouse.ParseTopics(topics)
			if err != nil {
				return usageError{err}
			}
			conn, err := o.Open(cmd.Context())
			if err != nil {
				return err
			}
			defer conn.Close()
			reg := newRegistry()
			cfg.Brokers, cfg.Topics, cfg.Conn = g.brokerList(), tables, conn
			cfg.Metrics = clickhouse.NewMetrics(reg)
			cfg.ClientOpts = g.kafkaOpts(kafkaMetrics(reg))
			s, err := clickhouse.NewSink(cfg)
			if err != nil {
				return usageError{err}
			}
			stopAdmin, err := serveAdmin(adminAddr, reg, pipeline.ReadyCheck{Name: "sink " + cfg.Name, Ready: s.Ready})
			if err != nil {
				return err
			}
			defer stopAdmin()
			return s.Run(cmd.Context())
		},
	}
	f.register(ch)
	ch.Flags().StringSliceVar(&topics, "topics", []string{"sales.clean", "sales.credited", "sales.rejected",
		"accrue.rejected", "accruals", "attainment", "nudges", "awards", "ref.reps"},
		"topics to copy, NAME or NAME=KIND, comma separated")
	ch.Flags().StringVar(&cfg.Name, "name", "clickhouse", "sink name (metrics label; group accrue-sink-<name>)")
	ch.Flags().StringVar(&cfg.Group, "group", "", "consumer group (default accrue-sink-<name>)")
	ch.Flags().IntVar(&cfg.BatchRows, "batch-rows", 50000, "records per insert batch, at most")
	ch.Flags().DurationVar(&cfg.BatchInterval, "batch-interval", time.Second, "longest a record waits in a batch")
	ch.Flags().DurationVar(&cfg.MaxBackoff, "max-backoff", 30*time.Second, "longest wait between retries of a failed insert")
	ch.Flags().DurationVar(&cfg.CommitInterval, "commit-interval", time.Second, "how often acknowledged offsets are committed")
	ch.Flags().DurationVar(&cfg.SessionTimeout, "session-timeout", 15*time.Second, "group session timeout")
	ch.Flags().StringVar(&adminAddr, "admin-addr", envOr("ACCRUE_ADMIN_ADDR", "127.0.0.1:9464"),
		adminAddrUsage)
	cmd.AddCommand(ch, newSinkWebhookCmd(g))
	return cmd
}
