package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	ddl "github.com/accrue/accrue/deploy/clickhouse"
	"github.com/accrue/accrue/deploy/doctor"
	"github.com/accrue/accrue/sinks/clickhouse"
)

func init() { commands = append(commands, newDoctorCmd) }

// errProblems is returned when the doctor found problems (exit status 1);
// the lines it printed say which.
type errProblems int

func (e errProblems) Error() string { return fmt.Sprintf("%d problem(s) found", int(e)) }

func newDoctorCmd(g *globals) *cobra.Command {
	var f chFlags
	var noClickHouse, lag bool
	var maxLag int64
	var lagGroups []string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that a deployment can run: Kafka, topics, co-partitioning, ClickHouse schema, lag",
		Long: `Checks, against --brokers and --clickhouse-addr, and prints one line per check
(ok, PROBLEM with what to run to fix it, or skipped when an earlier check
failed):

  kafka              the brokers answer; their version
  topics             every topic of 'accrue topics list' exists, compacted
                     where the catalogue says so and only there
  co-partitioning    the topics each keyed stage reads together (its inputs
                     and its changelog) have one partition count
  clickhouse         the server answers; its version
  clickhouse schema  the database has every migration built into this
                     binary, and none of them changed since it was applied
  lag                with --lag: each stage's consumer group, records behind
                     (a problem above --max-lag)

It only reads. Exit status 0 when healthy, 1 when a problem was found, 2 for
a usage error.`,
		Example: `  accrue doctor --brokers kafka-0:9092 --clickhouse-addr clickhouse:9000
  accrue doctor --lag --max-lag 100000 --no-clickhouse`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("doctor takes no arguments, got %q", args)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return usageError{fmt.Errorf("--timeout must be positive")}
			}
			cfg := doctor.Config{Brokers: g.brokerList(), KafkaOpts: g.kafkaOpts(), Lag: lag, LagGroups: lagGroups, MaxLag: maxLag, Timeout: timeout}
			if !noClickHouse {
				o, err := f.options()
				if err != nil {
					return err
				}
				ms, err := clickhouse.LoadMigrations(ddl.Migrations)
				if err != nil {
					return err
				}
				cfg.ClickHouse, cfg.Migrations = &o, ms
			}
			rs := doctor.Run(cmd.Context(), cfg)
			for _, r := range rs {
				fmt.Fprintln(cmd.OutOrStdout(), r)
			}
			if n := doctor.Problems(rs); n > 0 {
				return errProblems(n)
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	f.register(cmd)
	cmd.Flags().BoolVar(&noClickHouse, "no-clickhouse", false, "check Kafka only")
	cmd.Flags().BoolVar(&lag, "lag", false, "also report each stage's consumer group lag")
	cmd.Flags().StringSliceVar(&lagGroups, "lag-groups", doctor.StageGroups,
		"with --lag: the consumer groups to report (a stage run with --name NAME has group accrue-NAME)")
	cmd.Flags().Int64Var(&maxLag, "max-lag", 0, "with --lag: records a group may lag before it is a problem (0: no limit)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "longest wait for each server")
	return cmd
}
