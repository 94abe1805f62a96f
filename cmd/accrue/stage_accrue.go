package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/accrue"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/reference"
)

func newAccrueStageCmd(g *globals) *cobra.Command {
	var f stageFlags
	var input, overrides, recompute, accruals, attainment, nudges, awards, payable, deadLetter string
	var name, programsTopic, refPrefix string
	var retention, sweep, tick, idleAdvance time.Duration
	var parallelism int
	cmd := &cobra.Command{
		Use:   "accrue",
		Short: "Compute accruals under the published programs: accruals, attainment, nudges, awards, payouts.payable",
		Long: `The keyed stage after linking. It consumes the credits of --input (keyed by
the recipient's rep_id, as 'accrue stage link' writes them), its own override
records (--overrides, keyed by manager) and recompute runs (--recompute,
written by 'accrue recompute'), all three with the same partition count, and
applies each credit with the accrual engine (docs/accrual.md) to the rep's
state: measures, tiers, caps, spiffs, clawbacks, overrides. For each it
emits, in one transaction with its state and offsets:

  --accruals    the change of the rep's rounded earned, with a trace
  --attainment  the rep's statement, versioned per program, period and rep
  --nudges, --awards
  --payable     the accrual's amount as payable, the accrual id as idempotency key
  --overrides   what the rep's managers earn on it, keyed by manager

An input the engine refuses (fx_rate_missing, return_exceeds_original,
already_cancelled, unknown_original, unknown_rep, expression_failed, ...)
goes to --dead-letter and changes nothing.

Every instance reads the whole programs topic and the reference topics
<ref-prefix>reps, products, accounts, fx and identities before it processes
any record: /readyz reports "programs" or "reference tables" until then.
A program published while the stage runs applies to the credits processed
after it arrives. Sales and periods are kept --retention in event time,
swept every --sweep-interval.

Time-based nudges (inactivity, period_ending) fire in event time: each
partition's watermark is the highest event time of the credits it applied,
kept in its state. With --idle-advance, a partition that applied no credit
for that long moves its watermark on by the wall-clock time elapsed (at its
ticks, at most once per --idle-advance), so that the timers of partitions
nobody sells on fire too; off by default, so that event time is the credits'
alone and a replay fires the same timers. On a clean stop it prints its owned state as
one JSON line: {"state_keys":…,"periods":…,"sales":…}.

Shutdown order: the stage ends its batch and leaves its group, then the
programs and the reference tables stop following their topics, then the
admin server stops.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if retention <= 0 || sweep <= 0 || tick <= 0 {
				return usageError{errors.New("--retention, --sweep-interval and --tick must be positive")}
			}
			if idleAdvance < 0 {
				return usageError{errors.New("--idle-advance cannot be negative (0 turns it off)")}
			}
			reg := newRegistry()
			global, err := reference.NewGlobal(reference.GlobalConfig{Brokers: g.brokerList(), ClientOpts: g.kafkaOpts(), Topics: refTopics(refPrefix),
				Registerer: reg})
			if err != nil {
				return usageError{err}
			}
			progs, err := accrue.NewPrograms(accrue.ProgramsConfig{Brokers: g.brokerList(), ClientOpts: g.kafkaOpts(), Topic: programsTopic, Registerer: reg})
			if err != nil {
				return usageError{err}
			}
			cfg := f.config(g, name, []string{input, overrides, recompute}, reg)
			cfg.DeadLetter, cfg.TickInterval, cfg.Parallelism = deadLetter, tick, parallelism

			ctx := cmd.Context()
			followCtx, stopFollowing := context.WithCancel(context.WithoutCancel(ctx))
			done := make(chan error, 2)
			go func() { done <- global.Run(followCtx) }()
			go func() { done <- progs.Run(followCtx) }()
			defer func() {
				stopFollowing()
				<-done
				<-done
			}()

			// The processor builds its engine of the catalog at once: the
			// admin server answers meanwhile, not ready.
			var running atomic.Pointer[pipeline.Stage[accrue.Entry]]
			stopAdmin, err := serveAdmin(f.adminAddr, reg,
				pipeline.ReadyCheck{Name: "reference tables", Ready: global.Ready},
				pipeline.ReadyCheck{Name: "programs", Ready: progs.Ready},
				pipeline.ReadyCheck{Name: "stage " + name, Ready: func() bool { st := running.Load(); return st != nil && st.Ready() }})
			if err != nil {
				return err
			}
			defer stopAdmin()
			for _, w := range []interface{ WaitReady(context.Context) error }{global, progs} {
				if err := w.WaitReady(ctx); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
			}
			proc, err := accrue.NewProcessor(accrue.Config{
				Tables: global.Tables(), Catalog: progs.Catalog(), Version: progs.Version,
				Overrides: overrides, Recompute: recompute, Accruals: accruals, Attainment: attainment, Nudges: nudges, Awards: awards,
				Payable: payable, Retention: retention, SweepInterval: sweep, TickInterval: tick, IdleAdvance: idleAdvance,
				Metrics: accrue.NewMetrics(reg),
			})
			if err != nil {
				return usageError{err}
			}
			slog.Info("engine built", "programs", proc.Engine().Programs())
			st, err := pipeline.NewStage[accrue.Entry](cfg, accrue.EntryCodec{}, proc)
			if err != nil {
				return usageError{err}
			}
			running.Store(st)
			if err := st.Run(ctx); err != nil {
				return err
			}
			var keys, periods, sales int64
			st.EachState(func(_ int32, k string, _ accrue.Entry) {
				keys++
				switch {
				case strings.HasPrefix(k, "p/"):
					periods++
				case strings.HasPrefix(k, "s/"):
					sales++
				}
			})
			slog.Info("stage stopped", "stage", name, "state_keys", keys, "periods", periods, "sales", sales)
			return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]int64{"state_keys": keys, "periods": periods, "sales": sales})
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.IntVar(&parallelism, "parallelism", runtime.GOMAXPROCS(0), "partitions of a batch processed at once, each on a goroutine of its own (default: the processors Go may use)")
	fl.StringVar(&input, "input", accrue.TopicCredits, "topic of credits, keyed by rep_id")
	fl.StringVar(&overrides, "overrides", accrue.TopicOverrides, "the stage's topic of override records, keyed by manager (input and output)")
	fl.StringVar(&recompute, "recompute", accrue.TopicRecompute, "topic of recompute runs, written by 'accrue recompute' (input)")
	fl.StringVar(&accruals, "accruals", accrue.TopicAccruals, "topic for accrual deltas")
	fl.StringVar(&attainment, "attainment", accrue.TopicAttainment, "topic for statement snapshots")
	fl.StringVar(&nudges, "nudges", accrue.TopicNudges, "topic for nudges")
	fl.StringVar(&awards, "awards", accrue.TopicAwards, "topic for badges awarded")
	fl.StringVar(&payable, "payable", accrue.TopicPayable, "topic for payable amounts")
	fl.StringVar(&deadLetter, "dead-letter", "accrue.rejected", "topic for inputs the engine refuses")
	fl.StringVar(&name, "name", "accrue", "stage name (group accrue-<name>, state topic <name>.changelog)")
	fl.StringVar(&programsTopic, "programs-topic", program.Topic, "compacted topic of published programs")
	fl.StringVar(&refPrefix, "ref-prefix", "ref.", "prefix of the reference topics: <prefix>reps, <prefix>products, ...")
	fl.DurationVar(&retention, "retention", accrue.DefaultRetention, "how long (event time) sales and periods are kept for late returns, cancels and adjustments")
	fl.DurationVar(&sweep, "sweep-interval", accrue.DefaultSweepInterval, "how often each partition's state is swept of what the retention left behind")
	fl.DurationVar(&tick, "tick", pipeline.DefaultTickInterval, "how often partitions without new records are ticked (sweeps, timers)")
	fl.DurationVar(&idleAdvance, "idle-advance", 0, "move the event-time watermark of a partition that applied no credit for this long on by the wall-clock time elapsed, so its timers fire (0: off)")
	return cmd
}
