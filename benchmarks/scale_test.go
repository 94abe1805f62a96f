package benchmarks

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/benchmarks/report"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// BenchmarkScaleInstances runs 1, 2 and 3 instances of a stage in one
// consumer group, each a process of its own (`accrue stage accrue`, and
// `accrue stage count` for reference: the simplest keyed stage, a counter
// per key with its changelog), on the same credits, and measures their
// aggregate throughput. It shows the scaling mechanism of ARCHITECTURE.md
// (partitions spread over the group's members, each instance keeping and
// restoring the state of its share); on a machine of two cores, shared
// with the broker, a third instance adds processes, not processors.
//
// Each round feeds a new input topic (6 partitions) in one Kafka
// transaction that stays open until the group is stable with every
// instance holding partitions: the read_committed instances see nothing
// before, and everything at the commit, which starts the clock. The clock
// stops when the instances' /metrics, polled every 20 ms, show every
// credit committed and, for the accrual stage, every override record it
// wrote read back (as in BenchmarkAccrueVsTrivial). Rounds alternate the
// order of the instance counts (1, 2, 3 then 3, 2, 1).
//
//	go test ./benchmarks -run '^$' -bench ScaleInstances -benchtime 1x -timeout 30m
//
// The counting stage reads the same credits four times over (its rounds
// would otherwise last a fraction of a second). ACCRUE_BENCH_SCALE_CREDITS
// (default 150000) and ACCRUE_BENCH_ROUNDS
// (default 2) change the work. The report goes to
// benchmarks/results/scale.json (benchmarks/report), which
// `go run ./benchmarks/plot` draws.
func BenchmarkScaleInstances(b *testing.B) {
	brokers := pt.RealBrokers(b)
	bin := pt.AccrueBinary(b)
	n := envInt(b, "ACCRUE_BENCH_SCALE_CREDITS", 150_000)
	rounds := envInt(b, "ACCRUE_BENCH_ROUNDS", 2)
	w := newScaleWorld(b, bin, brokers)
	feed := make([]keyValue, 0, n)
	for _, c := range accrueCredits(n) {
		feed = append(feed, keyValue{[]byte(c.RepID), c.AppendJSON(nil)})
	}

	// The counting stage is some twenty times as fast: it reads the same
	// credits countRepeat times over, so that its rounds last seconds too.
	countFeed := make([]keyValue, 0, countRepeat*n)
	for range countRepeat {
		countFeed = append(countFeed, feed...)
	}

	rep := report.New("scale", "go test ./benchmarks -run '^$' -bench ScaleInstances -benchtime 1x -timeout 30m", map[string]any{
		"credits_per_round": n, "count_stage_records_per_round": len(countFeed), "rounds": rounds,
		"partitions": benchPartitions, "max_poll_records": accrueBatch, "programs": 1, "reps": accrueReps,
		"stages":    "accrue stage accrue (--parallelism default: GOMAXPROCS), accrue stage count",
		"instances": "processes, one consumer group per stage and round",
	})
	rep.Machine.Kafka = brokerVersion(b, brokers)
	rates := map[string]map[int][]float64{"count": {}, "accrue": {}}
	for r := range rounds {
		order := []int{1, 2, 3}
		if r%2 == 1 {
			order = []int{3, 2, 1}
		}
		for _, kind := range []string{"count", "accrue"} {
			in := feed
			if kind == "count" {
				in = countFeed
			}
			for _, inst := range order {
				res := w.round(b, kind, r, inst, in)
				rates[kind][inst] = append(rates[kind][inst], res.rate)
				b.Logf("%s × %d, round %d: %.0f records/s in %v; per instance %v; partitions %v", kind, inst, r, res.rate,
					res.took.Round(time.Millisecond), res.perInstance, res.partitions)
				rep.Add(r, kind, instances(inst), int64(len(in)), res.took)
				rep.Facts[fmt.Sprintf("%s, round %d, %s", kind, r, instances(inst))] = map[string]any{
					"records_per_instance": joinInts(res.perInstance), "input_partitions_per_instance": joinInts(res.partitions),
					"restored_records": res.restored, "rebalances_while_timed": res.rebalances, "copartitioned": res.copartitioned}
			}
			rep.Compare(r, kind, instances(1))
		}
	}
	for _, kind := range []string{"count", "accrue"} {
		unit := "credits/s"
		if kind == "count" {
			unit = "rec/s"
		}
		for inst := 1; inst <= 3; inst++ {
			b.ReportMetric(median(rates[kind][inst]), fmt.Sprintf("%s_x%d_%s", kind, inst, unit))
		}
		b.ReportMetric(median(rates[kind][2])/median(rates[kind][1]), kind+"_x2/x1")
		b.ReportMetric(median(rates[kind][3])/median(rates[kind][1]), kind+"_x3/x1")
	}
	b.ReportMetric(0, "ns/op")
	rep.Notes = append(rep.Notes,
		"records/s is the group's aggregate: credits for both stages (the accrual stage also reads back its override records, not counted)",
		"'of 1 instance' divides by one instance of the same stage in the same round")
	writeReport(b, rep)
}

