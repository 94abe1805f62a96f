package benchmarks

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/accrue"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/reference"
)

// BenchmarkAccrueVsKafkaStreams measures the accrual stage with one
// program (the first of accruePrograms) against a Kafka Streams application
// doing the core of the same accrual (benchmarks/kstreams), on the same
// 50,000 credits of one sales.credited topic on the same broker,
// alternating in one run, both exactly once (a transaction per batch in
// accrue; processing.guarantee=exactly_once_v2 in Kafka Streams).
//
// Per round, accrue's stage runs in this process as in
// BenchmarkAccrueVsTrivial (timeAccrue), then the Kafka Streams application
// runs as a child JVM under a new application.id. Its clock runs from its
// first record processed (a line it prints, in wall-clock nanoseconds) to
// the moment its consumer group's committed offsets, polled every 5 ms,
// reach the end of every partition of the input: under exactly_once_v2 the
// offsets commit in the transaction that holds the outputs and changelog
// records of the records before them, so that moment is the commit of its
// last transaction. Its JVM start, group join and topic creation are not
// timed, nor is its shutdown. After the first round it checks that the
// measure of every (rep, period) in the application's last snapshots equals
// accrue's, from the same credits applied offline, and that its deltas add
// up to its last earned.
//
// It reports both rates in credits/s and their ratio accrue/kstreams, and
// what each wrote per credit: every output and changelog record of
// accrue's stage (as BenchmarkAccrueVsTrivial counts them), the deltas and
// snapshots of the application (its changelog records are not counted). The application is built
// with Maven (once per run, before any timing) into benchmarks/kstreams/target,
// with the local repository .stack/m2 (ACCRUE_STACK_DIR/m2), offline when
// the jars are already there.
//
//	go test ./benchmarks -run '^$' -bench AccrueVsKafkaStreams -benchtime 3x
//
// ACCRUE_BENCH_KSTREAMS_SET=name=value,... overrides the application's
// Streams properties (commit.interval.ms, consumer.max.poll.records, ...);
// unset, they are Streams' defaults under exactly_once_v2.
//
// Needs ACCRUE_KAFKA_BROKERS, java and mvn; without them it is skipped,
// except under CI=true, where it fails. Skipped under -short.
func BenchmarkAccrueVsKafkaStreams(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a JVM per round and needs a broker; not under -short")
	}
	brokers := pt.RealBrokers(b)
	app := buildKStreams(b)
	runAccrueVsKStreams(b, brokers, app, 50_000)
}

// kstreamsApp is the built peer: how to start it.
type kstreamsApp struct {
	java, classpath string
}

var kstreamsBuilt struct {
	once sync.Once
	app  kstreamsApp
	err  error
}

// buildKStreams builds benchmarks/kstreams once per test binary run.
func buildKStreams(b *testing.B) kstreamsApp {
	b.Helper()
	java, mvn := requireTool(b, "java"), requireTool(b, "mvn")
	kstreamsBuilt.once.Do(func() {
		root, err := filepath.Abs("..")
		if err != nil {
			kstreamsBuilt.err = err
			return
		}
		stack := os.Getenv("ACCRUE_STACK_DIR")
		if stack == "" {
			stack = filepath.Join(root, ".stack")
		}
		dir := filepath.Join(root, "benchmarks", "kstreams")
		args := []string{"-q", "-B", "-Dmaven.repo.local=" + filepath.Join(stack, "m2"), "-f", filepath.Join(dir, "pom.xml"), "package"}
		// Offline first: after the first build every jar is in the local
		// repository and Maven need not ask Central for anything.
		if out, err := exec.Command(mvn, append([]string{"-o"}, args...)...).CombinedOutput(); err != nil {
			if out, err = exec.Command(mvn, args...).CombinedOutput(); err != nil {
				kstreamsBuilt.err = fmt.Errorf("mvn package in %s: %w\n%s", dir, err, out)
				return
			}
		}
		target := filepath.Join(dir, "target")
		kstreamsBuilt.app = kstreamsApp{java: java,
			classpath: filepath.Join(target, "accrue-kstreams.jar") + string(os.PathListSeparator) + filepath.Join(target, "lib", "*")}
	})
	if kstreamsBuilt.err != nil {
		b.Fatal(kstreamsBuilt.err)
	}
	return kstreamsBuilt.app
}

