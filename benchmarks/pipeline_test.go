package benchmarks

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/benchmarks/feed"
	"github.com/accrue/accrue/benchmarks/report"
	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/sinks/clickhouse"
	"github.com/accrue/accrue/transforms/accrue"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/ingest"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/accrue/accrue/transforms/sanitize"
)

// BenchmarkPipeline runs a realistic feed (benchmarks/feed: four sources in
// three formats, Zipf reps, cancels and returns, splits, late and broken
// records, copies, reference updates) through accrue's stages, in this
// process, on one broker, and reports for each what fraction it keeps of
// the limit of the same records on the same broker in the same round:
//
//   - consume: a plain franz-go consumer reading the stage's input and
//     doing nothing with it;
//   - ctp: a plain GroupTransactSession loop copying the input to a topic
//     in a transaction per poll (what any exactly-once stage must pay).
//
// Stage by stage, each over the whole output of the one before: ingest
// (raw topics → canonical; mapping and gatekeepers), dedupe (→ clean),
// link (dedupe, link against the reference tables read from the ref
// topics → credited), accrue (four programs → accruals, snapshots,
// nudges, awards, payable, override records), and, with ClickHouse, the
// sink of clean, credited, the dead letters and the accrual stage's
// outputs. Then the whole pipeline at once, every stage running
// concurrently from the raw topics to ClickHouse (or to the accrual
// stage's outputs without it), timed from the ingest stage's first record
// to the sink's last acknowledgement, against the raw input's limits.
//
// Peer: a plain batch job, as incentive suites run nightly, reads
// everything, applies it with the accrual engine in one store in memory
// (as `accrue simulate` does), and writes the accruals (to ClickHouse when
// there is one) and every statement; twice a round: from the accrual
// stage's input (the same credits), and from the raw records (mapped,
// checked, deduplicated and linked in memory: the whole pipeline's work).
//
// Counts are checked against the feed's expectations (events, rejects by
// reason, duplicates, credits) and the run fails on a mismatch.
//
// Each run prints the machine, the settings and the results as a table
// and writes them as JSON to benchmarks/results/pipeline-<broker>.json.
//
//	go test ./benchmarks -run '^$' -bench 'Pipeline/kfake' -benchtime 1x
//	go test ./benchmarks -run '^$' -bench 'Pipeline/kafka' -benchtime 1x   # ACCRUE_KAFKA_BROKERS, ACCRUE_CLICKHOUSE_ADDR
//
// ACCRUE_BENCH_FEED_RECORDS (default 50,000) and ACCRUE_BENCH_FEED_REPS
// (default 2,000) size the feed. In a CPU profile (-cpuprofile), the
// whole-pipeline run is labelled run=pipeline and the batch job run=batch
// (go tool pprof -tagfocus run=pipeline).
func BenchmarkPipeline(b *testing.B) {
	b.Run("kfake", func(b *testing.B) {
		_, brokers := pt.Fake(b)
		runPipelineBench(b, "kfake", brokers, os.Getenv("ACCRUE_CLICKHOUSE_ADDR") != "")
	})
	b.Run("kafka", func(b *testing.B) {
		brokers := pt.RealBrokers(b)
		pt.ClickHouseAddr(b)
		runPipelineBench(b, "kafka", brokers, true)
	})
}

// pipelineTopics are the topics of one run of the stages.
type pipelineTopics struct {
	canonical, clean, rejected, credited, accrueRejected string
	accrue                                               accrueOutputs
}

func newPipelineTopics(prefix string) pipelineTopics {
	return pipelineTopics{canonical: prefix + "canonical", clean: prefix + "clean", rejected: prefix + "rejected",
		credited: prefix + "credited", accrueRejected: prefix + "accrue.rejected", accrue: accrueTopics(prefix + "accrue")}
}

func (t pipelineTopics) all() []string {
	return append([]string{t.canonical, t.clean, t.rejected, t.credited, t.accrueRejected}, t.accrue.all()...)
}