func instances(n int) string {
	if n == 1 {
		return "1 instance"
	}
	return strconv.Itoa(n) + " instances"
}

// writeReport writes rep to benchmarks/results/<name>.json and prints it
// as a table and as JSON.
func writeReport(b *testing.B, rep *report.Report) {
	b.Helper()
	path, err := rep.Write("results")
	if err != nil {
		b.Fatal(err)
	}
	if err := rep.Table(os.Stdout); err != nil {
		b.Fatal(err)
	}
	os.Stdout.Write(rep.JSON())
	b.Logf("report written to benchmarks/%s", path)
}

// brokerVersion is the Kafka version the brokers answer with.
func brokerVersion(b *testing.B, brokers []string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	vs, err := pt.Admin(b, brokers).ApiVersions(ctx)
	if err != nil {
		return ""
	}
	var out []string
	vs.Each(func(v kadm.BrokerApiVersions) { out = append(out, v.VersionGuess()) })
	return strings.Join(out, ", ")
}

// countRepeat is how many times the counting stage reads the credits.
const countRepeat = 4

type keyValue struct{ key, value []byte }

// scaleWorld is what every round shares: the accrue binary, the reference
// topics and the programs topic, loaded through the CLI as an operator
// would.
type scaleWorld struct {
	bin, dir, sfx, refPrefix, programs string
	brokers                            []string
	adm                                *kadm.Client
}

func newScaleWorld(b *testing.B, bin string, brokers []string) *scaleWorld {
	w := &scaleWorld{bin: bin, dir: b.TempDir(), brokers: brokers, adm: pt.Admin(b, brokers),
		sfx: strconv.FormatInt(time.Now().UnixNano(), 36)}
	w.refPrefix, w.programs = "scale-ref-"+w.sfx+".", "scale-programs-"+w.sfx
	var refs []string
	for _, k := range []string{"reps", "products", "accounts", "fx", "identities"} {
		refs = append(refs, w.refPrefix+k)
	}
	pt.CreateTopics(b, brokers, 1, nil, append(refs, w.programs)...)
	b.Cleanup(func() { deleteTopics(b, w.adm, append(refs, w.programs)...) })

	var reps strings.Builder
	for i := range 4 {
		fmt.Fprintf(&reps, `{"rep_id":"D-%d","role":"DIR","valid_from":"2026-01-01"}`+"\n", i)
	}
	for i := range 40 {
		fmt.Fprintf(&reps, `{"rep_id":"M-%d","role":"MGR","manager_id":"D-%d","valid_from":"2026-01-01"}`+"\n", i, i%4)
	}
	for i := range accrueReps {
		fmt.Fprintf(&reps, `{"rep_id":"R-%d","role":"%s","manager_id":"M-%d","valid_from":"2026-01-01"}`+"\n",
			i, []string{"AE", "AE", "SE"}[i%3], i%40)
	}
	fx := `{"from":"EUR","to":"USD","rate":"1.08","valid_from":"2026-01-01"}
{"from":"USD","to":"JPY","rate":"151.37","valid_from":"2026-01-01"}
{"from":"EUR","to":"JPY","rate":"162.9","valid_from":"2026-01-01"}
`
	w.loadRef(b, "reps", reps.String())
	w.loadRef(b, "fx", fx)
	w.publish(b, accruePrograms[0])
	return w
}