// requireTool returns the path of a command, skipping the benchmark without
// it, or failing it under CI=true.
func requireTool(b *testing.B, name string) string {
	b.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			b.Fatalf("%s is not installed: CI needs it for the Kafka Streams peer", name)
		}
		b.Skipf("%s is not installed; the Kafka Streams peer needs it", name)
	}
	return p
}

func runAccrueVsKStreams(b *testing.B, brokers []string, app kstreamsApp, n int) {
	tb := accrueTables()
	cat := accrueCatalog(b, 1)
	credits := accrueCredits(n)
	plan := kstreamsPlan(b, tb)
	want := periodMeasures(accrueOffline(b, cat, tb, credits), plan.ProgramID)

	dir := b.TempDir()
	planFile := filepath.Join(dir, "plan.json")
	buf, err := json.Marshal(plan)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(planFile, buf, 0o644); err != nil {
		b.Fatal(err)
	}

	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	input := "bench-credited-" + suffix
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	pt.CreateTopics(b, brokers, benchPartitions, []string{input})
	b.Cleanup(func() { deleteTopics(b, adm, input) })
	produceCredits(b, brokers, input, credits)
	credits = nil
	runtime.GC()
	ends, err := adm.ListEndOffsets(context.Background(), input)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		b.Fatal(err)
	}

	var accrued, streamed time.Duration
	var outs kstreamsCounts
	var written int64
	v := newVersus(b, "go test ./benchmarks -run '^$' -bench AccrueVsKafkaStreams -benchtime 3x",
		map[string]any{"credits": n, "partitions": benchPartitions, "kafka_streams": "exactly_once_v2, RocksDB stores"},
		"accrual", "kafka streams")
	// Each round's topics and groups go at the end, failed or not.
	var names []string
	b.Cleanup(func() {
		for _, name := range names {
			dropRound(b, cl, name)
		}
	})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		round := fmt.Sprintf("%s-%d", suffix, i)
		name, appID := "bench-accrue-"+round, "bench-kstreams-"+round
		names = append(names, name, appID)
		ad, w := timeAccrue(b, brokers, input, name, n, cat, tb)
		accrued += ad
		written += w.records
		v.add(i, "accrue", n, ad)

		d, c := timeKStreams(b, brokers, adm, app, kstreamsRun{input: input, appID: appID, plan: planFile,
			stateDir: filepath.Join(dir, appID), n: n, ends: ends})
		streamed += d
		v.add(i, "kafka streams", n, d)
		outs.deltas += c.deltas
		outs.snapshots += c.snapshots
		b.Logf("round %d: accrue %.0f credits/s, kstreams %.0f credits/s (%s)", i,
			float64(n)/ad.Seconds(), float64(n)/d.Seconds(), c.line)
		if i == 0 {
			checkKStreams(b, brokers, appID, want)
		}
	}
	b.StopTimer()
	ar := float64(n*b.N) / accrued.Seconds()
	kr := float64(n*b.N) / streamed.Seconds()
	b.ReportMetric(ar, "accrue_credits/s")
	b.ReportMetric(kr, "kstreams_credits/s")
	b.ReportMetric(ar/kr, "ratio")
	b.ReportMetric(float64(written)/float64(n*b.N), "accrue_out/credit")
	b.ReportMetric(float64(outs.deltas+outs.snapshots)/float64(n*b.N), "kstreams_out/credit")
	b.ReportMetric(0, "ns/op") // the rates above are the figures
	v.write(brokers, map[string]any{"accrue_out_per_credit": float64(written) / float64(n*b.N),
		"kstreams_out_per_credit": float64(outs.deltas+outs.snapshots) / float64(n*b.N)})
}