// sinkTopics maps what the sink writes to ClickHouse: clean sales,
// credits, dead letters and the accrual stage's outputs.
func (t pipelineTopics) sinkTopics() map[string]*clickhouse.Table {
	tb := clickhouse.Tables
	return map[string]*clickhouse.Table{t.clean: tb["sales.clean"], t.credited: tb["sales.credited"],
		t.rejected: tb["sales.rejected"], t.accrueRejected: tb["sales.rejected"], t.accrue.accruals: tb["accruals"],
		t.accrue.attainment: tb["attainment"], t.accrue.nudges: tb["nudges"], t.accrue.awards: tb["awards"]}
}

// pipelineWorld is what every round shares: the feed on its raw and
// reference topics, the stages' configuration, the reference tables.
type pipelineWorld struct {
	brokers []string
	prefix  string
	f       *feed.Feed
	raw     []string
	sources map[string]*ingest.Pipeline // by raw topic
	gate    *sanitize.Gate
	cat     *program.Catalog
	global  *reference.Global
	tables  *reference.Tables
}

func runPipelineBench(b *testing.B, kind string, brokers []string, withCH bool) {
	records := feedSetting(b, "ACCRUE_BENCH_FEED_RECORDS", 50_000)
	reps := feedSetting(b, "ACCRUE_BENCH_FEED_REPS", 2000)
	w := newPipelineWorldFor(b, brokers, feed.Config{Seed: 1, Records: records, Reps: reps})
	e := w.f.Expect
	cmd := fmt.Sprintf("go test ./benchmarks -run '^$' -bench 'Pipeline/%s' -benchtime %dx", kind, b.N)
	rep := report.New("pipeline-"+kind, cmd, map[string]any{
		"broker": kind, "clickhouse": withCH, "feed_records": e.Records, "feed_rows": e.Rows, "events": e.Events,
		"clean": e.Clean, "credits": e.Credits, "reps": reps, "seed": 1, "programs": len(accruePrograms),
		"partitions": benchPartitions, "batch": benchBatch, "gomaxprocs": runtime.GOMAXPROCS(0)})
	rep.Machine.Kafka = kafkaVersion(b, kind, brokers)
	rep.Facts["expect"] = e
	var conn driver.Conn
	if withCH {
		o := benchDatabase(b)
		c, err := o.Open(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conn = c
		if v, err := c.ServerVersion(); err == nil {
			rep.Machine.ClickHouse = v.String()
		}
	}

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		round := fmt.Sprintf("%s%d-", w.prefix, i)
		w.stages(b, rep, i, round, conn)
		if withCH {
			truncateAll(b, conn)
		}
		pprof.Do(context.Background(), pprof.Labels("run", "pipeline"), func(context.Context) {
			w.whole(b, rep, i, round+"e2e-", conn)
		})
	}
	b.StopTimer()
	for _, row := range rep.Results {
		if row.Round == 0 && row.Run == "stage" && row.Stage == "pipeline" {
			b.ReportMetric(row.PerSec, "pipeline_rec/s")
			b.ReportMetric(row.Of["consume"], "of_consume")
			b.ReportMetric(row.Of["ctp"], "of_ctp")
		}
	}
	b.ReportMetric(0, "ns/op")
	path, err := rep.Write("results")
	if err != nil {
		b.Fatal(err)
	}
	if err := rep.Table(os.Stdout); err != nil {
		b.Fatal(err)
	}
	b.Logf("report written to benchmarks/%s", path)
}

// feedSetting is the whole number in environment variable name, or def.
func feedSetting(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive whole number", name, s)
	}
	return n
}

