package accrue

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/link"
)

// aeV3 is a new version of the world's "ae" from June: retroactive
// bands at other rates, richer overrides, a bigger launch spiff.
func aeV3(w *world) *program.Program {
	var v2 *program.Program
	for _, p := range w.programs {
		if p.ID == "ae" && p.Version == 2 {
			v2 = p
		}
	}
	v3 := *v2
	v3.Version, v3.EffectiveFrom = 3, date("2026-06-01")
	v3.Tiers = program.Tiers{Basis: program.Attainment, Method: program.Retroactive, Bands: bands("0:0.025", "0.7:0.055", "1.1:0.1")}
	v3.Overrides = []program.Override{{Level: 1, Rate: d("0.03")}, {Level: 2, Rate: d("0.01")}}
	v3.Spiffs = []program.Spiff{{ID: "launch", Fixed: nd("80"), MaxPerPeriod: 5}, {ID: "kicker", Rate: nd("0.0125")}}
	v3.Digest = v3.Key()
	return &v3
}

// recomputeRig is a stage on kfake whose catalog a test can change.
type recomputeRig struct {
	tp      *stageTopics
	w       *world
	cat     *program.Catalog
	version atomic.Uint64
	met     *pipeline.Metrics
	am      *Metrics
}

func newRecomputeRig(t *testing.T, seed uint64) (*recomputeRig, []link.Credit) {
	_, brokers := pt.Fake(t)
	r := &recomputeRig{tp: newStageTopics(t, brokers, 3), w: randomWorld(t, seed, 1200)}
	r.cat = worldCatalog(t, r.w)
	r.met = pipeline.NewMetrics(prometheus.NewRegistry())
	r.am = NewMetrics(prometheus.NewRegistry())
	proc, err := NewProcessor(r.tp.config(r.cat, r.w.tables, r.version.Load, r.am))
	if err != nil {
		t.Fatal(err)
	}
	r.tp.run(t, "a", proc, r.met)
	return r, r.w.credits()
}

func (r *recomputeRig) config() RecomputeConfig {
	return RecomputeConfig{Brokers: r.tp.brokers, ProgramID: "ae", From: "2026-06", Catalog: r.cat, Credits: r.tp.credited,
		Topic: r.tp.recompute, DeadLetter: r.tp.rejected, Group: "accrue-" + r.tp.name, Wait: 30 * time.Second}
}

// waitAll waits until the stage has committed every record of its three
// inputs, twice in a row.
func (r *recomputeRig) waitAll(t *testing.T) {
	t.Helper()
	count := func() (in, there int64) {
		for _, topic := range []string{r.tp.credited, r.tp.overrides, r.tp.recompute} {
			in += pipeline.Count(r.met.RecordsIn(r.tp.name, topic))
			there += int64(len(pt.ReadAll(t, r.tp.brokers, topic)))
		}
		return in, there
	}
	pt.WaitFor(t, 90*time.Second, "every input consumed", func() bool {
		in, there := count()
		if in < there {
			return false
		}
		time.Sleep(300 * time.Millisecond)
		in2, there2 := count()
		return in2 == in && there2 == there && in2 >= there2
	})
}

