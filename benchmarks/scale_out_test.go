package benchmarks

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/benchmarks/report"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// BenchmarkScaleOut adds an instance to a running accrual stage, as an
// operator scales out: one `accrue stage accrue` process applies the
// first half of the credits; then the second half is written and a second
// process joins the group. The group moves partitions to it, it restores
// their state from the changelog (what the first instance had built), and
// both apply the rest. Per round it reports the time the first half took
// alone, the time from the join to the last credit committed, the
// changelog records the new instance restored and how long that took (its
// state_restore_seconds), and whether the group's assignment kept the
// partition numbers of the stage's inputs together (co-partitioned: each
// instance holds the same partitions of the credits and of the override
// records, as the stage's state per partition needs).
//
//	go test ./benchmarks -run '^$' -bench ScaleOut -benchtime 1x -timeout 30m
//
// ACCRUE_BENCH_SCALE_CREDITS (default 150000) credits a round,
// ACCRUE_BENCH_ROUNDS (default 4) rounds. The report goes to
// benchmarks/results/scale-out.json.
func BenchmarkScaleOut(b *testing.B) {
	brokers := pt.RealBrokers(b)
	bin := pt.AccrueBinary(b)
	n := envInt(b, "ACCRUE_BENCH_SCALE_CREDITS", 150_000)
	rounds := envInt(b, "ACCRUE_BENCH_ROUNDS", 4)
	w := newScaleWorld(b, bin, brokers)
	feed := make([]keyValue, 0, n)
	for _, c := range accrueCredits(n) {
		feed = append(feed, keyValue{[]byte(c.RepID), c.AppendJSON(nil)})
	}
	rep := report.New("scale-out", "go test ./benchmarks -run '^$' -bench ScaleOut -benchtime 1x -timeout 30m", map[string]any{
		"credits_per_round": n, "rounds": rounds, "partitions": benchPartitions, "max_poll_records": accrueBatch,
		"programs": 1, "reps": accrueReps, "stage": "accrue stage accrue: one process, then a second joins its group",
	})
	rep.Machine.Kafka = brokerVersion(b, brokers)
	split := 0
	for r := range rounds {
		res := w.scaleOut(b, r, feed)
		b.Logf("round %d: first half %v alone; after the join %v; the new instance restored %d records in %.2fs; partitions %s; co-partitioned %v",
			r, res.alone.Round(time.Millisecond), res.after.Round(time.Millisecond), res.restored, res.restoreSecs, res.partitions, res.copartitioned)
		rep.Add(r, "accrue", "1 instance, first half", int64(len(feed)/2), res.alone)
		rep.Add(r, "accrue", "2 instances from the join", int64(len(feed)-len(feed)/2), res.after)
		rep.Compare(r, "accrue", "1 instance, first half")
		rep.Facts[fmt.Sprintf("round %d", r)] = map[string]any{"copartitioned": res.copartitioned,
			"partitions_after_the_join": res.partitions, "new_instance_restored_records": res.restored,
			"new_instance_restore_seconds": round(res.restoreSecs, 3)}
		if !res.copartitioned {
			split++
		}
	}
	b.ReportMetric(float64(split), "rounds_not_copartitioned")
	b.ReportMetric(0, "ns/op")
	rep.Notes = append(rep.Notes,
		"'2 instances from the join' includes the rebalance, the new instance's start and its restore",
		"partitions_after_the_join: per instance, the partitions of each input (credits, overrides, recompute)")
	writeReport(b, rep)
}

// scaleOutResult is one round of BenchmarkScaleOut.
type scaleOutResult struct {
	alone, after  time.Duration
	restored      int
	restoreSecs   float64
	partitions    string
	copartitioned bool
}

func (w *scaleWorld) scaleOut(b *testing.B, r int, feed []keyValue) scaleOutResult {
	b.Helper()
	name := fmt.Sprintf("scaleout-%s-%d", w.sfx, r)
	half := len(feed) / 2
	var first *kgo.Client
	sr := w.start(b, "accrue", name, 1, func(sr *stageRun) {
		first = openFeed(b, w.brokers, sr.input, name+"-feed-1", feed[:half])
	})
	defer sr.cleanup()
	defer first.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	if err := first.EndTransaction(ctx, kgo.TryCommit); err != nil {
		b.Fatalf("commit the first half: %v", err)
	}
	w.waitCredits(b, sr, half, start.Add(10*time.Minute))
	var res scaleOutResult
	res.alone = time.Since(start)

	second := openFeed(b, w.brokers, sr.input, name+"-feed-2", feed[half:])
	defer second.Close()
	if err := second.EndTransaction(ctx, kgo.TryCommit); err != nil {
		b.Fatalf("commit the second half: %v", err)
	}
	joined := time.Now()
	sr.procs = append(sr.procs, w.proc(b, "accrue", name, sr.input, 1))
	res.copartitioned = waitSpread(b, w.adm, "accrue-"+name, sr.input, 2, 3*benchPartitions, sr.procs)
	res.partitions = w.assignment(b, "accrue-"+name)
	m := w.waitCredits(b, sr, len(feed), joined.Add(10*time.Minute))
	res.after = time.Since(joined)
	res.restored = int(m[1][fmt.Sprintf(`accrue_stage_state_restored_records_total{stage=%q}`, name)])
	res.restoreSecs = m[1][fmt.Sprintf(`accrue_stage_state_restore_seconds_sum{stage=%q}`, name)]
	return res
}

// waitCredits waits until the stage's instances have committed n credits
// and read back every override record they wrote, and returns their last
// metrics.
func (w *scaleWorld) waitCredits(b *testing.B, sr *stageRun, n int, deadline time.Time) []map[string]float64 {
	b.Helper()
	for {
		m := scrapeAll(b, sr.procs)
		in := sumMetric(m, recordsIn(sr.name, sr.input))
		ovIn, ovOut := sumMetric(m, recordsIn(sr.name, sr.name+"-overrides")), sumMetric(m, recordsOut(sr.name, sr.name+"-overrides"))
		if in >= float64(n) && ovIn >= ovOut {
			if rej := sumPrefix(m, `accrue_stage_rejects_total{stage="`+sr.name+`"`); rej > 0 {
				b.Fatalf("%s rejected %v inputs", sr.name, rej)
			}
			return m
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: %v of %d credits committed in time", sr.name, in, n)
		}
		for _, p := range sr.procs {
			if !p.Alive() {
				p.Died()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assignment describes the group's members' partitions, input by input:
// "credits 0 3 4, overrides 1 2 5, recompute 1 2 5 | ...".
func (w *scaleWorld) assignment(b *testing.B, group string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ds, err := w.adm.DescribeGroups(ctx, group)
	if err != nil {
		b.Fatal(err)
	}
	out := ""
	for i, m := range ds[group].Members {
		c, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		if i > 0 {
			out += " | "
		}
		for j, t := range c.Topics {
			if j > 0 {
				out += ", "
			}
			out += fmt.Sprintf("%s %v", suffixAfter(t.Topic), t.Partitions)
		}
	}
	return out
}

// suffixAfter is what follows the last '-' of a topic name: "in",
// "overrides", "recompute".
func suffixAfter(topic string) string {
	for i := len(topic) - 1; i >= 0; i-- {
		if topic[i] == '-' {
			return topic[i+1:]
		}
	}
	return topic
}
