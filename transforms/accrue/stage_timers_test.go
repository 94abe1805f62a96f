package accrue

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/link"
)

func catalogOf(t testing.TB, progs ...*program.Program) *program.Catalog {
	t.Helper()
	cat := program.NewCatalog()
	for _, p := range progs {
		p.Digest = p.Key()
		if err := cat.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	return cat
}

// timerNudges are the values of the nudges topic, read_committed, in
// partition order.
func timerNudges(t testing.TB, tp *stageTopics) []string {
	var out []string
	for _, r := range pt.ReadAll(t, tp.brokers, tp.nudges) {
		out = append(out, string(r.Value))
	}
	return out
}

// abortNudgeTransactions makes the offset commit of the next n
// transactions that write a nudge fail, so that they abort.
func abortNudgeTransactions(t testing.TB, c *kfake.Cluster, brokers []string, nudges string, n int32) *atomic.Int32 {
	td, err := pt.Admin(t, brokers).ListTopics(context.Background(), nudges)
	if err != nil || td[nudges].Err != nil {
		t.Fatalf("topic %s: %v %v", nudges, err, td[nudges].Err)
	}
	id := td[nudges].ID
	var armed atomic.Bool
	var left atomic.Int32
	left.Store(n)
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, tp := range req.(*kmsg.ProduceRequest).Topics {
			// Produce names topics by id since version 13.
			if (tp.Topic == nudges || tp.TopicID == id) && left.Load() > 0 {
				armed.Store(true)
			}
		}
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.TxnOffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !armed.Swap(false) || left.Add(-1) < 0 {
			return nil, nil, false
		}
		return pt.RefuseOffsets(req.(*kmsg.TxnOffsetCommitRequest), kerr.RebalanceInProgress), nil, true
	})
	return &left
}

// A partition that receives no credit moves on in event time by the idle
// advance, and the inactivity timers of its reps fire: each once, though
// the transactions that first fire them abort, and again none after the
// partition is restored by another instance.
func TestStageTimersIdleAdvance(t *testing.T) {
	c, brokers := pt.Fake(t)
	tp := newStageTopics(t, brokers, 1)
	// R-1's and R-3's stretches end 3 and 4 seconds after the
	// partition's watermark (R-2's last sale); R-2's a day later.
	base := at("2026-11-20T12:00:00Z")
	p := plan(inactivity(1))
	tb := tables(t, defaultReps, "", defaultFX)
	var credits []link.Credit
	for i, s := range []struct {
		rep  string
		when time.Time
	}{{"R-1", base.Add(-24 * time.Hour)}, {"R-3", base.Add(-24*time.Hour + time.Second)}, {"R-2", base.Add(-3 * time.Second)}} {
		credits = append(credits, *credit(t, tb, sale(fmt.Sprint("T", i), s.when.Format(time.RFC3339), s.rep, "100 USD"), s.rep))
	}
	left := abortNudgeTransactions(t, c, brokers, tp.nudges, 2)
	produceCredits(t, brokers, tp.credited, credits)

	met := pipeline.NewMetrics(prometheus.NewRegistry())
	am := NewMetrics(prometheus.NewRegistry())
	cfg := tp.config(catalogOf(t, p), tb, nil, am)
	cfg.IdleAdvance = 300 * time.Millisecond
	proc, err := NewProcessor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := tp.run(t, "a", proc, met)
	pt.WaitFor(t, 60*time.Second, "two inactivity nudges", func() bool { return len(timerNudges(t, tp)) >= 2 })
	time.Sleep(time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		got := timerNudges(t, tp)
		want := []string{
			`{"kind":"inactivity","nudge_id":"ae/2026-11/R-1/inactivity/2026-11-19T12:00:00Z","program_id":"ae","period":"2026-11","rep_id":"R-1","days":1,"last_sale":"2026-11-19T12:00:00Z","at":"2026-11-20T12:00:00Z"}`,
			`{"kind":"inactivity","nudge_id":"ae/2026-11/R-3/inactivity/2026-11-19T12:00:01Z","program_id":"ae","period":"2026-11","rep_id":"R-3","days":1,"last_sale":"2026-11-19T12:00:01Z","at":"2026-11-20T12:00:01Z"}`,
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: want R-1's and R-3's inactivity once each, got %d:\n%s", when, len(got), strings.Join(got, "\n"))
		}
	}
	check("first instance")
	if left.Load() > 0 || pipeline.Count(met.Transactions(tp.name, "aborted")) < 2 {
		t.Fatalf("no transaction firing a nudge aborted (%d left to abort)", left.Load())
	}
	if n := testutil.ToFloat64(am.timerNudges.WithLabelValues("inactivity")); n < 2 {
		t.Errorf("timer nudges metric %v", n)
	}
	// Another instance restores the partitions, watermark included: what
	// fired stays fired.
	proc, err = NewProcessor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop = tp.run(t, "b", proc, met)
	time.Sleep(2 * time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	check("after a restore")
	var marks int
	for _, r := range pt.ReadAll(t, brokers, tp.name+".changelog") {
		if string(r.Key) == keyWatermark {
			marks++
		}
	}
	if marks < 2 {
		t.Errorf("%d watermark records in the changelog, want the credits' and the idle advances'", marks)
	}
}

// Timers driven by the credits' event time fire in the stage exactly as in
// one sequential run, across aborted transactions and a restart.
func TestStageTimersMatchSequentialAcrossAborts(t *testing.T) {
	c, brokers := pt.Fake(t)
	tp := newStageTopics(t, brokers, 1)
	progs := []*program.Program{plan(inactivity(4), periodEnding(6, "0.5"))}
	want := newTimerRun(t, progs...)
	var credits []link.Credit
	for _, ev := range timerEvents() {
		want.sale(ev[0], ev[1], ev[2], "700 USD")
		credits = append(credits, *credit(t, nil, sale(ev[0], ev[1], ev[2], "700 USD"), ev[2]))
	}
	left := abortNudgeTransactions(t, c, brokers, tp.nudges, 3)
	tb := tables(t, defaultReps, "", defaultFX)
	cfg := tp.config(catalogOf(t, progs...), tb, nil, nil)
	met := pipeline.NewMetrics(prometheus.NewRegistry())
	for i, part := range [][]link.Credit{credits[:len(credits)/2], credits[len(credits)/2:]} {
		// Small batches, so that timers fire in several transactions.
		for j := 0; j < len(part); j += 4 {
			produceCredits(t, brokers, tp.credited, part[j:min(j+4, len(part))])
		}
		proc, err := NewProcessor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		stop := tp.run(t, fmt.Sprint("i", i), proc, met)
		n := len(credits[:len(credits)/2])
		if i == 1 {
			n = len(credits)
		}
		pt.WaitFor(t, 60*time.Second, "credits consumed", func() bool {
			return pipeline.Count(met.RecordsIn(tp.name, tp.credited)) >= int64(n)
		})
		time.Sleep(300 * time.Millisecond)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	got := timerNudges(t, tp)
	if !slices.Equal(got, want.nudges) {
		t.Fatalf("nudges differ from the sequential run:\n got %d %s\nwant %d %s", len(got), strings.Join(got, "\n"),
			len(want.nudges), strings.Join(want.nudges, "\n"))
	}
	if len(want.ids("inactivity")) < 3 || len(want.ids("period_ending")) == 0 {
		t.Fatalf("the input proves too little: %v", want.nudges)
	}
	if left.Load() > 0 {
		t.Errorf("%d transactions with nudges still to abort", left.Load())
	}
}