// kstreamsPlanDoc is the plan file of the Kafka Streams peer
// (benchmarks/kstreams, Plan.java).
type kstreamsPlanDoc struct {
	ProgramID     string            `json:"program_id"`
	CurrencyScale int               `json:"currency_scale"`
	EffectiveFrom string            `json:"effective_from"`
	ClawbackDays  *int              `json:"clawback_days"`
	FX            map[string]string `json:"fx"`
	Roles         map[string]string `json:"roles"`
	QuotaDefault  string            `json:"quota_default"`
	QuotaByRole   map[string]string `json:"quota_by_role"`
	Bands         []kstreamsBand    `json:"bands"`
}

type kstreamsBand struct {
	From string `json:"from"`
	Rate string `json:"rate"`
}

// kstreamsPlan writes the first program of the accrual benchmark and the
// reference data it reads as the peer's plan file, after checking that the
// program is one the peer can compute: an amount measure in USD, monthly in
// UTC, marginal bands on attainment of a quota by role, no filter and no
// participant lists. What the peer leaves out (spiffs, cap, overrides,
// nudges, badges) is listed in benchmarks/README.md.
func kstreamsPlan(b *testing.B, tb *reference.Tables) kstreamsPlanDoc {
	p, err := program.Parse("bench.yaml", []byte(accruePrograms[0]))
	if err != nil {
		b.Fatal(err)
	}
	if p.Currency != "USD" || p.TimezoneName != "UTC" || p.Period != program.Month || p.Credit.Measure != program.Amount ||
		p.Credit.Filter != nil || p.Tiers.Basis != program.Attainment || p.Tiers.Method != program.Marginal ||
		p.Quota == nil || !p.Quota.Default.Valid || len(p.Quota.ByRep) > 0 || p.HasEnd ||
		len(p.Participants.Roles) > 0 || len(p.Participants.Reps) > 0 {
		b.Fatalf("program %s is not one the Kafka Streams peer computes", p.ID)
	}
	day := p.EffectiveFrom
	doc := kstreamsPlanDoc{ProgramID: p.ID, CurrencyScale: 2, EffectiveFrom: day.String(),
		FX: map[string]string{"USD": "1"}, Roles: map[string]string{},
		QuotaDefault: p.Quota.Default.Decimal.String(), QuotaByRole: map[string]string{}}
	if p.Clawback != nil {
		doc.ClawbackDays = &p.Clawback.WindowDays
	}
	for _, cur := range []string{"EUR"} {
		r, ok := tb.Rate(cur, "USD", day)
		if !ok {
			b.Fatalf("no %s rate", cur)
		}
		doc.FX[cur] = r.String()
	}
	for role, q := range p.Quota.ByRole {
		doc.QuotaByRole[role] = q.String()
	}
	for _, band := range p.Tiers.Bands {
		doc.Bands = append(doc.Bands, kstreamsBand{From: band.From.String(), Rate: band.Rate.String()})
	}
	for i := 0; i < accrueReps; i++ {
		id := "R-" + strconv.Itoa(i)
		r, ok := tb.Rep(id, day)
		if !ok {
			b.Fatalf("no rep %s", id)
		}
		doc.Roles[id] = r.Role
	}
	return doc
}

// periodMeasures is the exact measure of every (rep, period) of program id
// in accrue's state, by "rep/period".
func periodMeasures(s accrue.MemoryStore, id string) map[string]decimal.Decimal {
	out := map[string]decimal.Decimal{}
	for _, v := range s {
		if p := v.Period; p != nil && p.ProgramID == id && strings.HasPrefix(p.RepID, "R-") {
			out[p.RepID+"/"+p.Period] = p.Measure.Decimal()
		}
	}
	return out
}

type kstreamsRun struct {
	input, appID, plan, stateDir string
	n                            int
	ends                         kadm.ListedOffsets
}

// kstreamsCounts are the counters the application prints when it stops.
type kstreamsCounts struct {
	processed, deltas, snapshots, rejected int64
	line                                   string
}

