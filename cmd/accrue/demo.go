package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/synth"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/totals"
)

// The demo's topology: synth → sales.raw → stage totals → rep.totals, with
// the stage's dead letters on totals.rejected. rep.totals is the demo's own
// topic: sales.credited is for canonical, linked sale events.
const (
	demoStage      = "totals"
	demoInput      = "sales.raw"
	demoOutput     = "rep.totals"
	demoPartitions = 6
	demoTopReps    = 5
	// demoDrain bounds the wait, once production stops, for the stage to
	// consume what was produced, and for the leaderboard to read what the
	// stage committed.
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
(crm-na in USD, erp-eu in EUR, pos-apac in JPY and SGD) to sales.raw at --rate
records a second; about 1% are broken on purpose. The "totals" stage counts
each rep's sales and amounts exactly once and writes every rep's new totals to
rep.totals; broken records go to totals.rejected with a reason code.

Every second it prints what was produced, consumed, credited and rejected,
the transactions and the top reps (read back from rep.totals). It stops
after --duration, or on Ctrl-C, lets the stage catch up, prints a final
summary with exactly-once checks, and exits 0 (1 if a check fails).
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
// shuts down in this order: the producer stops and flushes; the stage
// consumes what was produced (up to demoDrain) and leaves its group; the
// leaderboard reads what the stage committed; the final summary is printed;
// the admin server and the broker stop.
func runDemo(ctx context.Context, w io.Writer, f *demoFlags) error {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return fmt.Errorf("embedded broker: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	if err := createDemoTopics(ctx, brokers); err != nil {
		return err
	}

	reg := newRegistry()
	met := pipeline.NewMetrics(reg)
	st, err := pipeline.NewStage(pipeline.Config{
		Name: demoStage, Brokers: brokers, Inputs: []string{demoInput}, InstanceID: "demo", Metrics: met,
	}, totals.Codec{}, &totals.Processor{Output: demoOutput})
	if err != nil {
		return err
	}
	adminLine := "admin: none (--admin-addr is empty)"
	stopAdmin, err := serveAdmin(f.adminAddr, reg, pipeline.ReadyCheck{Name: "stage " + demoStage, Ready: st.Ready})
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

	gen := synth.New(f.seed)
	board := &leaderboard{reps: make(map[string]totals.Totals)}
	sum := &demoSummary{w: w, gen: gen, met: met, board: board}
	sum.header(f, gen.Sources(), clickHouseLine(f.clickhouse), adminLine)

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	if f.duration > 0 {
		runCtx, stopRun = context.WithTimeout(ctx, f.duration)
		defer stopRun()
	}
	// The stage and the reader outlive ctx: they must finish their work
	// after production stops.
	stageCtx, stopStage := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStage()
	readCtx, stopRead := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRead()

	stage := goTask(func() error { return st.Run(stageCtx) })
	reading := goTask(func() error { return board.run(readCtx, reader) })
	sum.start = time.Now()
	producing := goTask(func() error { return gen.Run(runCtx, producer, demoInput, f.rate) })

	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	var fatal error
	for fatal == nil && runCtx.Err() == nil {
		select {
		case <-runCtx.Done():
		case <-stage.done:
			fatal = fmt.Errorf("stage %s stopped: %w", demoStage, errOr(stage.err, "without an error"))
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

	// Let the stage consume everything that was produced before stopping
	// it, so that the final figures add up.
	produced := gen.Stats().Produced()
	caughtUp := waitUntil(demoDrain, stage.done, func() bool {
		return counterValue(met.RecordsIn(demoStage, demoInput)) >= produced
	})
	stopStage()
	if err := stage.wait(); err != nil {
		return fmt.Errorf("stage %s: %w", demoStage, err)
	}
	committedOut := counterValue(met.RecordsOut(demoStage, demoOutput))
	readAll := waitUntil(demoDrain, reading.done, func() bool { return board.seen() >= committedOut })
	stopRead()
	if err := reading.wait(); err != nil {
		return fmt.Errorf("reading %s: %w", demoOutput, err)
	}
	return sum.final(caughtUp && readAll)
}

// createDemoTopics creates the catalogue's topics and the totals stage's
// changelog and dead-letter topics.
func createDemoTopics(ctx context.Context, brokers []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	topics := append(append([]pipeline.Topic(nil), pipeline.Topics...), pipeline.StageTopics(demoStage)...)
	topics = append(topics, pipeline.Topic{Name: demoOutput, Doc: "running totals per rep (demo)"})
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

// counterValue reads a counter without the test utilities. The figures it
// reads are record counts, exact in a float64 far beyond any demo's size.
func counterValue(c prometheus.Counter) int64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return int64(m.GetCounter().GetValue())
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
	w     io.Writer
	gen   *synth.Generator
	met   *pipeline.Metrics
	board *leaderboard

	start       time.Time
	producedFor time.Duration
	last        demoSnapshot
}

// demoSnapshot is the figures of one tick.
type demoSnapshot struct {
	at                   time.Duration
	gen                  synth.Stats
	consumed, credited   int64
	rejected             int64
	rejects              []reasonCount
	committed, aborted   int64
	top                  []totals.Totals
	read, sumOfRepCounts int64
}

type reasonCount struct {
	reason string
	n      int64
}

// demoRejectReasons are the reason codes the demo's stage can give.
var demoRejectReasons = append(append([]string(nil), totals.Reasons...),
	pipeline.ReasonProcessingFailed, pipeline.ReasonProcessorPanic)

func (s *demoSummary) take() demoSnapshot {
	sn := demoSnapshot{
		at:        time.Since(s.start),
		gen:       s.gen.Stats(),
		consumed:  counterValue(s.met.RecordsIn(demoStage, demoInput)),
		credited:  counterValue(s.met.RecordsOut(demoStage, demoOutput)),
		committed: counterValue(s.met.Transactions(demoStage, "committed")),
		aborted:   counterValue(s.met.Transactions(demoStage, "aborted")),
	}
	for _, r := range demoRejectReasons {
		if n := counterValue(s.met.Rejects(demoStage, r)); n > 0 {
			sn.rejects = append(sn.rejects, reasonCount{r, n})
			sn.rejected += n
		}
	}
	sn.top, sn.read, sn.sumOfRepCounts = s.board.standings(demoTopReps)
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
	fmt.Fprintf(s.w, "accrue demo: stage %q on an embedded Kafka (kfake, %d partitions), %s sales/s, seed %d, %s\n",
		demoStage, demoPartitions, thousands(int64(f.rate)), f.seed, until)
	fmt.Fprintf(s.w, "sources: %s; about 1%% broken on purpose\n", strings.Join(srcs, " · "))
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
	fmt.Fprintf(s.w, "produced %10s rec %8s/s   %s\n", thousands(produced), thousands(producedRate), strings.Join(bySource, " · "))
	fmt.Fprintf(s.w, "%sconsumed %10s rec %8s/s   %s transactions committed, %s aborted · lag %s\n", indent,
		thousands(sn.consumed), thousands(consumedRate), thousands(sn.committed), thousands(sn.aborted), thousands(max(0, produced-sn.consumed)))
	fmt.Fprintf(s.w, "%scredited %10s rec             → %s\n", indent, thousands(sn.credited), demoOutput)
	reasons := "none"
	if len(sn.rejects) > 0 {
		parts := make([]string, len(sn.rejects))
		for i, r := range sn.rejects {
			parts[i] = r.reason + " " + thousands(r.n)
		}
		reasons = strings.Join(parts, " · ")
	}
	fmt.Fprintf(s.w, "%srejected %10s rec             → %s.rejected: %s\n", indent, thousands(sn.rejected), demoStage, reasons)
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
// whether the stage consumed everything produced and the leaderboard read
// everything the stage committed; a check that fails then is an error.
func (s *demoSummary) final(complete bool) error {
	sn := s.take()
	fmt.Fprintf(s.w, "\n── final, after %s %s\n", sn.at.Round(100*time.Millisecond), strings.Repeat("─", 50))
	fmt.Fprint(s.w, "         ")
	s.body(sn, perSecond(sn.gen.Produced(), s.producedFor), perSecond(sn.consumed, sn.at), "         ")

	produced := sn.gen.Produced()
	defects := map[string]int64{
		totals.ReasonMalformedJSON: sn.gen.Defects[synth.DefectMalformedJSON],
		totals.ReasonMissingField:  sn.gen.Defects[synth.DefectMissingRepID],
		totals.ReasonInvalidAmount: sn.gen.Defects[synth.DefectInvalidAmount],
	}
	deadMatch := sn.rejected == produced-sn.gen.Defects[synth.DefectNone]
	for _, r := range sn.rejects {
		deadMatch = deadMatch && r.n == defects[r.reason]
	}
	checks := []struct {
		ok   bool
		text string
	}{
		{sn.consumed == produced, fmt.Sprintf("every produced record consumed in a committed transaction: %s of %s", thousands(sn.consumed), thousands(produced))},
		{sn.credited+sn.rejected == sn.consumed, fmt.Sprintf("credited %s + rejected %s = consumed %s",
			thousands(sn.credited), thousands(sn.rejected), thousands(sn.consumed))},
		{deadMatch, fmt.Sprintf("dead letters = records broken on purpose: malformed_json %s, missing_field %s, invalid_amount %s",
			thousands(defects[totals.ReasonMalformedJSON]), thousands(defects[totals.ReasonMissingField]), thousands(defects[totals.ReasonInvalidAmount]))},
		{sn.sumOfRepCounts == sn.credited && sn.read == sn.credited && sn.credited == sn.gen.Defects[synth.DefectNone],
			fmt.Sprintf("reps' sales counts on %s add up to the valid records produced: %s",
				demoOutput, thousands(sn.sumOfRepCounts))},
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
		fmt.Fprintf(s.w, "         (the stage had not caught up within %s of the end; the checks are partial)\n", demoDrain)
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