// newPipelineWorldFor generates the feed, creates its raw and reference
// topics, produces it, and starts the reference tables that the link and
// accrual stages share (one Global: in production each stage's process
// has its own, read the same way).
func newPipelineWorldFor(b *testing.B, brokers []string, cfg feed.Config) *pipelineWorld {
	f, err := feed.Generate(cfg)
	if err != nil {
		b.Fatal(err)
	}
	pls, gate, err := feed.Pipelines()
	if err != nil {
		b.Fatal(err)
	}
	w := &pipelineWorld{brokers: brokers, prefix: "pl-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-", f: f,
		sources: map[string]*ingest.Pipeline{}, gate: gate, cat: accrueCatalog(b, len(accruePrograms))}
	for _, src := range feed.SourceNames {
		t := w.prefix + feed.RawTopic(src)
		w.raw = append(w.raw, t)
		w.sources[t] = pls[feed.RawTopic(src)]
	}
	refTopics := map[reference.Kind]string{}
	var compacted []string
	for _, k := range reference.Kinds {
		refTopics[k] = w.prefix + k.Topic()
		compacted = append(compacted, refTopics[k])
	}
	pt.CreateTopics(b, brokers, benchPartitions, w.raw, compacted...)

	produceEach(b, brokers, func(produce func(*kgo.Record)) {
		for _, r := range f.Reference {
			v, err := reference.Encode(r)
			if err != nil {
				b.Fatal(err)
			}
			produce(&kgo.Record{Topic: refTopics[r.Kind()], Key: []byte(reference.RecordKey(r)), Value: v})
		}
		for _, it := range f.Items {
			topic := w.prefix + it.Topic
			if it.Ref != nil {
				topic = refTopics[it.Ref.Kind()]
			}
			produce(&kgo.Record{Topic: topic, Key: it.Key, Value: it.Value})
		}
	})
	ctx := context.Background()

	w.global, err = reference.NewGlobal(reference.GlobalConfig{Brokers: brokers, Topics: refTopics, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	gctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.global.Run(gctx) }()
	b.Cleanup(func() {
		stop()
		<-done
	})
	if err := w.global.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	w.tables = w.global.Tables()
	return w
}

// create makes the topics of a round: outputs, dead letters, changelogs.
func (w *pipelineWorld) create(b *testing.B, prefix string, t pipelineTopics) {
	var changelogs []string
	for _, s := range []string{"ingest", "dedupe", "link", "accrue"} {
		changelogs = append(changelogs, prefix+s+".changelog")
	}
	pt.CreateTopics(b, w.brokers, benchPartitions, t.all(), changelogs...)
}

func (w *pipelineWorld) startIngest(b *testing.B, prefix string, t pipelineTopics) *runningStage {
	return startStage(b, pipeline.Config{Name: prefix + "ingest", Brokers: w.brokers, Inputs: w.raw, DeadLetter: t.rejected},
		pipeline.Int64Codec{}, ingest.NewProcessor(w.sources, t.canonical, w.f.Now))
}

func (w *pipelineWorld) startDedupe(b *testing.B, prefix string, t pipelineTopics) *runningStage {
	return startStage(b, pipeline.Config{Name: prefix + "dedupe", Brokers: w.brokers, Inputs: []string{t.canonical}, DeadLetter: t.rejected},
		pipeline.Int64Codec{}, ingest.NewDedupe(w.gate.Deduper(), t.clean))
}

func (w *pipelineWorld) startLink(b *testing.B, prefix string, t pipelineTopics) *runningStage {
	proc, err := link.NewProcessor(link.Config{Linker: &link.Linker{Tables: w.tables, RequireProduct: true},
		Deduper: w.gate.Deduper(), Output: t.credited})
	if err != nil {
		b.Fatal(err)
	}
	return startStage(b, pipeline.Config{Name: prefix + "link", Brokers: w.brokers, Inputs: []string{t.clean}, DeadLetter: t.rejected},
		link.EntryCodec{}, proc)
}

func (w *pipelineWorld) startAccrue(b *testing.B, prefix string, t pipelineTopics) *runningStage {
	return startAccrue(b, w.brokers, prefix+"accrue", t.credited, t.accrue, w.cat, w.tables, t.accrueRejected)
}

// limits measures the two limits of n records of inputs and adds them to
// the report under stage.
func (w *pipelineWorld) limits(b *testing.B, rep *report.Report, round int, prefix, stage string, inputs []string, n int64) {
	rep.Add(round, stage, "consume", n, plainConsume(b, w.brokers, inputs, n))
	copyTopic := prefix + "copy-" + stage
	pt.CreateTopics(b, w.brokers, benchPartitions, []string{copyTopic})
	rep.Add(round, stage, "ctp", n, plainCTP(b, w.brokers, inputs, copyTopic, prefix+"ctp-"+stage, n))
}

// stages runs each stage alone over the whole output of the one before,
// each next to its limits, and the batch job next to the accrual stage.
func (w *pipelineWorld) stages(b *testing.B, rep *report.Report, round int, prefix string, conn driver.Conn) {
	e := w.f.Expect
	t := newPipelineTopics(prefix)
	w.create(b, prefix, t)

	n := int64(e.Records)
	w.limits(b, rep, round, prefix, "ingest", w.raw, n)
	ing := w.startIngest(b, prefix, t)
	rep.Add(round, "ingest", "stage", n, ing.wait(b, func() bool { return ing.in(w.raw...) >= n }))
	ing.stop(b)
	check(b, "ingest: events", ing.out(t.canonical), int64(e.Events))
	for reason, want := range e.Rejected {
		check(b, "ingest: rejected "+reason, ing.rejects(reason), int64(want))
	}

	n = int64(e.Events)
	w.limits(b, rep, round, prefix, "dedupe", []string{t.canonical}, n)
	dd := w.startDedupe(b, prefix, t)
	rep.Add(round, "dedupe", "stage", n, dd.wait(b, func() bool { return dd.in(t.canonical) >= n }))
	dd.stop(b)
	check(b, "dedupe: clean", dd.out(t.clean), int64(e.Clean))
	check(b, "dedupe: duplicates", dd.rejects(sanitize.ReasonDuplicate), int64(e.Duplicates))

	n = int64(e.Clean)
	w.limits(b, rep, round, prefix, "link", []string{t.clean}, n)
	ln := w.startLink(b, prefix, t)
	rep.Add(round, "link", "stage", n, ln.wait(b, func() bool { return ln.in(t.clean) >= n }))
	ln.stop(b)
	check(b, "link: credits", ln.out(t.credited), int64(e.Credits))
	check(b, "link: dead letters", ln.out(t.rejected), 0)

	n = int64(e.Credits)
	w.limits(b, rep, round, prefix, "accrue", []string{t.credited}, n)
	ac := w.startAccrue(b, prefix, t)
	rep.Add(round, "accrue", "stage", n, ac.wait(b, func() bool { return accrueDone(ac, t.credited, t.accrue, n) }))
	ac.stop(b)
	checkAccrueRejects(b, ac)
	wrote := accrueWrote(ac, prefix+"accrue", t.accrue)
	rep.Facts["accrue_records_out_per_credit"] = float64(wrote.records) / float64(n)
	var d time.Duration
	var written int64
	pprof.Do(context.Background(), pprof.Labels("run", "batch"), func(context.Context) {
		d, written = batchAccrue(b, w.brokers, t.credited, n, w.cat, w.tables, prefix+"batch-out", conn)
	})
	rep.Add(round, "accrue", "batch", n, d)
	rep.Facts["batch_records_written"] = written
	for _, s := range []string{"ingest", "dedupe", "link", "accrue"} {
		rep.Compare(round, s, "consume", "ctp")
	}

	if conn == nil {
		return
	}
	sinkIn := map[string]int64{t.clean: int64(e.Clean), t.credited: int64(e.Credits),
		t.rejected: ing.out(t.rejected) + dd.out(t.rejected) + ln.out(t.rejected), t.accrueRejected: 0,
		t.accrue.accruals: ac.out(t.accrue.accruals), t.accrue.attainment: ac.out(t.accrue.attainment),
		t.accrue.nudges: ac.out(t.accrue.nudges), t.accrue.awards: ac.out(t.accrue.awards)}
	var topics []string
	n = 0
	for topic, k := range sinkIn {
		topics = append(topics, topic)
		n += k
	}
	w.limits(b, rep, round, prefix, "sink", topics, n)
	sk := startSink(b, w.brokers, conn, t.sinkTopics(), prefix+"sink", nil)
	rep.Add(round, "sink", "stage", n, sk.wait(b, func() bool { return sk.acked.Load() >= n }))
	sk.stop(b)
	rep.Compare(round, "sink", "consume", "ctp")
}

// whole runs every stage at once from the raw topics, each stage reading
// what the one before commits, and times the lot from the ingest stage's
// first record to the sink's last acknowledgement (or, without ClickHouse,
// to the moment the accrual stage has committed its last credit and
// override record). Its limits are those of the raw input.
func (w *pipelineWorld) whole(b *testing.B, rep *report.Report, round int, prefix string, conn driver.Conn) {
	e := w.f.Expect
	t := newPipelineTopics(prefix)
	w.create(b, prefix, t)
	ing, dd, ln, ac := w.startIngest(b, prefix, t), w.startDedupe(b, prefix, t), w.startLink(b, prefix, t), w.startAccrue(b, prefix, t)
	var sk *runningSink
	if conn != nil {
		sk = startSink(b, w.brokers, conn, t.sinkTopics(), prefix+"sink", nil)
	}
	// When each stage had committed all its input, in seconds from the
	// ingest stage's first record: where the pipeline waits.
	doneAt := map[string]float64{}
	upTo := func(stage string, done bool) bool {
		if _, ok := doneAt[stage]; !ok && done {
			doneAt[stage] = time.Since(time.Unix(0, ing.started.Load())).Seconds()
		}
		return done
	}
	upstream := func() bool {
		a := upTo("ingest", ing.in(w.raw...) >= int64(e.Records))
		a = upTo("dedupe", dd.in(t.canonical) >= int64(e.Events)) && a
		a = upTo("link", ln.in(t.clean) >= int64(e.Clean)) && a
		return upTo("accrue", accrueDone(ac, t.credited, t.accrue, int64(e.Credits))) && a
	}
	var d time.Duration
	if sk == nil {
		d = ing.wait(b, upstream)
	} else {
		ing.wait(b, upstream)
		want := ing.out(t.rejected) + dd.out(t.clean, t.rejected) + ln.out(t.credited, t.rejected) +
			ac.out(t.accrue.accruals, t.accrue.attainment, t.accrue.nudges, t.accrue.awards, t.accrueRejected)
		sk.wait(b, func() bool { return sk.acked.Load() >= want })
		d = time.Duration(sk.last.Load() - ing.started.Load())
		doneAt["sink"] = d.Seconds()
		sk.stop(b)
	}
	rep.Facts[fmt.Sprintf("pipeline_round%d_stage_done_at_s", round)] = doneAt
	for _, s := range []*runningStage{ac, ln, dd, ing} {
		s.stop(b)
	}
	check(b, "pipeline: credits", ln.out(t.credited), int64(e.Credits))
	rep.Facts[fmt.Sprintf("pipeline_round%d_accrue_records_out_per_credit", round)] = float64(accrueWrote(ac, prefix+"accrue", t.accrue).records) / float64(e.Credits)
	if sk != nil {
		rep.Facts[fmt.Sprintf("pipeline_round%d_sink_rows", round)] = sk.acked.Load()
	}
	for _, run := range []string{"consume", "ctp"} {
		for _, row := range rep.Results {
			if row.Round == round && row.Stage == "ingest" && row.Run == run {
				rep.Add(round, "pipeline", run, row.Records, time.Duration(row.Seconds*float64(time.Second)))
			}
		}
	}
	rep.Add(round, "pipeline", "stage", int64(e.Records), d)
	if conn != nil {
		truncate(b, conn, clickhouse.Tables["accruals"].Name)
	}
	var bd time.Duration
	pprof.Do(context.Background(), pprof.Labels("run", "batch"), func(context.Context) {
		bd, _ = w.batchRaw(b, prefix+"batch-raw-out", conn)
	})
	rep.Add(round, "pipeline", "batch", int64(e.Records), bd)
	rep.Facts[fmt.Sprintf("pipeline_round%d_credits_per_s", round)] = float64(e.Credits) / d.Seconds()
	rep.Compare(round, "pipeline", "consume", "ctp")
	for _, row := range rep.Results {
		if row.Round == round && row.Stage == "accrue" && row.Run == "batch" {
			rep.Facts[fmt.Sprintf("pipeline_round%d_seconds_over_batch_from_credits_seconds", round)] = d.Seconds() / row.Seconds
		}
	}
	rep.Facts[fmt.Sprintf("pipeline_round%d_seconds_over_batch_from_raw_seconds", round)] = d.Seconds() / bd.Seconds()
}

func check(b *testing.B, what string, got, want int64) {
	b.Helper()
	if got != want {
		b.Errorf("%s: %d, the feed says %d", what, got, want)
	}
}

// batchJob is the batch peer, the nightly job incentive suites run: read
// everything, compute the accruals with the accrual engine in one store in
// memory, each override record applied right after the credit that made
// it, as `accrue simulate` does; write every accrual as it is made (to
// ClickHouse's accruals table when conn is set, in inserts of 50,000 rows,
// else to out) and, at the end, every rep's statement to out, with a plain
// producer.
type batchJob struct {
	b       *testing.B
	ctx     context.Context
	eng     *accrue.Engine
	store   accrue.MemoryStore
	in, out *kgo.Client
	topic   string // of the statements, and of the accruals without conn
	conn    driver.Conn
	rows    clickhouse.Rows
	offset  int64
	written atomic.Int64
	perr    atomic.Pointer[error]
}

func newBatchJob(b *testing.B, brokers, inputs []string, cat *program.Catalog, tb *reference.Tables, out string, conn driver.Conn) *batchJob {
	pt.CreateTopics(b, brokers, benchPartitions, []string{out})
	eng, err := accrue.New(accrue.CatalogPrograms(cat), tb)
	if err != nil {
		b.Fatal(err)
	}
	j := &batchJob{b: b, ctx: context.Background(), eng: eng, store: accrue.MemoryStore{}, topic: out, conn: conn,
		rows: clickhouse.Tables["accruals"].NewRows()}
	if j.in, err = kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(inputs...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(j.in.Close)
	if j.out, err = kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MaxBufferedRecords(200_000)); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(j.out.Close)
	if err := j.in.Ping(j.ctx); err != nil {
		b.Fatal(err)
	}
	return j
}

func (j *batchJob) produce(key string, v []byte) {
	j.out.Produce(j.ctx, &kgo.Record{Topic: j.topic, Key: []byte(key), Value: v}, func(_ *kgo.Record, err error) {
		if err != nil {
			j.perr.CompareAndSwap(nil, &err)
		}
		j.written.Add(1)
	})
}

func (j *batchJob) flush() {
	if j.rows.Len() == 0 {
		return
	}
	if err := insertRows(j.ctx, j.conn, clickhouse.Tables["accruals"], j.rows); err != nil {
		j.b.Fatal(err)
	}
	j.written.Add(int64(j.rows.Len()))
	j.rows.Reset()
}

// emit writes the accruals of o.
func (j *batchJob) emit(o *accrue.Output) {
	for i := range o.Accruals {
		a := &o.Accruals[i]
		if j.conn == nil {
			j.produce(a.RepID, a.AppendJSON(nil))
			continue
		}
		j.offset++
		if err := j.rows.Add(&kgo.Record{Topic: j.topic, Offset: j.offset, Timestamp: time.Now(), Key: []byte(a.RepID), Value: a.AppendJSON(nil)}); err != nil {
			j.b.Fatal(err)
		}
		if j.rows.Len() == 50_000 {
			j.flush()
		}
	}
}

// run reads n records, handing each to each (which applies what it
// holds), writes the last accruals and every statement, and returns the
// time from the first read to the last write acknowledged, and how many
// rows and records it wrote.
func (j *batchJob) run(n int64, each func(*kgo.Record)) (time.Duration, int64) {
	start := time.Now()
	readN(j.b, j.in, n, each)
	j.flush()
	for _, s := range j.eng.Statements(j.store) {
		j.produce(s.RepID, s.AppendJSON(nil))
	}
	if err := j.out.Flush(j.ctx); err != nil {
		j.b.Fatal(err)
	}
	if p := j.perr.Load(); p != nil {
		j.b.Fatal(*p)
	}
	return time.Since(start), j.written.Load()
}

// batchAccrue runs the batch job from the n credits of topic, as the
// accrual stage reads them.
func batchAccrue(b *testing.B, brokers []string, topic string, n int64, cat *program.Catalog, tb *reference.Tables, out string, conn driver.Conn) (time.Duration, int64) {
	j := newBatchJob(b, brokers, []string{topic}, cat, tb, out, conn)
	return j.run(n, func(r *kgo.Record) {
		c, err := accrue.DecodeCredit(r.Value)
		if err != nil {
			b.Fatalf("credit at %s/%d/%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		applyOffline(b, j.eng, j.store, c, j.emit)
	})
}

// batchRaw runs the batch job from the raw records, as the whole pipeline
// reads them: each mapped and checked by its source's ingest pipeline,
// deduplicated and linked in memory, each credit applied.
func (w *pipelineWorld) batchRaw(b *testing.B, out string, conn driver.Conn) (time.Duration, int64) {
	j := newBatchJob(b, w.brokers, w.raw, w.cat, w.tables, out, conn)
	seen, dedupe := ingest.MemorySeen{}, w.gate.Deduper()
	linker, orig := &link.Linker{Tables: w.tables, RequireProduct: true}, link.MemoryOriginals{}
	var credits int
	d, written := j.run(int64(w.f.Expect.Records), func(r *kgo.Record) {
		w.sources[r.Topic].Run(r.Value, w.f.Now(), func(res ingest.Result) {
			if res.Event == nil || dedupe.CheckAndRemember(seen, res.Event) != nil {
				return
			}
			cs, miss, rj := linker.Link(res.Event, orig)
			if miss != nil || rj != nil {
				b.Fatalf("batch: %s does not link: %v %v", res.Event.EventID, miss, rj)
			}
			for i := range cs {
				applyOffline(b, j.eng, j.store, &cs[i], j.emit)
			}
			credits += len(cs)
		})
	})
	check(b, "batch from raw: credits", int64(credits), int64(w.f.Expect.Credits))
	return d, written
}

// insertRows writes rows to t as the sink does: one insert naming the
// columns, each column appended whole.
func insertRows(ctx context.Context, conn driver.Conn, t *clickhouse.Table, rows clickhouse.Rows) error {
	batch, err := conn.PrepareBatch(ctx, t.Insert())
	if err != nil {
		return err
	}
	defer batch.Close()
	for i, col := range rows.Columns() {
		if err := batch.Column(i).Append(col); err != nil {
			return fmt.Errorf("column %s: %w", t.Columns[i], err)
		}
	}
	return batch.Send()
}

// truncateAll empties the tables the sink writes, between runs.
func truncateAll(b *testing.B, conn driver.Conn) {
	seen := map[string]bool{}
	for _, t := range clickhouse.Tables {
		name := t.Name
		if !seen[name] {
			seen[name] = true
			truncate(b, conn, name)
		}
	}
}

// kafkaVersion is the broker's version as franz-go guesses it from the
// API versions it supports ("kfake" for the embedded broker).
func kafkaVersion(b *testing.B, kind string, brokers []string) string {
	if kind == "kfake" {
		return "kfake (franz-go's embedded broker, in this process)"
	}
	adm := pt.Admin(b, brokers)
	vs, err := adm.ApiVersions(context.Background())
	if err != nil {
		return ""
	}
	var out []string
	vs.Each(func(v kadm.BrokerApiVersions) { out = append(out, v.VersionGuess()) })
	return strings.Join(out, ", ")
}