// timeKStreams starts the application under run.appID, waits until its
// group has committed the end of the input, stops it, and returns the time
// from its first record processed to that commit.
func timeKStreams(b *testing.B, brokers []string, adm *kadm.Client, app kstreamsApp, run kstreamsRun) (time.Duration, kstreamsCounts) {
	b.Helper()
	deltas, snapshots := run.appID+"-deltas", run.appID+"-snapshots"
	pt.CreateTopics(b, brokers, benchPartitions, []string{deltas, snapshots})
	defer os.RemoveAll(run.stateDir)

	cmd := exec.Command(app.java, "-cp", app.classpath, "io.accrue.bench.kstreams.Main",
		"--bootstrap", strings.Join(brokers, ","), "--application-id", run.appID, "--input", run.input,
		"--deltas", deltas, "--snapshots", snapshots, "--plan", run.plan, "--state-dir", run.stateDir,
		"--threads", "2", "--set", os.Getenv("ACCRUE_BENCH_KSTREAMS_SET"))
	// Its log stays with the benchmark's temporary files, for a failure.
	logFile := run.stateDir + ".log"
	logw, err := os.Create(logFile)
	if err != nil {
		b.Fatal(err)
	}
	defer logw.Close()
	cmd.Stderr = logw
	stdout, stdoutw := io.Pipe()
	cmd.Stdout = stdoutw
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	first := make(chan int64, 1)
	counts := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "first_record_unix_nanos="):
				v, _ := strconv.ParseInt(strings.TrimPrefix(line, "first_record_unix_nanos="), 10, 64)
				first <- v
			case strings.HasPrefix(line, "counts "):
				counts <- line
			}
		}
	}()
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		stdoutw.Close()
		exited <- err
	}()

	deadline := time.Now().Add(5 * time.Minute)
	var done time.Time
	for done.IsZero() {
		select {
		case err := <-exited:
			b.Fatalf("kafka streams application %s exited early: %v\n%s", run.appID, err, tail(logFile))
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop(cmd, exited)
			b.Fatalf("kafka streams application %s did not commit the input's end in 5 minutes\n%s", run.appID, tail(logFile))
		}
		if committedEnd(adm, run.appID, run.ends) {
			done = time.Now()
		}
	}
	var start int64
	select {
	case start = <-first:
	case <-time.After(10 * time.Second):
		stop(cmd, exited)
		b.Fatalf("kafka streams application %s committed the input but printed no first record", run.appID)
	}
	if err := stop(cmd, exited); err != nil {
		b.Fatalf("kafka streams application %s: %v\n%s", run.appID, err, tail(logFile))
	}
	var c kstreamsCounts
	select {
	case line := <-counts:
		c.line = strings.TrimPrefix(line, "counts ")
		for _, f := range strings.Fields(line)[1:] {
			k, v, _ := strings.Cut(f, "=")
			x, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "processed":
				c.processed = x
			case "deltas":
				c.deltas = x
			case "snapshots":
				c.snapshots = x
			case "rejected":
				c.rejected = x
			}
		}
	case <-time.After(10 * time.Second):
		b.Fatalf("kafka streams application %s printed no counts", run.appID)
	}
	// Every credit processed once: a retried transaction would show as
	// more, but the counters are per process and this one saw no failure.
	if c.processed != int64(run.n) || c.rejected != 0 {
		b.Fatalf("kafka streams application %s: %d credits processed, %d rejected, want %d and 0\n%s",
			run.appID, c.processed, c.rejected, run.n, tail(logFile))
	}
	return done.Sub(time.Unix(0, start)), c
}

// committedEnd is whether group has committed offsets at ends for every
// partition.
func committedEnd(adm *kadm.Client, group string, ends kadm.ListedOffsets) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return false
	}
	all := true
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := got.Lookup(o.Topic, o.Partition)
		if !ok || c.Err != nil || c.At < o.Offset {
			all = false
		}
	})
	return all
}

// stop sends SIGTERM (the application closes its streams client and
// prints its counters) and waits a minute before killing it. The JVM exits
// with 143 (128 + SIGTERM) once its shutdown hook is done: that is a clean
// stop.
func stop(cmd *exec.Cmd, exited <-chan error) error {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 128+int(syscall.SIGTERM) {
			return nil
		}
		return err
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("did not stop within a minute of SIGTERM")
	}
}

