package benchmarks

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/benchmarks/report"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// BenchmarkLatencyAccrue measures the accrual stage's latency under
// load: one `accrue stage accrue` process, as in BenchmarkScaleInstances,
// first timed over a backlog of credits (its maximum rate in this run),
// then fed credits at 25%, 50% and 90% of that rate for a while each, on
// topics of its own. The latency of a credit is the time from just before
// the benchmark produces it to the moment a read_committed consumer of
// the accruals topic, in the benchmark's process, receives the credit's
// own accrual (the first record whose input_id is the credit's id; a
// credit that moves no earned makes none and is not sampled).
//
//	go test ./benchmarks -run '^$' -bench LatencyAccrue -benchtime 1x -timeout 30m
//
// ACCRUE_BENCH_LATENCY_SECONDS (default 20) is how long each load lasts;
// ACCRUE_BENCH_SCALE_CREDITS (default 150000) the backlog of the maximum.
// The report goes to benchmarks/results/latency.json (benchmarks/report),
// which `go run ./benchmarks/plot` draws.
func BenchmarkLatencyAccrue(b *testing.B) {
	brokers := pt.RealBrokers(b)
	bin := pt.AccrueBinary(b)
	n := envInt(b, "ACCRUE_BENCH_SCALE_CREDITS", 150_000)
	secs := envInt(b, "ACCRUE_BENCH_LATENCY_SECONDS", 20)
	w := newScaleWorld(b, bin, brokers)

	maxFeed := make([]keyValue, 0, n)
	for _, c := range accrueCredits(n) {
		maxFeed = append(maxFeed, keyValue{[]byte(c.RepID), c.AppendJSON(nil)})
	}
	top := w.round(b, "accrue", 0, 1, maxFeed)
	b.Logf("maximum: %.0f credits/s over a backlog of %d", top.rate, n)
	maxFeed = nil

	// Enough credits for the highest load, in the order of the backlog's.
	total := int(loads[len(loads)-1]*top.rate*float64(secs)) + 1
	credits := accrueCredits(total)
	feed := make([]keyValue, total)
	ids := make(map[string]int, total)
	for i := range credits {
		feed[i] = keyValue{[]byte(credits[i].RepID), credits[i].AppendJSON(nil)}
		ids[credits[i].ID()] = i
	}
	credits = nil

	rep := report.New("latency", "go test ./benchmarks -run '^$' -bench LatencyAccrue -benchtime 1x -timeout 30m", map[string]any{
		"seconds_per_load": secs, "backlog_credits": n, "partitions": benchPartitions, "max_poll_records": accrueBatch,
		"programs": 1, "reps": accrueReps, "stage": "accrue stage accrue, one process (--parallelism default: GOMAXPROCS)",
		"latency": "from just before the credit is produced to its accrual received by a read_committed consumer",
	})
	rep.Machine.Kafka = brokerVersion(b, brokers)
	rep.Add(0, "accrue", "max (backlog)", int64(n), top.took)
	rep.Facts["latency"] = atLoads(b, rep, "accrue", top.rate, func(i int, rate float64) (int, latencyResult) {
		k := int(rate * float64(secs))
		return k, w.latency(b, fmt.Sprintf("latency-%s-%d", w.sfx, i), rate, feed[:k], ids)
	})
	rep.Compare(0, "accrue", "max (backlog)")
	b.ReportMetric(top.rate, "max_credits/s")
	b.ReportMetric(0, "ns/op")
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("the maximum is one instance's rate over a backlog of %d credits in batches of up to %d; under a steady load the batches are what arrived since the last poll", n, accrueBatch),
		"a load row's records/s is what the stage achieved: its credits over the time from the first sent to the last committed",
		"latency includes the producer's send, the stage's poll, processing and transaction commit, and the consumer's fetch; all on the same 2 cores as the broker")
	writeReport(b, rep)
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 1) }

// loads are the offered loads of the latency benchmarks, as fractions of
// the maximum measured in the same run.
var loads = []float64{0.25, 0.5, 0.9}

// atLoads offers stage each load of loads, a fraction of maxRate, with
// run (which returns how many records it sent and what it measured), and
// reports each load's latencies: in rep (a row and the figures it
// returns), in b's metrics and in the log.
func atLoads(b *testing.B, rep *report.Report, stage string, maxRate float64, run func(i int, rate float64) (int, latencyResult)) map[string]any {
	lat := map[string]any{}
	for i, f := range loads {
		rate := f * maxRate
		k, res := run(i, rate)
		last := res.p(1)
		b.Logf("%.0f%%: %.0f/s offered, %.0f achieved; p50 %v p90 %v p99 %v max %v (%d samples)", f*100, rate,
			res.achieved, res.p(0.5), res.p(0.9), res.p(0.99), last, len(res.lat))
		name := fmt.Sprintf("%.0f%% load", f*100)
		rep.Add(0, stage, name, int64(k), res.took)
		lat[name] = map[string]any{"offered_per_s": round(rate, 0), "samples": len(res.lat), "p50_ms": ms(res.p(0.5)),
			"p90_ms": ms(res.p(0.9)), "p99_ms": ms(res.p(0.99)), "max_ms": ms(last)}
		b.ReportMetric(ms(res.p(0.5)), fmt.Sprintf("p50_ms@%.0f%%", f*100))
		b.ReportMetric(ms(res.p(0.99)), fmt.Sprintf("p99_ms@%.0f%%", f*100))
	}
	return lat
}

