package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/synth"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/accrue"
	"github.com/accrue/accrue/transforms/ingest"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/accrue/accrue/transforms/sanitize"
	"github.com/accrue/accrue/transforms/totals"
)

// The demo's topology, the product's ingest and linking flow on an
// embedded broker:
//
//	synth ─► raw.<source> ─► [ingest] ─► sales.canonical ─► [dedupe] ─► sales.clean ─► [totals] ─► rep.totals
//	                             │                             │              └──────► [link] ─► sales.credited
//	                             └─────────────┬───────────────┴────────────────────────┘
//	                                    sales.rejected
//	ref.* (reference data, loaded at start, some reps late) ─► reference tables of [link] and [accrue]
//	programs (one program, published at start) ─► [accrue]
//	sales.credited ─► [accrue] ─► accruals, attainment, payouts.payable; refused ─► accrue.rejected
//
// totals re-keys each clean sale by rep through totals.by-rep, its own
// repartition topic, and credits it when it reads it back. rep.totals is the
// demo's own topic: sales.credited is for canonical, linked sale events.
const (
	demoIngest    = "ingest"
	demoDedupe    = "dedupe"
	demoTotals    = "totals"
	demoCanonical = "sales.canonical"
	demoClean     = "sales.clean"
	demoRejected  = "sales.rejected"
	demoByRep     = "totals.by-rep"
	demoOutput    = "rep.totals"
	demoLink      = "link"
	demoCredited  = "sales.credited"
	demoAccrue    = "accrue"
	// demoAccrueRejected is the accrual stage's dead-letter topic.
	demoAccrueRejected = "accrue.rejected"
	demoPartitions     = 6
	demoTopReps        = 5
	// demoDupPerMille is synth's share of exact copies: 0.5%.
	demoDupPerMille = 5
	// demoDrain bounds the wait, once production stops, for the stages to
	// consume what was produced, and for the leaderboard to read what the
	// totals stage committed.
	demoDrain = 15 * time.Second
)

// demoFlags are the flags of accrue demo.
type demoFlags struct {
	duration   time.Duration
	rate       int
	seed       int64
	clickhouse string
	adminAddr  string
}