// tail is the end of a log file.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// checkKStreams reads the application's committed snapshots and deltas and
// checks that the last measure of every (rep, period) is accrue's, and that
// each period's deltas add up to its last earned.
func checkKStreams(b *testing.B, brokers []string, appID string, want map[string]decimal.Decimal) {
	type snap struct {
		Period  string `json:"period"`
		RepID   string `json:"rep_id"`
		Measure string `json:"measure"`
		Earned  string `json:"earned"`
		Delta   string `json:"delta"`
		Version int64  `json:"version"`
	}
	read := func(topic string, fn func(s snap)) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := pipeline.ScanTopic(ctx, cl, brokers, nil, topic, func(r *kgo.Record) error {
			var s snap
			if err := json.Unmarshal(r.Value, &s); err != nil {
				return err
			}
			fn(s)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	last := map[string]snap{}
	read(appID+"-snapshots", func(s snap) {
		k := s.RepID + "/" + s.Period
		if s.Version > last[k].Version {
			last[k] = s
		}
	})
	sums := map[string]decimal.Decimal{}
	read(appID+"-deltas", func(s snap) {
		k := s.RepID + "/" + s.Period
		sums[k] = sums[k].Add(decimal.RequireFromString(s.Delta))
	})
	var bad []string
	if len(last) != len(want) {
		bad = append(bad, fmt.Sprintf("%d (rep, period) snapshots, accrue has %d", len(last), len(want)))
	}
	for k, s := range last {
		m := decimal.RequireFromString(s.Measure)
		if w, ok := want[k]; !ok || !w.Equal(m) {
			bad = append(bad, fmt.Sprintf("%s: measure %s, accrue %s", k, m, w))
		}
		if e := decimal.RequireFromString(s.Earned); !e.Equal(sums[k]) {
			bad = append(bad, fmt.Sprintf("%s: deltas add up to %s, earned %s", k, sums[k], e))
		}
		if len(bad) > 10 {
			break
		}
	}
	if len(bad) > 0 {
		b.Fatalf("kafka streams application %s disagrees with accrue:\n%s", appID, strings.Join(bad, "\n"))
	}
}

// dropRound deletes the topics (name, name-*, name.*) of one round's
// contender, and its consumer group. A Kafka Streams application does not
// leave its group when it closes (its members would stay until their
// session times out, 45 s), so members still there are removed first with
// a LeaveGroup request naming them, as an operator would.
func dropRound(b *testing.B, cl *kgo.Client, name string) {
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		b.Logf("list topics: %v", err)
		return
	}
	var drop []string
	for _, t := range topics.Names() {
		if t == name || strings.HasPrefix(t, name+"-") || strings.HasPrefix(t, name+".") {
			drop = append(drop, t)
		}
	}
	if len(drop) > 0 {
		deleteTopics(b, adm, drop...)
	}
	del := func() error {
		resp, err := adm.DeleteGroups(ctx, name)
		if err == nil {
			err = resp.Error()
		}
		return err
	}
	err = del()
	if errors.Is(err, kerr.NonEmptyGroup) {
		if err = evictMembers(ctx, cl, adm, name); err == nil {
			err = del()
		}
	}
	if err != nil {
		b.Logf("delete group %s: %v", name, err)
	}
}

// evictMembers removes every member of group with one LeaveGroup request.
func evictMembers(ctx context.Context, cl *kgo.Client, adm *kadm.Client, group string) error {
	ds, err := adm.DescribeGroups(ctx, group)
	if err == nil {
		err = ds.Error()
	}
	if err != nil {
		return err
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = group
	for _, m := range ds[group].Members {
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = m.MemberID
		if m.InstanceID != nil {
			lm.InstanceID = m.InstanceID
		}
		req.Members = append(req.Members, lm)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return err
	}
	for _, m := range resp.Members {
		if err := kerr.ErrorForCode(m.ErrorCode); err != nil {
			return fmt.Errorf("member %s: %w", m.MemberID, err)
		}
	}
	return nil
}
