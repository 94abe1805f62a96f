package benchmarks

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/benchmarks/report"
	"github.com/accrue/accrue/connectors/canonical"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/ingest"
)

// BenchmarkLatencyChain is BenchmarkLatencyAccrue over two stages: canonical
// events through `accrue stage link` (deduplication, links to reps and
// products, one credit per recipient) and `accrue stage accrue`, one
// process each, so a record crosses two transactions and two topics. The
// latency of an event runs from just before the benchmark produces it to
// the canonical topic to the moment a read_committed consumer receives the
// first accrual naming its event_id. The maximum is the chain's, over a
// backlog of the same events in the same run.
//
// It starts after ingest: the ingest stage maps raw source records to the
// canonical events this benchmark writes itself.
//
//	go test ./benchmarks -run '^$' -bench LatencyChain -benchtime 1x -timeout 30m
//
// ACCRUE_BENCH_LATENCY_SECONDS (default 20) and ACCRUE_BENCH_SCALE_CREDITS
// (default 150000: the credits of the backlog) as for
// BenchmarkLatencyAccrue. The report goes to
// benchmarks/results/latency-chain.json.
func BenchmarkLatencyChain(b *testing.B) {
	brokers := pt.RealBrokers(b)
	bin := pt.AccrueBinary(b)
	n := envInt(b, "ACCRUE_BENCH_SCALE_CREDITS", 150_000)
	secs := envInt(b, "ACCRUE_BENCH_LATENCY_SECONDS", 20)
	w := newScaleWorld(b, bin, brokers)
	var products strings.Builder
	for i := range 50 {
		fmt.Fprintf(&products, `{"product_id":"P-%d","category":"software","valid_from":"2026-01-01"}`+"\n", i)
	}
	w.loadRef(b, "products", products.String())

	backlog, credits := chainEvents(n)
	events := len(backlog)
	top := w.chainRound(b, "chain-max-"+w.sfx, backlog, credits)
	maxRate := float64(events) / top.Seconds()
	b.Logf("maximum: %.0f events/s (%d events, %d credits) in %v", maxRate, events, credits, top)
	backlog = nil

	// Enough events for the highest load: an event makes 1.2 credits.
	want := int(loads[len(loads)-1]*maxRate*float64(secs)) + 1
	feed, _ := chainEvents(want*13/10 + 1)
	ids := make(map[string]int, len(feed))
	for i, kv := range feed {
		ids[string(fieldValue(kv.value, "event_id"))] = i
	}

	rep := report.New("latency-chain", "go test ./benchmarks -run '^$' -bench LatencyChain -benchtime 1x -timeout 30m", map[string]any{
		"seconds_per_load": secs, "backlog_events": events, "backlog_credits": credits, "partitions": benchPartitions, "max_poll_records": accrueBatch,
		"programs": 1, "reps": accrueReps, "stages": "accrue stage link → accrue stage accrue, one process each",
		"latency": "from just before the canonical event is produced to its first accrual received by a read_committed consumer",
	})
	rep.Machine.Kafka = brokerVersion(b, brokers)
	rep.Add(0, "link+accrue", "max (backlog)", int64(events), top)
	rep.Facts["latency"] = atLoads(b, rep, "link+accrue", maxRate, func(i int, rate float64) (int, latencyResult) {
		k := min(int(rate*float64(secs)), len(feed))
		return k, w.chainLatency(b, fmt.Sprintf("chain-%s-%d", w.sfx, i), rate, feed[:k], ids)
	})
	rep.Compare(0, "link+accrue", "max (backlog)")
	b.ReportMetric(maxRate, "max_events/s")
	b.ReportMetric(0, "ns/op")
	rep.Notes = append(rep.Notes,
		"records are canonical events (a fifth split in two: about 1.2 credits an event); the maximum is the chain's over a backlog",
		"a load row's records/s is what the chain achieved: its events over the time from the first sent to the accrual stage's last credit committed",
		"latency includes two stages' polls, processing and transactions, and the consumer's fetch; all on the same 2 cores as the broker")
	writeReport(b, rep)
}

// chainEvents are the canonical events behind accrueCredits(n), in their
// order, keyed as the ingest stage keys them, and the credits the link
// stage makes of them.
func chainEvents(n int) ([]keyValue, int) {
	var out []keyValue
	credits := 0
	var last *canonical.Event
	for _, c := range accrueCredits(n) {
		if c.Event == last {
			continue
		}
		last = c.Event
		out = append(out, keyValue{ingest.Key(c.Event), c.Event.AppendJSON(nil)})
		credits += max(1, len(c.Event.Splits))
	}
	return out, credits
}