func newDemoCmd(_ *globals) *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole flow on an embedded broker with synthetic sales",
		Long: `Starts an in-process Kafka (kfake; --brokers is not used), creates accrue's
topics with 6 partitions, and produces synthetic sales from three systems
(crm-na in USD, erp-eu in EUR, pos-apac in JPY and SGD), each to its own topic
raw.<source>, at --rate records a second; about 1% are broken on purpose and
0.5% are sent twice. Four stages run them as the product does: "ingest" maps
each source's records (a mapping config per source) and checks them with the
gatekeepers into sales.canonical, "dedupe" passes the first copy of every
sale to sales.clean, the demo's "totals" counts each rep's sales and amounts
exactly once into rep.totals, and "link" credits each clean sale to its rep
as of the sale's date into sales.credited. Refused records and duplicates go
to sales.rejected with a reason code. A fifth stage, "accrue", applies each
credit under one example program (published to the programs topic at start:
USD, monthly, marginal bands of attainment) and writes accrual deltas to
accruals and statement snapshots to attainment; credits it refuses go to
accrue.rejected.

Reference data (reps, accounts, products, FX rates) is published to the ref.*
topics first; two reps are published only after 2s, so that their first
sales wait (parked) and are released when they arrive, and one rep never is:
its sales are rejected unknown_rep after 3s.

Every second it prints what was produced, what each stage consumed, emitted
and rejected, and the top reps (read back from rep.totals). It stops after
--duration, or on Ctrl-C, lets the stages catch up, prints a final summary
with exactly-once checks, and exits 0 (1 if a check fails).
/metrics, /healthz and /readyz are served on --admin-addr meanwhile.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.rate < 1 {
				return usageError{fmt.Errorf("--rate must be at least 1")}
			}
			if f.duration < 0 {
				return usageError{fmt.Errorf("--duration must not be negative")}
			}
			if !cmd.Flags().Changed("log-level") && os.Getenv("ACCRUE_LOG_LEVEL") == "" {
				// The summary is the demo's output; the runtime's info logs
				// would bury it.
				slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), &f)
		},
	}
	cmd.Flags().DurationVar(&f.duration, "duration", 0, "how long to produce (0: until Ctrl-C)")
	cmd.Flags().IntVar(&f.rate, "rate", 2000, "synthetic sales a second")
	cmd.Flags().Int64Var(&f.seed, "seed", 1, "seed of the synthetic sales (same seed, same sales)")
	cmd.Flags().StringVar(&f.clickhouse, "clickhouse", os.Getenv("ACCRUE_CLICKHOUSE_ADDR"),
		"ClickHouse native address to check, host:port (env ACCRUE_CLICKHOUSE_ADDR)")
	cmd.Flags().StringVar(&f.adminAddr, "admin-addr", envOr("ACCRUE_ADMIN_ADDR", "127.0.0.1:9464"),
		"listen address of /metrics, /healthz and /readyz (empty: none; env ACCRUE_ADMIN_ADDR)")
	return cmd
}

// runDemo runs the demo until ctx is cancelled or f.duration passes, then
// shuts down in this order: the producer stops and flushes; the stages
// consume what was produced (up to demoDrain) and leave their groups; the
// leaderboard reads what the totals stage committed; the final summary is
// printed; the admin server and the broker stop.
func runDemo(ctx context.Context, w io.Writer, f *demoFlags) error {
	gen := synth.New(f.seed, synth.WithDuplicateRate(demoDupPerMille))
	var sources, rawTopics []string
	for _, src := range gen.Sources() {
		sources = append(sources, src.Name)
		rawTopics = append(rawTopics, demoRawTopic(src.Name))
	}
	pipelines, gate, err := demoPipelines(sources)
	if err != nil {
		return err
	}

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return fmt.Errorf("embedded broker: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	if err := createDemoTopics(ctx, brokers, rawTopics); err != nil {
		return err
	}

	reg := newRegistry()
	met := pipeline.NewMetrics(reg)

	// Reference data first: the link stage must not start before its
	// tables hold what the topics hold.
	ref := newDemoReference(gen.Sources())
	if err := ref.publish(ctx, brokers); err != nil {
		return fmt.Errorf("reference data: %w", err)
	}
	global, err := reference.NewGlobal(reference.GlobalConfig{Brokers: brokers, Registerer: reg})
	if err != nil {
		return err
	}
	refCtx, stopRef := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRef()
	refTask := goTask(func() error { return global.Run(refCtx) })
	defer func() {
		stopRef()
		_ = refTask.wait()
	}()
	if err := global.WaitReady(ctx); err != nil {
		return fmt.Errorf("reference tables: %w", err)
	}
	progs, err := demoPrograms(ctx, brokers, reg)
	if err != nil {
		return err
	}
	progTask := goTask(func() error { return progs.Run(refCtx) })
	defer func() {
		stopRef()
		_ = progTask.wait()
	}()
	if err := progs.WaitReady(ctx); err != nil {
		return fmt.Errorf("programs: %w", err)
	}
	accrueMet := accrue.NewMetrics(reg)
	accrueProc, err := accrue.NewProcessor(accrue.Config{
		Tables: global.Tables(), Catalog: progs.Catalog(), Version: progs.Version,
		Overrides: accrue.TopicOverrides, Recompute: accrue.TopicRecompute, Accruals: accrue.TopicAccruals,
		Attainment: accrue.TopicAttainment, Nudges: accrue.TopicNudges, Awards: accrue.TopicAwards,
		Payable: accrue.TopicPayable, Retention: accrue.DefaultRetention, SweepInterval: accrue.DefaultSweepInterval,
		TickInterval: demoTick, Metrics: accrueMet,
	})
	if err != nil {
		return err
	}
	linkMet := link.NewMetrics(reg)
	linkProc, err := link.NewProcessor(link.Config{
		Linker: &link.Linker{Tables: global.Tables(), RequireProduct: true}, Deduper: gate.Deduper(),
		Output: demoCredited, ParkDeadline: demoParkDeadline, TickInterval: demoTick, Metrics: linkMet,
	})
	if err != nil {
		return err
	}
	var skipped atomic.Int64
	ingestProc := ingest.NewProcessor(pipelines, demoCanonical, nil)
	ingestProc.OnSkip = func(string, string) { skipped.Add(1) }
	ingestSt, err := pipeline.NewStage(pipeline.Config{
		Name: demoIngest, Brokers: brokers, Inputs: rawTopics, InstanceID: "demo", Metrics: met,
		Stateless: true, DeadLetter: demoRejected,
	}, pipeline.Int64Codec{}, ingestProc)
	if err != nil {
		return err
	}
	dedupeSt, err := pipeline.NewStage(pipeline.Config{
		Name: demoDedupe, Brokers: brokers, Inputs: []string{demoCanonical}, InstanceID: "demo", Metrics: met,
		DeadLetter: demoRejected,
	}, pipeline.Int64Codec{}, ingest.NewDedupe(gate.Deduper(), demoClean))
	if err != nil {
		return err
	}
	totalsSt, err := pipeline.NewStage(pipeline.Config{
		Name: demoTotals, Brokers: brokers, Inputs: []string{demoClean, demoByRep}, InstanceID: "demo", Metrics: met,
	}, totals.Codec{}, &totals.Processor{Output: demoOutput, ByRep: demoByRep})
	if err != nil {
		return err
	}
	linkSt, err := pipeline.NewStage(pipeline.Config{
		Name: demoLink, Brokers: brokers, Inputs: []string{demoClean}, InstanceID: "demo", Metrics: met,
		DeadLetter: demoRejected, TickInterval: demoTick,
	}, link.EntryCodec{}, linkProc)
	if err != nil {
		return err
	}
	accrueSt, err := pipeline.NewStage[accrue.Entry](pipeline.Config{
		Name: demoAccrue, Brokers: brokers, Inputs: []string{demoCredited, accrue.TopicOverrides, accrue.TopicRecompute},
		InstanceID: "demo", Metrics: met, DeadLetter: demoAccrueRejected, TickInterval: demoTick,
		Parallelism: runtime.GOMAXPROCS(0),
	}, accrue.EntryCodec{}, accrueProc)
	if err != nil {
		return err
	}
	adminLine := "admin: none (--admin-addr is empty)"
	stopAdmin, err := serveAdmin(f.adminAddr, reg,
		pipeline.ReadyCheck{Name: "stage " + demoIngest, Ready: ingestSt.Ready},
		pipeline.ReadyCheck{Name: "stage " + demoDedupe, Ready: dedupeSt.Ready},
		pipeline.ReadyCheck{Name: "stage " + demoTotals, Ready: totalsSt.Ready},
		pipeline.ReadyCheck{Name: "reference tables", Ready: global.Ready},
		pipeline.ReadyCheck{Name: "stage " + demoLink, Ready: linkSt.Ready},
		pipeline.ReadyCheck{Name: "programs", Ready: progs.Ready},
		pipeline.ReadyCheck{Name: "stage " + demoAccrue, Ready: accrueSt.Ready})
	switch {
	case err != nil:
		// The demo does not need it; a taken port must not stop it.
		adminLine = fmt.Sprintf("admin: none (%v; choose another --admin-addr)", err)
		stopAdmin = func() {}
	case strings.HasSuffix(f.adminAddr, ":0"):
		adminLine = fmt.Sprintf("admin: /metrics /healthz /readyz on a port the system chose (--admin-addr %s)", f.adminAddr)
	case f.adminAddr != "":
		adminLine = fmt.Sprintf("admin: http://%s/metrics  /healthz  /readyz", f.adminAddr)
	}
	defer stopAdmin()

	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	defer producer.Close()
	reader, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(demoOutput),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return fmt.Errorf("reader: %w", err)
	}
	defer reader.Close()

	board := &leaderboard{reps: make(map[string]totals.Totals)}
	sum := &demoSummary{w: w, gen: gen, met: met, reg: reg, skipped: &skipped, rawTopics: rawTopics, board: board,
		linkMet: linkMet, ref: ref}
	sum.header(f, gen.Sources(), clickHouseLine(f.clickhouse), adminLine)

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	if f.duration > 0 {
		runCtx, stopRun = context.WithTimeout(ctx, f.duration)
		defer stopRun()
	}
	// The stages and the reader outlive ctx: they must finish their work
	// after production stops.
	stageCtx, stopStages := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStages()
	readCtx, stopRead := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRead()

	stages := []struct {
		name string
		task *demoTask
	}{
		{demoIngest, goTask(func() error { return ingestSt.Run(stageCtx) })},
		{demoDedupe, goTask(func() error { return dedupeSt.Run(stageCtx) })},
		{demoTotals, goTask(func() error { return totalsSt.Run(stageCtx) })},
		{demoLink, goTask(func() error { return linkSt.Run(stageCtx) })},
		{demoAccrue, goTask(func() error { return accrueSt.Run(stageCtx) })},
	}
	// anyStageDone is closed when the first stage stops.
	anyStageDone := make(chan struct{})
	var closeOnce sync.Once
	for _, st := range stages {
		go func() {
			<-st.task.done
			closeOnce.Do(func() { close(anyStageDone) })
		}()
	}
	stageErr := func() error {
		for _, st := range stages {
			select {
			case <-st.task.done:
				return fmt.Errorf("stage %s stopped: %w", st.name, errOr(st.task.err, "without an error"))
			default:
			}
		}
		return nil
	}
	reading := goTask(func() error { return board.run(readCtx, reader) })
	sum.start = time.Now()
	producing := goTask(func() error { return gen.RunBySource(runCtx, producer, demoRawTopic, f.rate) })
	// The late reps arrive while sales flow (or, on an early stop, before
	// the final figures), as an operator's late load would.
	late := goTask(func() error {
		select {
		case <-time.After(demoLateAfter):
		case <-runCtx.Done():
		}
		return ref.publishLate(context.WithoutCancel(ctx), brokers)
	})

	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	var fatal error
	for fatal == nil && runCtx.Err() == nil {
		select {
		case <-runCtx.Done():
		case <-anyStageDone:
			fatal = stageErr()
		case <-producing.done:
			fatal = fmt.Errorf("producer stopped: %w", errOr(producing.err, "without an error"))
		case <-reading.done:
			fatal = fmt.Errorf("reading %s stopped: %w", demoOutput, errOr(reading.err, "without an error"))
		case <-ticker.C:
			sum.tick()
		}
	}
	ticker.Stop()
	stopRun()
	if ctx.Err() != nil {
		defer quitOnSecondSignal()()
		fmt.Fprintln(w, "\nstopping (Ctrl-C again to quit without the final summary)")
	}
	perr := producing.wait()
	sum.producedFor = time.Since(sum.start)
	if fatal != nil {
		return errors.Join(fatal, perr)
	}
	if perr != nil {
		return fmt.Errorf("producer: %w", perr)
	}
	if err := late.wait(); err != nil {
		return fmt.Errorf("late reference data: %w", err)
	}

	// Let every stage consume everything its upstream committed before
	// stopping them, so that the final figures add up. The figures are read
	// upstream first: once a stage has caught up, its output is final.
	produced := gen.Stats().Produced()
	caughtUp := waitUntil(demoDrain, anyStageDone, func() bool {
		return sum.consumedRaw() >= produced &&
			pipeline.Count(met.RecordsIn(demoDedupe, demoCanonical)) >= pipeline.Count(met.RecordsOut(demoIngest, demoCanonical)) &&
			pipeline.Count(met.RecordsIn(demoTotals, demoClean)) >= pipeline.Count(met.RecordsOut(demoDedupe, demoClean)) &&
			pipeline.Count(met.RecordsIn(demoTotals, demoByRep)) >= pipeline.Count(met.RecordsOut(demoTotals, demoByRep)) &&
			sum.linkSettled() &&
			pipeline.Count(met.RecordsIn(demoAccrue, demoCredited)) >= pipeline.Count(met.RecordsOut(demoLink, demoCredited))
	})
	stopStages()
	var serr []error
	for _, st := range stages {
		if err := st.task.wait(); err != nil {
			serr = append(serr, fmt.Errorf("stage %s: %w", st.name, err))
		}
	}
	if err := errors.Join(serr...); err != nil {
		return err
	}
	committedOut := pipeline.Count(met.RecordsOut(demoTotals, demoOutput))
	readAll := waitUntil(demoDrain, reading.done, func() bool { return board.seen() >= committedOut })
	stopRead()
	if err := reading.wait(); err != nil {
		return fmt.Errorf("reading %s: %w", demoOutput, err)
	}
	book, bookAll, err := readAccrualBook(context.WithoutCancel(ctx), brokers,
		pipeline.Count(met.RecordsOut(demoAccrue, accrue.TopicAccruals)), pipeline.Count(met.RecordsOut(demoAccrue, accrue.TopicAttainment)))
	if err != nil {
		return err
	}
	sum.book = book
	return sum.final(caughtUp && readAll && bookAll)
}

// createDemoTopics creates the catalogue's topics, the sources' raw topics,
// the stages' changelog and dead-letter topics and the totals stage's own
// topics.
func createDemoTopics(ctx context.Context, brokers, rawTopics []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	topics := append([]pipeline.Topic(nil), pipeline.Topics...)
	for _, st := range []string{demoDedupe, demoTotals} {
		topics = append(topics, pipeline.StageTopics(st)...)
	}
	// link.changelog, sales.credited and the ref.* topics are in the
	// catalogue.
	for _, t := range rawTopics {
		topics = append(topics, pipeline.Topic{Name: t, Doc: "records of one source as it sends them (demo)"})
	}
	topics = append(topics,
		pipeline.Topic{Name: demoByRep, Doc: "clean sales keyed by rep, the totals stage's repartition topic (demo)"},
		pipeline.Topic{Name: demoOutput, Doc: "running totals per rep (demo)"})
	if _, err := pipeline.CreateTopics(ctx, kadm.NewClient(cl), topics, demoPartitions, -1); err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	return nil
}

// clickHouseLine checks the ClickHouse server at addr and says what it
// found. The demo does not write to ClickHouse yet, so a server that cannot
// be reached is a warning, not an error.
func clickHouseLine(addr string) string {
	if addr == "" {
		return "ClickHouse: not configured (deploy/local/stack.sh up clickhouse)"
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: 3 * time.Second, ReadTimeout: 5 * time.Second})
	if err == nil {
		defer conn.Close()
		var v *clickhouse.ServerVersion
		if v, err = conn.ServerVersion(); err == nil {
			return fmt.Sprintf("ClickHouse: %s, server %d.%d.%d (the sink comes in a later change)",
				addr, v.Version.Major, v.Version.Minor, v.Version.Patch)
		}
	}
	return fmt.Sprintf("ClickHouse: warning: %s unreachable, going on without it: %v", addr, err)
}

// demoTask is a goroutine whose end can be selected on any number of times.
type demoTask struct {
	done chan struct{}
	err  error
}

func goTask(fn func() error) *demoTask {
	t := &demoTask{done: make(chan struct{})}
	go func() {
		defer close(t.done)
		t.err = fn()
	}()
	return t
}

func (t *demoTask) wait() error {
	<-t.done
	return t.err
}

func errOr(err error, text string) error {
	if err != nil {
		return err
	}
	return errors.New(text)
}

// waitUntil polls cond every 50ms until it holds (true), timeout passes or
// stop is closed (false).
func waitUntil(timeout time.Duration, stop <-chan struct{}, cond func() bool) bool {
	deadline := time.After(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			return false
		case <-stop:
			return cond()
		case <-tick.C:
		}
	}
	return true
}

// quitOnSecondSignal makes an interrupt during shutdown end the process at
// once (status 130); the returned function undoes it.
func quitOnSecondSignal() func() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-ch; ok {
			fmt.Fprintln(os.Stderr, "accrue demo: interrupted again; quitting")
			os.Exit(130)
		}
	}()
	return func() {
		signal.Stop(ch)
		close(ch)
	}
}

// leaderboard holds the latest totals of every rep as read from the stage's
// output by a read_committed consumer of its own, so that it shows what
// downstream readers see, not the stage's uncommitted state.
type leaderboard struct {
	mu          sync.Mutex
	reps        map[string]totals.Totals
	records     int64
	undecodable int64
}

// run consumes until ctx is cancelled; it returns nil then.
func (b *leaderboard) run(ctx context.Context, cl *kgo.Client) error {
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			slog.Warn("leaderboard: fetch error", "topic", t, "partition", p, "err", err)
		})
		b.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			t, err := totals.Codec{}.Decode(r.Value)
			if err != nil {
				b.undecodable++
				return
			}
			b.reps[t.RepID] = t
			b.records++
		})
		b.mu.Unlock()
	}
}

func (b *leaderboard) seen() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.records + b.undecodable
}

// standings returns the n reps with the most sales (ties by rep id), the
// number of records read, and the sum of every rep's sales count.
func (b *leaderboard) standings(n int) (top []totals.Totals, records, sales int64) {
	b.mu.Lock()
	all := make([]totals.Totals, 0, len(b.reps))
	for _, t := range b.reps {
		all = append(all, t)
		sales += t.Sales
	}
	records = b.records
	b.mu.Unlock()
	sort.Slice(all, func(i, j int) bool {
		if all[i].Sales != all[j].Sales {
			return all[i].Sales > all[j].Sales
		}
		return all[i].RepID < all[j].RepID
	})
	return all[:min(n, len(all))], records, sales
}

// demoSummary prints the demo's header, its ticks and its final block.
type demoSummary struct {
	w         io.Writer
	gen       *synth.Generator
	met       *pipeline.Metrics
	reg       prometheus.Gatherer
	skipped   *atomic.Int64
	rawTopics []string
	board     *leaderboard
	linkMet   *link.Metrics
	ref       *demoReference
	// book is what the accruals and attainment topics hold, read once the
	// stages have stopped.
	book *accrualBook

	start       time.Time
	producedFor time.Duration
	last        demoSnapshot
}

// demoSnapshot is the figures of one tick.
type demoSnapshot struct {
	at  time.Duration
	gen synth.Stats
	// ingest
	consumed, canonical, ingestRejected, skipped int64
	// dedupe
	dedupeIn, clean, duplicates int64
	// totals
	totalsIn, byRepOut, byRepIn, credited, totalsRejected int64
	// link
	linkIn, linkCredits, linkRejected, parked, released int64
	// accrue
	accrueIn, accrueApplied, accrueRejected, accruals, snapshots int64
	// rejects by stage and reason; rejects lists every reason on
	// sales.rejected.
	byStage map[string]map[string]int64
	rejects []reasonCount
	txns    map[string][2]int64 // stage: committed, aborted
	top     []totals.Totals
	read    int64
	// sumOfRepCounts is the sum of every rep's sales count on rep.totals.
	sumOfRepCounts int64
}

type reasonCount struct {
	reason string
	n      int64
}

// consumedRaw is what the ingest stage consumed and committed, all sources.
func (s *demoSummary) consumedRaw() int64 {
	var n int64
	for _, t := range s.rawTopics {
		n += pipeline.Count(s.met.RecordsIn(demoIngest, t))
	}
	return n
}

// stageRejects reads the stages' rejects by reason from the registry, so
// that a reason the demo does not expect shows too.
func (s *demoSummary) stageRejects() map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	mfs, err := s.reg.Gather()
	if err != nil {
		slog.Warn("demo: gather metrics", "err", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "accrue_stage_rejects_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var stage, reason string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "stage":
					stage = l.GetValue()
				case "reason":
					reason = l.GetValue()
				}
			}
			if n := int64(m.GetCounter().GetValue()); n > 0 {
				if out[stage] == nil {
					out[stage] = map[string]int64{}
				}
				out[stage][reason] += n
			}
		}
	}
	return out
}

func sumOf(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func (s *demoSummary) take() demoSnapshot {
	// Downstream figures first, so that within a snapshot no stage seems to
	// have consumed more than its upstream emitted.
	sn := demoSnapshot{at: time.Since(s.start), txns: map[string][2]int64{}}
	sn.top, sn.read, sn.sumOfRepCounts = s.board.standings(demoTopReps)
	sn.parked, sn.released = s.linkMet.Parked(), pipeline.Count(s.linkMet.Released())
	sn.accruals = pipeline.Count(s.met.RecordsOut(demoAccrue, accrue.TopicAccruals))
	sn.snapshots = pipeline.Count(s.met.RecordsOut(demoAccrue, accrue.TopicAttainment))
	sn.accrueIn = pipeline.Count(s.met.RecordsIn(demoAccrue, demoCredited))
	sn.linkCredits = pipeline.Count(s.met.RecordsOut(demoLink, demoCredited))
	sn.linkIn = pipeline.Count(s.met.RecordsIn(demoLink, demoClean))
	sn.credited = pipeline.Count(s.met.RecordsOut(demoTotals, demoOutput))
	sn.byRepIn = pipeline.Count(s.met.RecordsIn(demoTotals, demoByRep))
	sn.byRepOut = pipeline.Count(s.met.RecordsOut(demoTotals, demoByRep))
	sn.totalsIn = pipeline.Count(s.met.RecordsIn(demoTotals, demoClean))
	sn.clean = pipeline.Count(s.met.RecordsOut(demoDedupe, demoClean))
	sn.dedupeIn = pipeline.Count(s.met.RecordsIn(demoDedupe, demoCanonical))
	sn.canonical = pipeline.Count(s.met.RecordsOut(demoIngest, demoCanonical))
	sn.skipped = s.skipped.Load()
	sn.consumed = s.consumedRaw()
	sn.gen = s.gen.Stats()
	sn.byStage = s.stageRejects()
	sn.ingestRejected = sumOf(sn.byStage[demoIngest])
	sn.duplicates = sn.byStage[demoDedupe][sanitize.ReasonDuplicate]
	sn.totalsRejected = sumOf(sn.byStage[demoTotals])
	sn.linkRejected = sumOf(sn.byStage[demoLink])
	sn.accrueRejected = sumOf(sn.byStage[demoAccrue])
	sn.accrueApplied = s.creditsApplied()
	all := map[string]int64{}
	for _, st := range []string{demoIngest, demoDedupe, demoLink} {
		for r, n := range sn.byStage[st] {
			all[r] += n
		}
	}
	for r, n := range all {
		sn.rejects = append(sn.rejects, reasonCount{r, n})
	}
	sort.Slice(sn.rejects, func(i, j int) bool { return sn.rejects[i].reason < sn.rejects[j].reason })
	for _, st := range []string{demoIngest, demoDedupe, demoTotals, demoLink, demoAccrue} {
		sn.txns[st] = [2]int64{pipeline.Count(s.met.Transactions(st, "committed")), pipeline.Count(s.met.Transactions(st, "aborted"))}
	}
	return sn
}

func (s *demoSummary) header(f *demoFlags, sources []synth.Source, clickHouse, admin string) {
	until := "until Ctrl-C"
	if f.duration > 0 {
		until = "for " + f.duration.String() + " (Ctrl-C stops sooner)"
	}
	srcs := make([]string, len(sources))
	for i, src := range sources {
		srcs[i] = src.Name + " (" + strings.Join(src.Currencies, ", ") + ")"
	}
	fmt.Fprintf(s.w, "accrue demo: stages %s → %s → %s, %s and %s on an embedded Kafka (kfake, %d partitions), %s sales/s, seed %d, %s\n",
		demoIngest, demoDedupe, demoTotals, demoLink, demoAccrue, demoPartitions, thousands(int64(f.rate)), f.seed, until)
	fmt.Fprintf(s.w, "sources: %s, each to raw.<source>; about 1%% broken on purpose, 0.5%% sent twice\n", strings.Join(srcs, " · "))
	fmt.Fprintf(s.w, "flow: raw.* → %s → %s → %s → %s → %s (via %s) → %s, and %s → %s → %s; refused → %s\n",
		demoIngest, demoCanonical, demoDedupe, demoClean, demoTotals, demoByRep, demoOutput, demoClean, demoLink, demoCredited, demoRejected)
	fmt.Fprintln(s.w, s.ref.line())
	fmt.Fprintln(s.w, clickHouse)
	fmt.Fprintln(s.w, admin)
}

// tick prints the figures of the last second.
func (s *demoSummary) tick() {
	sn := s.take()
	dt := sn.at - s.last.at
	fmt.Fprintf(s.w, "\n[%s] ", mmss(sn.at))
	s.body(sn, perSecond(sn.gen.Produced()-s.last.gen.Produced(), dt), perSecond(sn.consumed-s.last.consumed, dt), "        ")
	s.last = sn
}

// body prints the lines a tick and the final block share; the first line
// continues a prefix already written, the others start with indent.
func (s *demoSummary) body(sn demoSnapshot, producedRate, consumedRate int64, indent string) {
	var bySource []string
	for _, src := range sn.gen.Sources {
		bySource = append(bySource, src.Name+" "+thousands(src.Produced))
	}
	produced := sn.gen.Produced()
	txns := func(st string) string {
		t := sn.txns[st]
		return fmt.Sprintf("%s txns (%s aborted)", thousands(t[0]), thousands(t[1]))
	}
	fmt.Fprintf(s.w, "produced %10s rec %8s/s   %s\n", thousands(produced), thousands(producedRate), strings.Join(bySource, " · "))
	fmt.Fprintf(s.w, "%singest   %10s in  %8s/s   → %s canonical, %s rejected, %s skipped · %s · lag %s\n", indent,
		thousands(sn.consumed), thousands(consumedRate), thousands(sn.canonical), thousands(sn.ingestRejected),
		thousands(sn.skipped), txns(demoIngest), thousands(max(0, produced-sn.consumed)))
	fmt.Fprintf(s.w, "%sdedupe   %10s in               → %s clean, %s duplicates · %s\n", indent,
		thousands(sn.dedupeIn), thousands(sn.clean), thousands(sn.duplicates), txns(demoDedupe))
	fmt.Fprintf(s.w, "%stotals   %10s in               → %s by rep → %s credited to %s, %s rejected · %s\n", indent,
		thousands(sn.totalsIn), thousands(sn.byRepOut), thousands(sn.credited), demoOutput, thousands(sn.totalsRejected), txns(demoTotals))
	fmt.Fprintf(s.w, "%slink     %10s in               → %s credits to %s, %s rejected · %s parked now, %s released · %s\n", indent,
		thousands(sn.linkIn), thousands(sn.linkCredits), demoCredited, thousands(sn.linkRejected), thousands(sn.parked),
		thousands(sn.released), txns(demoLink))
	fmt.Fprintf(s.w, "%saccrue   %10s in               → %s applied, %s rejected · %s deltas to %s, %s snapshots to %s · %s\n", indent,
		thousands(sn.accrueIn), thousands(sn.accrueApplied), thousands(sn.accrueRejected), thousands(sn.accruals),
		accrue.TopicAccruals, thousands(sn.snapshots), accrue.TopicAttainment, txns(demoAccrue))
	reasons := "none"
	var rejected int64
	if len(sn.rejects) > 0 {
		parts := make([]string, len(sn.rejects))
		for i, r := range sn.rejects {
			parts[i] = r.reason + " " + thousands(r.n)
			rejected += r.n
		}
		reasons = strings.Join(parts, " · ")
	}
	fmt.Fprintf(s.w, "%srejected %10s rec             → %s: %s\n", indent, thousands(rejected), demoRejected, reasons)
	if len(sn.top) == 0 {
		fmt.Fprintf(s.w, "%stop reps     (nothing on %s yet)\n", indent, demoOutput)
	}
	for i, t := range sn.top {
		label := "         "
		if i == 0 {
			label = "top reps "
		}
		fmt.Fprintf(s.w, "%s%s%d. %-5s %6s sales   %s\n", indent, label, i+1, t.RepID, thousands(t.Sales), formatAmounts(t))
	}
}

// final prints the last figures and the exactly-once checks. complete says
// whether the stages consumed everything produced and the leaderboard read
// everything the totals stage committed; a check that fails then is an
// error.
func (s *demoSummary) final(complete bool) error {
	sn := s.take()
	fmt.Fprintf(s.w, "\n── final, after %s %s\n", sn.at.Round(100*time.Millisecond), strings.Repeat("─", 50))
	fmt.Fprint(s.w, "         ")
	s.body(sn, perSecond(sn.gen.Produced(), s.producedFor), perSecond(sn.consumed, sn.at), "         ")

	produced := sn.gen.Produced()
	// The dead letters of ingest must be exactly the records synth broke,
	// by the reason the mapping gives each defect.
	want := map[string]int64{}
	for d, reason := range demoDefectReasons {
		if n := sn.gen.Defects[d]; n > 0 {
			want[reason] += n
		}
	}
	deadMatch := len(sn.byStage[demoIngest]) == len(want)
	for r, n := range want {
		deadMatch = deadMatch && sn.byStage[demoIngest][r] == n
	}
	wantText := make([]string, 0, len(want))
	for _, r := range slices.Sorted(maps.Keys(want)) {
		wantText = append(wantText, r+" "+thousands(want[r]))
	}
	valid := sn.gen.Defects[synth.DefectNone] - sn.gen.Duplicates
	checks := []struct {
		ok   bool
		text string
	}{
		{sn.consumed == produced,
			fmt.Sprintf("ingest consumed every produced record in committed transactions: %s of %s", thousands(sn.consumed), thousands(produced))},
		{sn.consumed == sn.canonical+sn.ingestRejected+sn.skipped,
			fmt.Sprintf("ingest: consumed %s = canonical %s + rejected %s + skipped %s",
				thousands(sn.consumed), thousands(sn.canonical), thousands(sn.ingestRejected), thousands(sn.skipped))},
		{deadMatch, fmt.Sprintf("dead letters of ingest = records broken on purpose: %s", strings.Join(wantText, ", "))},
		{sn.dedupeIn == sn.canonical && sn.canonical == sn.clean+sn.duplicates && sn.duplicates == sn.gen.Duplicates &&
			len(sn.byStage[demoDedupe]) <= 1,
			fmt.Sprintf("dedupe: canonical %s = clean %s + duplicates %s (copies sent: %s)",
				thousands(sn.canonical), thousands(sn.clean), thousands(sn.duplicates), thousands(sn.gen.Duplicates))},
		{sn.totalsIn == sn.clean && sn.byRepOut == sn.clean && sn.byRepIn == sn.clean && sn.credited == sn.clean &&
			sn.read == sn.credited && sn.sumOfRepCounts == sn.clean && sn.clean == valid && sn.totalsRejected == 0,
			fmt.Sprintf("totals: reps' sales counts on %s add up to clean %s = valid records produced, less copies: %s",
				demoOutput, thousands(sn.sumOfRepCounts), thousands(valid))},
		s.linkBooks(sn),
		s.referenceCheck(sn),
		s.accrualBooks(sn),
	}
	failed := 0
	for i, c := range checks {
		mark := "✓"
		if !c.ok {
			mark = "✗"
			failed++
		}
		label := "         "
		if i == 0 {
			label = "checks   "
		}
		fmt.Fprintf(s.w, "         %s%s %s\n", label, mark, c.text)
	}
	switch {
	case failed == 0:
		return nil
	case !complete:
		fmt.Fprintf(s.w, "         (the stages had not caught up within %s of the end; the checks are partial)\n", demoDrain)
		return nil
	default:
		return fmt.Errorf("%d of %d exactly-once checks failed", failed, len(checks))
	}
}

func perSecond(n int64, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(float64(n) / d.Seconds())
}

func mmss(d time.Duration) string {
	sec := int64(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%02d:%02d", sec/60, sec%60)
}

// count writes n with thousands separators: 1,234,567.
func thousands(n int64) string {
	return groupThousands(strconv.FormatInt(n, 10))
}

func groupThousands(digits string) string {
	sign := ""
	if strings.HasPrefix(digits, "-") {
		sign, digits = "-", digits[1:]
	}
	if len(digits) <= 3 {
		return sign + digits
	}
	var b strings.Builder
	b.WriteString(sign)
	head := len(digits) % 3
	if head > 0 {
		b.WriteString(digits[:head])
	}
	for i := head; i < len(digits); i += 3 {
		if b.Len() > len(sign) {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// amounts writes a rep's amounts by currency, exactly (at the scale of its
// sales), with thousands separators: "JPY 1,234,567 · SGD 12,345.60".
func formatAmounts(t totals.Totals) string {
	curs := make([]string, 0, len(t.Amounts))
	for c := range t.Amounts {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	parts := make([]string, len(curs))
	for i, c := range curs {
		parts[i] = c + " " + formatMoney(t.Amounts[c])
	}
	return strings.Join(parts, " · ")
}

func formatMoney(d decimal.Decimal) string {
	whole, frac, dot := strings.Cut(d.StringFixed(max(0, -d.Exponent())), ".")
	if dot {
		return groupThousands(whole) + "." + frac
	}
	return groupThousands(whole)
}