// TestRecomputeSwapsInTheNewFigures accrues 70% of a year of credits under
// the world's programs, publishes a new version of "ae" from June and
// recomputes "ae" from 2026-06 while the other 30% arrive (held back
// during the run, applied after the swap). Afterwards the accruals of
// every (program, period, rep) add up to what applying every credit under
// the final catalog gives, and the latest snapshots are its statements:
// the adjustments brought every statement to the new figures, the figures
// the run did not touch stayed, and nothing was counted twice or lost.
func TestRecomputeSwapsInTheNewFigures(t *testing.T) {
	r, credits := newRecomputeRig(t, 21)
	split := len(credits) * 7 / 10
	produceCredits(t, r.tp.brokers, r.tp.credited, credits[:split])
	r.waitAll(t)
	before := readStreamed(t, r.tp)

	v3 := aeV3(r.w)
	if err := r.cat.Add(v3); err != nil {
		t.Fatal(err)
	}
	r.version.Add(1)
	want := expect(t, CatalogPrograms(r.cat), r.w.tables, credits)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type result struct {
		res RecomputeResult
		err error
	}
	done := make(chan result, 1)
	var progressed atomic.Int64
	cfg := r.config()
	// The replay waits until live credits have arrived and been held
	// back, so that the run is still open when they come: otherwise a
	// fast replay could end before them and nothing would be held.
	release := make(chan struct{})
	var releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(open)
	cfg.Progress = func(d, _ int64) { progressed.Store(d); <-release }
	go func() {
		res, err := Recompute(ctx, cfg)
		done <- result{res, err}
	}()
	pt.WaitFor(t, 30*time.Second, "the run begun on every partition", func() bool {
		return testutil.ToFloat64(r.am.runs.WithLabelValues("begun")) >= 3
	})
	produceCredits(t, r.tp.brokers, r.tp.credited, credits[split:])
	pt.WaitFor(t, 30*time.Second, "live credits held back by the run", func() bool {
		return testutil.ToFloat64(r.am.runs.WithLabelValues("parked")) > 0
	})
	open()
	got := <-done
	if got.err != nil {
		t.Fatal(got.err)
	}
	pt.WaitFor(t, 60*time.Second, "the swap on every partition", func() bool {
		return testutil.ToFloat64(r.am.runs.WithLabelValues("swapped")) >= 3
	})
	r.waitAll(t)

	after := readStreamed(t, r.tp)
	want.nudges, want.awards, want.overrides = nil, nil, -1 // the run fires none; the topic holds the shadow's too
	after.nudges, after.awards = nil, nil
	after.compare(t, want)
	changed := 0
	for k, st := range want.statements {
		if before.latest[k] != "" && before.latest[k] != st && k[:3] == "ae/" && k[3:10] >= "2026-06" {
			changed++
		}
	}
	if changed == 0 {
		t.Error("the new version changed no statement that existed before the run: the test proves nothing")
	}
	parked := testutil.ToFloat64(r.am.runs.WithLabelValues("parked"))
	if parked == 0 || got.res.Replayed == 0 || got.res.Skipped == 0 {
		t.Errorf("parked %v, replayed %d, skipped %d: the run should hold inputs back and replay only from June", parked, got.res.Replayed, got.res.Skipped)
	}
	if progressed.Load() == 0 {
		t.Error("no progress reported")
	}
	t.Logf("run %s: %d credits replayed, %d skipped; %v live inputs held back; %v adjustments; %d statements changed",
		got.res.Run, got.res.Replayed, got.res.Skipped, parked, testutil.ToFloat64(r.am.adjustments), changed)
}

// TestRecomputeCancelled opens a run that never ends (no stage group to
// wait for: Recompute gives up and cancels it): the inputs held back
// meanwhile are applied as if there had been no run.
func TestRecomputeCancelled(t *testing.T) {
	r, credits := newRecomputeRig(t, 22)
	want := expect(t, CatalogPrograms(r.cat), r.w.tables, credits)
	split := len(credits) / 2
	produceCredits(t, r.tp.brokers, r.tp.credited, credits[:split])
	r.waitAll(t)
	cfg := r.config()
	cfg.Group, cfg.Wait = "nobody", time.Second
	// The stage begins the run; Recompute, waiting on another group, gives
	// up and cancels it, while credits arrive and are held back.
	begun := make(chan error, 1)
	go func() {
		_, err := Recompute(context.Background(), cfg)
		begun <- err
	}()
	pt.WaitFor(t, 30*time.Second, "the run begun on every partition", func() bool {
		return testutil.ToFloat64(r.am.runs.WithLabelValues("begun")) >= 3
	})
	produceCredits(t, r.tp.brokers, r.tp.credited, credits[split:])
	if err := <-begun; err == nil {
		t.Fatal("Recompute succeeded without the stage's group")
	}
	pt.WaitFor(t, 60*time.Second, "the run cancelled everywhere", func() bool {
		return testutil.ToFloat64(r.am.runs.WithLabelValues("cancelled")) >= 3
	})
	r.waitAll(t)
	got := readStreamed(t, r.tp)
	want.overrides = -1
	got.compare(t, want)
	if n := testutil.ToFloat64(r.am.runs.WithLabelValues("parked")); n == 0 {
		t.Error("nothing was held back during the run")
	}
}