// startChain starts the link stage feeding a new accrual stage named name;
// before (if not nil) is called once the topics exist and before any
// process starts. The returned stage run's input is the canonical topic.
func (w *scaleWorld) startChain(b *testing.B, name string, before func(canonicalTopic string)) (link, accrual *stageRun) {
	b.Helper()
	canon, linkName := name+"-canonical", name+"-link"
	pt.CreateTopics(b, w.brokers, benchPartitions, []string{canon, linkName + ".rejected"}, linkName+".changelog")
	accrual = w.start(b, "accrue", name, 1, func(sr *stageRun) {
		if before != nil {
			before(canon)
		}
		addr := pt.FreeAddr(b)
		link = &stageRun{name: linkName, input: canon}
		link.procs = []stageProc{{pt.StartProc(b, w.bin, w.logDir(b), linkName, "--brokers", w.brokers[0], "--log-level", "info",
			"stage", "link", "--name", linkName, "--input", canon, "--output", sr.input, "--dead-letter", linkName+".rejected",
			"--ref-prefix", w.refPrefix, "--instance-id", "0", "--admin-addr", addr), addr}}
		link.cleanup = func() {
			stopAll(link.procs)
			deleteTopics(b, w.adm, canon, linkName+".rejected", linkName+".changelog")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _ = w.adm.DeleteGroups(ctx, "accrue-"+linkName)
		}
	})
	waitSpread(b, w.adm, "accrue-"+linkName, canon, 1, benchPartitions, link.procs)
	return link, accrual
}

// chainRound times the chain over events committed at once: from the
// commit to the accrual stage's last credit (and override record)
// committed.
func (w *scaleWorld) chainRound(b *testing.B, name string, events []keyValue, credits int) time.Duration {
	b.Helper()
	var feedTxn *kgo.Client
	link, accrual := w.startChain(b, name, func(canon string) {
		feedTxn = openFeed(b, w.brokers, canon, name+"-feed", events)
	})
	defer link.cleanup()
	defer accrual.cleanup()
	defer feedTxn.Close()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := feedTxn.EndTransaction(ctx, kgo.TryCommit); err != nil {
		b.Fatalf("commit the feed: %v", err)
	}
	w.waitChain(b, link, accrual, len(events), credits, start.Add(10*time.Minute))
	return time.Since(start)
}

// waitChain waits until the link stage has committed events inputs and
// the accrual stage credits credits (with credits < 0: every credit the
// link stage committed) and every override record it wrote.
func (w *scaleWorld) waitChain(b *testing.B, link, accrual *stageRun, events, credits int, deadline time.Time) {
	b.Helper()
	for {
		lm, am := scrapeAll(b, link.procs), scrapeAll(b, accrual.procs)
		in, cr := sumMetric(lm, recordsIn(link.name, link.input)), sumMetric(am, recordsIn(accrual.name, accrual.input))
		want := float64(credits)
		if credits < 0 {
			want = sumMetric(lm, recordsOut(link.name, accrual.input))
		}
		ovIn := sumMetric(am, recordsIn(accrual.name, accrual.name+"-overrides"))
		ovOut := sumMetric(am, recordsOut(accrual.name, accrual.name+"-overrides"))
		if in >= float64(events) && cr >= want && ovIn >= ovOut {
			if rej := sumPrefix(lm, "accrue_stage_rejects_total") + sumPrefix(am, "accrue_stage_rejects_total"); rej > 0 {
				b.Fatalf("%s: %v records rejected", accrual.name, rej)
			}
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: %v of %d events linked, %v of %v credits accrued", accrual.name, in, events, cr, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// chainLatency feeds the chain events at rate a second while a
// read_committed consumer of the accruals notes when each event's first
// accrual arrives.
func (w *scaleWorld) chainLatency(b *testing.B, name string, rate float64, events []keyValue, ids map[string]int) latencyResult {
	b.Helper()
	link, accrual := w.startChain(b, name, nil)
	defer link.cleanup()
	defer accrual.cleanup()
	return w.measure(b, accrual, link.input, rate, events, ids, "event_id", func(deadline time.Time) {
		w.waitChain(b, link, accrual, len(events), -1, deadline)
	})
}
