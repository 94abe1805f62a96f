package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/accrue/accrue/connectors/httpguard"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/pipeline/counter"
)

// adminAddrUsage describes every long-running command's --admin-addr.
const adminAddrUsage = "listen address of /metrics, /healthz and /readyz (empty: none; env ACCRUE_ADMIN_ADDR); " +
	"/metrics needs a bearer token of ACCRUE_METRICS_TOKENS (comma separated) when it is set"

// stageFlags are the flags of every command that runs a stage.
type stageFlags struct {
	instanceID         string
	adminAddr          string
	maxPollRecords     int
	sessionTimeout     time.Duration
	transactionTimeout time.Duration
}

func (f *stageFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.instanceID, "instance-id", envOr("ACCRUE_INSTANCE_ID", ""),
		"stable id of this instance, unique among running ones (default: host name; env ACCRUE_INSTANCE_ID)")
	cmd.Flags().StringVar(&f.adminAddr, "admin-addr", envOr("ACCRUE_ADMIN_ADDR", "127.0.0.1:9464"),
		adminAddrUsage)
	cmd.Flags().IntVar(&f.maxPollRecords, "max-poll-records", 10000, "records per batch and transaction, at most")
	cmd.Flags().DurationVar(&f.sessionTimeout, "session-timeout", 15*time.Second, "group session timeout")
	cmd.Flags().DurationVar(&f.transactionTimeout, "transaction-timeout", 20*time.Second, "transaction timeout")
}

// config fills the runtime part of a stage's config and the metrics
// registry shared with the admin server.
func (f *stageFlags) config(g *globals, name string, inputs []string, reg *prometheus.Registry) pipeline.Config {
	return pipeline.Config{
		Name: name, Brokers: g.brokerList(), ClientOpts: g.kafkaOpts(), Inputs: inputs, InstanceID: f.instanceID,
		MaxPollRecords: f.maxPollRecords, SessionTimeout: f.sessionTimeout, TransactionTimeout: f.transactionTimeout,
		Metrics:     pipeline.NewMetrics(reg),
		SessionOpts: []kgo.Opt{kafkaMetrics(reg)},
	}
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// serveAdmin starts the admin server unless addr is empty; the returned
// function shuts it down (last step of the shutdown order).
func serveAdmin(addr string, reg *prometheus.Registry, checks ...pipeline.ReadyCheck) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	a, err := pipeline.NewAdmin(addr, reg, checks...)
	if err != nil {
		return nil, fmt.Errorf("admin server: %w", err)
	}
	if tokens, err := bearerTokens("metrics", "", "ACCRUE_METRICS_TOKENS"); err == nil {
		a.GuardMetrics(func(h http.Handler) http.Handler { return httpguard.Bearer(tokens, h) })
	}
	go func() {
		if err := a.Serve(); err != nil {
			slog.Error("admin server stopped", "err", err)
		}
	}()
	slog.Info("admin server listening", "addr", a.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
	}, nil
}

func newStageCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "stage", Short: "Run one of accrue's stages"}
	var f stageFlags
	var input, output, name string
	count := &cobra.Command{
		Use:   "count",
		Short: "Keyed counting stage: a live exactly-once check of a cluster",
		Long: `Counts records per key on --input and emits each new count to --output,
exactly once: for every key the output holds 1, 2, …, n with no gap and no
repeat, whatever crashes and rebalances happen. Its state changelog is
<name>.changelog and its dead letters go to <name>.rejected. On a clean stop
it prints its owned state as one JSON line: {"state_keys":…,"state_total":…}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if input == "" || output == "" {
				return usageError{fmt.Errorf("--input and --output are required")}
			}
			reg := newRegistry()
			st, err := pipeline.NewStage[int64](f.config(g, name, []string{input}, reg),
				pipeline.Int64Codec{}, &counter.Processor{Output: output})
			if err != nil {
				return usageError{err}
			}
			stopAdmin, err := serveAdmin(f.adminAddr, reg, pipeline.ReadyCheck{Name: "stage " + name, Ready: st.Ready})
			if err != nil {
				return err
			}
			defer stopAdmin()
			if err := st.Run(cmd.Context()); err != nil {
				return err
			}
			var keys, total int64
			st.EachState(func(_ int32, _ string, v int64) { keys++; total += v })
			return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]int64{"state_keys": keys, "state_total": total})
		},
	}
	f.register(count)
	count.Flags().StringVar(&input, "input", "", "topic to count")
	count.Flags().StringVar(&output, "output", "", "topic for the counts")
	count.Flags().StringVar(&name, "name", "count", "stage name (group accrue-<name>, topics <name>.changelog and <name>.rejected)")
	cmd.AddCommand(count)
	cmd.AddCommand(newIngestStageCmds(g)...)
	cmd.AddCommand(newLinkStageCmd(g))
	cmd.AddCommand(newAccrueStageCmd(g))
	cmd.AddCommand(newNudgeStageCmds(g)...)
	cmd.AddCommand(newWalletStageCmd(g))
	return cmd
}

// runStage builds a stage, serves its admin endpoints and runs it until the
// command's context ends.
func runStage[S any](cmd *cobra.Command, cfg pipeline.Config, adminAddr string, reg *prometheus.Registry,
	codec pipeline.Codec[S], proc pipeline.Processor[S]) error {
	st, err := pipeline.NewStage[S](cfg, codec, proc)
	if err != nil {
		return usageError{err}
	}
	stopAdmin, err := serveAdmin(adminAddr, reg, pipeline.ReadyCheck{Name: "stage " + cfg.Name, Ready: st.Ready})
	if err != nil {
		return err
	}
	defer stopAdmin()
	return st.Run(cmd.Context())
}

// skippedCounter counts records that are neither clean nor rejected (a CDC
// update that changes nothing), so that every record is accounted for.
func skippedCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "ingest", Name: "skipped_total",
		Help: "Source records that map to no event (e.g. CDC updates that change nothing), by source and reason.",
	}, []string{"source", "reason"})
	reg.MustRegister(c)
	return c
}

// kafkaMetrics is the option that exports a Kafka client's own metrics
// (kprom) as accrue_kafka_* to reg; one client per registry.
func kafkaMetrics(reg *prometheus.Registry) kgo.Opt {
	return kgo.WithHooks(kprom.NewMetrics("accrue_kafka", kprom.Registerer(reg), kprom.Gatherer(reg)))
}