// latencyResult is one load's latencies, sorted.
type latencyResult struct {
	lat      []time.Duration
	achieved float64
	took     time.Duration // first credit sent to last committed
}

func (r latencyResult) p(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(q * float64(len(r.lat)))
	if i >= len(r.lat) {
		i = len(r.lat) - 1
	}
	return r.lat[i]
}

// latency runs one accrual stage instance on topics of its own and feeds
// it at rate credits a second, while a read_committed consumer of its
// accruals notes when each credit's first accrual arrives.
func (w *scaleWorld) latency(b *testing.B, name string, rate float64, feed []keyValue, ids map[string]int) latencyResult {
	b.Helper()
	sr := w.start(b, "accrue", name, 1, nil)
	defer sr.cleanup()
	return w.measure(b, sr, sr.input, rate, feed, ids, "input_id", func(deadline time.Time) {
		for {
			m := scrapeAll(b, sr.procs)
			in := sumMetric(m, recordsIn(name, sr.input))
			if in >= float64(len(feed)) {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: %v of %d credits committed after 5 minutes", name, in, len(feed))
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// measure feeds topic at rate records a second while a read_committed
// consumer of the accrual stage sr's accruals notes when the first
// accrual naming each record arrives: field ("input_id" or "event_id")
// of the accrual, looked up in ids, gives the record's index in feed. done
// must return once everything fed is committed (or fail the benchmark
// after deadline); the consumer then reads every accrual committed.
func (w *scaleWorld) measure(b *testing.B, sr *stageRun, topic string, rate float64, feed []keyValue, ids map[string]int,
	field string, done func(deadline time.Time)) latencyResult {
	b.Helper()
	accruals := sr.name + "-accruals"
	sent := make([]atomic.Int64, len(feed))
	seen := make([]bool, len(feed))
	var mu sync.Mutex
	var lat []time.Duration
	var read atomic.Int64
	cons, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.ConsumeTopics(accruals),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(time.Second))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				read.Add(1)
				i, ok := ids[string(fieldValue(r.Value, field))]
				if !ok || i >= len(feed) || seen[i] {
					return
				}
				seen[i] = true
				if t := sent[i].Load(); t != 0 {
					mu.Lock()
					lat = append(lat, now.Sub(time.Unix(0, t)))
					mu.Unlock()
				}
			})
		}
	}()
	defer func() { cancel(); <-consumed; cons.Close() }()

	prod, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0),
		kgo.MaxBufferedRecords(len(feed)+1))
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	var perr atomic.Pointer[error]
	start := time.Now()
	for i := 0; i < len(feed); {
		due := min(int(rate*time.Since(start).Seconds())+1, len(feed))
		for ; i < due; i++ {
			sent[i].Store(time.Now().UnixNano())
			prod.Produce(ctx, &kgo.Record{Key: feed[i].key, Value: feed[i].value}, func(_ *kgo.Record, err error) {
				if err != nil {
					perr.CompareAndSwap(nil, &err)
				}
			})
		}
		time.Sleep(time.Millisecond)
	}
	if err := prod.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if p := perr.Load(); p != nil {
		b.Fatal(*p)
	}
	deadline := time.Now().Add(5 * time.Minute)
	done(deadline)
	end := time.Now()
	for float64(read.Load()) < sumMetric(scrapeAll(b, sr.procs), recordsOut(sr.name, accruals)) {
		if time.Now().After(deadline) {
			b.Fatalf("%s: %d accruals read after 5 minutes", sr.name, read.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lat) == 0 {
		b.Fatalf("%s: no accrual matched a record fed", sr.name)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return latencyResult{lat: lat, achieved: float64(len(feed)) / end.Sub(start).Seconds(), took: end.Sub(start)}
}

// fieldValue is the value of the first string field name of a JSON
// record: an accrual's "input_id" is the credit (or override record) that
// made it, its "event_id" the source event.
func fieldValue(v []byte, name string) []byte {
	field := `"` + name + `":"`
	i := bytes.Index(v, []byte(field))
	if i < 0 {
		return nil
	}
	v = v[i+len(field):]
	if j := bytes.IndexByte(v, '"'); j >= 0 {
		return v[:j]
	}
	return nil
}