func (w *scaleWorld) cli(b *testing.B, args ...string) {
	b.Helper()
	cmd := exec.Command(w.bin, append([]string{"--brokers", w.brokers[0], "--log-level", "warn"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("accrue %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (w *scaleWorld) loadRef(b *testing.B, kind, body string) {
	f := filepath.Join(w.dir, kind+".jsonl")
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
	w.cli(b, "ref", "load", "--kind", kind, "-q", "--topic", w.refPrefix+kind, "--transactional-id", "scale-ref-"+w.sfx, f)
}

func (w *scaleWorld) publish(b *testing.B, docs ...string) {
	var files []string
	for i, d := range docs {
		f := filepath.Join(w.dir, fmt.Sprintf("program-%d.yaml", i))
		if err := os.WriteFile(f, []byte(d), 0o644); err != nil {
			b.Fatal(err)
		}
		files = append(files, f)
	}
	w.cli(b, append([]string{"program", "--topic", w.programs, "publish"}, files...)...)
}

// scaleResult is one round of one stage with some instances.
type scaleResult struct {
	rate        float64
	took        time.Duration
	perInstance []int // input records each instance committed
	partitions  []int // input partitions each instance held
	restored    int   // changelog records read back by restores
	rebalances  int   // group callbacks (assigned, revoked, lost) while timed
	// copartitioned: each instance held the same partition numbers of
	// every input.
	copartitioned bool
}

// stageProc is one instance: its process and its admin address.
type stageProc struct {
	*pt.Proc
	admin string
}

// stageRun is one stage's instances on topics of their own.
type stageRun struct {
	name, input   string
	procs         []stageProc
	copartitioned bool // every instance holds the same partitions of each input
	cleanup       func()
}

// start creates the topics of a stage (kind "accrue" or "count") named
// name, calls before (if not nil), starts inst instances and waits until
// the group has spread the partitions over them; cleanup stops them and
// deletes the topics and the group.
func (w *scaleWorld) start(b *testing.B, kind, name string, inst int, before func(*stageRun)) *stageRun {
	b.Helper()
	input := name + "-in"
	var outputs []string
	if kind == "accrue" {
		for _, t := range []string{"overrides", "recompute", "accruals", "attainment", "nudges", "awards", "payable"} {
			outputs = append(outputs, name+"-"+t)
		}
	} else {
		outputs = append(outputs, name+"-out")
	}
	topics := append([]string{input, name + ".rejected"}, outputs...)
	pt.CreateTopics(b, w.brokers, benchPartitions, topics, name+".changelog")
	sr := &stageRun{name: name, input: input}
	sr.cleanup = func() {
		stopAll(sr.procs)
		deleteTopics(b, w.adm, append(topics, name+".changelog")...)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = w.adm.DeleteGroups(ctx, "accrue-"+name)
	}
	if before != nil {
		before(sr)
	}
	for i := range inst {
		sr.procs = append(sr.procs, w.proc(b, kind, name, input, i))
	}
	inputs := 1
	if kind == "accrue" {
		inputs = 3 // credits, overrides, recompute
	}
	sr.copartitioned = waitSpread(b, w.adm, "accrue-"+name, input, inst, inputs*benchPartitions, sr.procs)
	return sr
}

// proc starts instance i of the stage named name.
func (w *scaleWorld) proc(b *testing.B, kind, name, input string, i int) stageProc {
	addr := pt.FreeAddr(b)
	id := strconv.Itoa(i)
	args := []string{"--brokers", w.brokers[0], "--log-level", "info", "stage", kind, "--name", name, "--input", input,
		"--instance-id", id, "--admin-addr", addr}
	if kind == "accrue" {
		args = append(args, "--overrides", name+"-overrides", "--recompute", name+"-recompute",
			"--accruals", name+"-accruals", "--attainment", name+"-attainment", "--nudges", name+"-nudges",
			"--awards", name+"-awards", "--payable", name+"-payable", "--dead-letter", name+".rejected",
			"--programs-topic", w.programs, "--ref-prefix", w.refPrefix)
	} else {
		args = append(args, "--output", name+"-out")
	}
	return stageProc{pt.StartProc(b, w.bin, w.logDir(b), name+"-"+id, args...), addr}
}

// logDir is where the instances' logs go: ACCRUE_BENCH_LOGS if set (kept),
// else the benchmark's temporary folder.
func (w *scaleWorld) logDir(b *testing.B) string {
	if d := os.Getenv("ACCRUE_BENCH_LOGS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		return d
	}
	return w.dir
}

// round runs one stage (kind "accrue" or "count") with inst instances
// over feed, on topics of its own, and deletes them after.
func (w *scaleWorld) round(b *testing.B, kind string, r, inst int, feed []keyValue) scaleResult {
	b.Helper()
	name := fmt.Sprintf("scale-%s-%s-%d-%d", kind, w.sfx, r, inst)
	var feedTxn *kgo.Client
	sr := w.start(b, kind, name, inst, func(sr *stageRun) {
		feedTxn = openFeed(b, w.brokers, sr.input, name+"-feed", feed)
	})
	defer sr.cleanup()
	defer feedTxn.Close()
	input := sr.input
	procs := sr.procs
	rebalances := sumPrefix(scrapeAll(b, procs), "accrue_stage_rebalances_total")

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := feedTxn.EndTransaction(ctx, kgo.TryCommit); err != nil {
		b.Fatalf("commit the feed: %v", err)
	}
	deadline := start.Add(10 * time.Minute)
	var m []map[string]float64
	for {
		m = scrapeAll(b, procs)
		in := sumMetric(m, recordsIn(name, input))
		ovIn, ovOut := sumMetric(m, recordsIn(name, name+"-overrides")), sumMetric(m, recordsOut(name, name+"-overrides"))
		if in >= float64(len(feed)) && ovIn >= ovOut {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: %v of %d records committed after 10 minutes", name, in, len(feed))
		}
		for _, p := range procs {
			if !p.Alive() {
				p.Died()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	if rej := sumPrefix(m, `accrue_stage_rejects_total{stage="`+name+`"`); rej > 0 {
		b.Fatalf("%s rejected %v inputs", name, rej)
	}
	res := scaleResult{rate: float64(len(feed)) / took.Seconds(), took: took,
		rebalances: int(sumPrefix(m, "accrue_stage_rebalances_total") - rebalances), copartitioned: sr.copartitioned,
		restored: int(sumMetric(m, fmt.Sprintf(`accrue_stage_state_restored_records_total{stage=%q}`, name)))}
	for _, pm := range m {
		res.perInstance = append(res.perInstance, int(pm[recordsIn(name, input)]))
		// Each instance has a lag gauge for every partition it fetched.
		lagged := 0
		for k := range pm {
			if strings.HasPrefix(k, `accrue_stage_consumer_lag{partition=`) && strings.Contains(k, fmt.Sprintf(`topic=%q`, input)) {
				lagged++
			}
		}
		res.partitions = append(res.partitions, lagged)
	}
	return res
}

// openFeed writes feed to topic in a transaction it leaves open: nothing
// is visible to read_committed consumers until the caller commits it.
func openFeed(b *testing.B, brokers []string, topic, txnID string, feed []keyValue) *kgo.Client {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(txnID), kgo.TransactionTimeout(5*time.Minute),
		kgo.MaxBufferedRecords(len(feed)+1), kgo.DefaultProduceTopic(topic))
	if err != nil {
		b.Fatal(err)
	}
	if err := cl.BeginTransaction(); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var mu sync.Mutex
	var perr error
	for _, kv := range feed {
		cl.Produce(ctx, &kgo.Record{Key: kv.key, Value: kv.value}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				perr = err
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if perr != nil {
		b.Fatalf("feed %s: %v", topic, perr)
	}
	return cl
}

// waitSpread waits until the group is stable with n members that each
// hold some of input's partitions and, together, all want partitions of
// the stage's inputs. It returns whether the assignment is co-partitioned:
// each member holds the same partition numbers of every input, as a keyed
// stage's state (one per partition number) needs.
func waitSpread(b *testing.B, adm *kadm.Client, group, input string, n, want int, procs []stageProc) bool {
	b.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		for _, p := range procs {
			if !p.Alive() {
				p.Died()
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ds, err := adm.DescribeGroups(ctx, group)
		cancel()
		if d := ds[group]; err == nil && d.State == "Stable" && len(d.Members) == n {
			all, holding, copartitioned := 0, 0, true
			for _, m := range d.Members {
				c, ok := m.Assigned.AsConsumer()
				if !ok {
					continue
				}
				k := 0
				var first []int32
				for i, t := range c.Topics {
					all += len(t.Partitions)
					if t.Topic == input {
						k += len(t.Partitions)
					}
					ps := slices.Sorted(slices.Values(t.Partitions))
					if i == 0 {
						first = ps
					} else if !slices.Equal(first, ps) {
						copartitioned = false
					}
				}
				if k > 0 {
					holding++
				}
			}
			if all == want && holding == n {
				// The members poll right after their assignment; a
				// moment lets every one of them reach its first fetch.
				time.Sleep(500 * time.Millisecond)
				return copartitioned
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("group %s: not stable with %d members holding its partitions after 3 minutes", group, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func stopAll(procs []stageProc) {
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p.Alive() {
				p.Stop()
			}
		}()
	}
	wg.Wait()
}

func recordsIn(stage, topic string) string {
	return fmt.Sprintf(`accrue_stage_records_in_total{stage=%q,topic=%q}`, stage, topic)
}

func recordsOut(stage, topic string) string {
	return fmt.Sprintf(`accrue_stage_records_out_total{stage=%q,topic=%q}`, stage, topic)
}

func scrapeAll(b *testing.B, procs []stageProc) []map[string]float64 {
	out := make([]map[string]float64, len(procs))
	for i, p := range procs {
		m, err := scrape(p.admin)
		if err != nil {
			if !p.Alive() {
				p.Died()
			}
			b.Fatalf("scrape %s: %v", p.Name, err)
		}
		out[i] = m
	}
	return out
}

var scrapeClient = &http.Client{Timeout: 5 * time.Second}

// scrape reads the accrue_stage_* samples of a process's /metrics.
func scrape(addr string) (map[string]float64, error) {
	resp, err := scrapeClient.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "accrue_stage_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m, sc.Err()
}

func sumMetric(ms []map[string]float64, key string) float64 {
	s := 0.0
	for _, m := range ms {
		s += m[key]
	}
	return s
}

func sumPrefix(ms []map[string]float64, prefix string) float64 {
	s := 0.0
	for _, m := range ms {
		for k, v := range m {
			if strings.HasPrefix(k, prefix) {
				s += v
			}
		}
	}
	return s
}

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, "/")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// round keeps figures readable in a report: digits after the point.
func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
