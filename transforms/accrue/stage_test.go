package accrue

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
)

// stageTopics are the topics of one accrual stage under test.
type stageTopics struct {
	brokers                                                 []string
	name, credited, overrides, recompute, rejected          string
	accruals, attainment, nudges, awards, payable, programs string
}

func newStageTopics(t testing.TB, brokers []string, partitions int32) *stageTopics {
	t.Helper()
	sfx := fmt.Sprint(time.Now().UnixNano())
	tp := &stageTopics{brokers: brokers, name: "accrue-" + sfx, credited: "credited-" + sfx, overrides: "overrides-" + sfx,
		recompute: "recompute-" + sfx, rejected: "accrue-rejected-" + sfx, accruals: "accruals-" + sfx, attainment: "attainment-" + sfx,
		nudges: "nudges-" + sfx, awards: "awards-" + sfx, payable: "payable-" + sfx, programs: "programs-" + sfx}
	pt.CreateTopics(t, brokers, partitions, []string{tp.credited, tp.overrides, tp.recompute, tp.rejected, tp.accruals, tp.attainment,
		tp.nudges, tp.awards, tp.payable}, tp.name+".changelog")
	pt.CreateTopics(t, brokers, 1, nil, tp.programs)
	return tp
}

func (tp *stageTopics) config(cat *program.Catalog, tables *reference.Tables, version func() uint64, met *Metrics) Config {
	return Config{Tables: tables, Catalog: cat, Version: version, Overrides: tp.overrides, Recompute: tp.recompute, Accruals: tp.accruals,
		Attainment: tp.attainment, Nudges: tp.nudges, Awards: tp.awards, Payable: tp.payable,
		TickInterval: 100 * time.Millisecond, SweepInterval: 200 * time.Millisecond, Metrics: met,
		Logger: slog.New(slog.DiscardHandler)}
}

// run starts the stage with proc until the returned function is called; it
// returns the stage's error.
func (tp *stageTopics) run(t testing.TB, instance string, proc *Processor, met *pipeline.Metrics) func() error {
	t.Helper()
	st, err := pipeline.NewStage[Entry](pipeline.Config{
		Name: tp.name, Brokers: tp.brokers, Inputs: []string{tp.credited, tp.overrides, tp.recompute}, InstanceID: instance,
		DeadLetter: tp.rejected, MaxPollRecords: 300, Parallelism: 3, SessionTimeout: 2 * time.Second, TransactionTimeout: 5 * time.Second,
		TickInterval: 100 * time.Millisecond, Metrics: met, Logger: slog.New(slog.DiscardHandler),
	}, EntryCodec{}, proc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := st.Run(ctx)
		if err != nil && ctx.Err() == nil {
			t.Errorf("stage %s stopped: %v", instance, err)
		}
		done <- err
	}()
	var stopped atomic.Bool
	stop := func() error {
		if stopped.Swap(true) {
			return nil
		}
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			t.Fatal("stage did not stop within 60s")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// produceCredits writes credits to topic keyed by recipient, in order.
func produceCredits(t testing.TB, brokers []string, topic string, credits []link.Credit) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(credits))
	for i := range credits {
		recs[i] = &kgo.Record{Key: []byte(credits[i].RepID), Value: credits[i].AppendJSON(nil)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// expected is what applying credits in order gives, each override record
// right after its credit, as `accrue simulate` does.
type expected struct {
	statements map[string]string // by program/period/rep
	nudges     []string
	awards     []string
	rejects    map[string]int // by reason; nil: not known
	overrides  int            // override records; -1: not known
	// earnedLines are the at_least of badges on earned, by program/badge
	// (the highest of the versions').
	earnedLines map[string]decimal.Decimal
}

func expect(t *testing.T, progs []*program.Program, tables *reference.Tables, credits []link.Credit) *expected {
	t.Helper()
	e, err := New(progs, tables)
	if err != nil {
		t.Fatal(err)
	}
	x := &expected{statements: map[string]string{}, rejects: map[string]int{}, earnedLines: map[string]decimal.Decimal{}}
	for _, p := range progs {
		for _, b := range p.Badges {
			if k := p.ID + "/" + b.ID; b.Metric == program.MetricEarned && b.AtLeast.GreaterThan(x.earnedLines[k]) {
				x.earnedLines[k] = b.AtLeast
			}
		}
	}
	s := MemoryStore{}
	note := func(out *Output) {
		for i := range out.Nudges {
			x.nudges = append(x.nudges, string(out.Nudges[i].AppendJSON(nil)))
		}
		for i := range out.Awards {
			x.awards = append(x.awards, string(out.Awards[i].AppendJSON(nil)))
		}
	}
	for i := range credits {
		out, err := e.ApplyCredit(s, &credits[i])
		if err != nil {
			x.rejects[asReject(err).Reason]++
			continue
		}
		note(&out)
		x.overrides += len(out.Overrides)
		for j := range out.Overrides {
			o, err := e.ApplyOverride(s, &out.Overrides[j])
			if err != nil {
				t.Fatal(err)
			}
			note(&o)
		}
	}
	for _, st := range e.Statements(s) {
		x.statements[st.ProgramID+"/"+st.Period+"/"+st.RepID] = string(st.AppendJSON(nil))
	}
	return x
}

// streamed is what the stage's output topics hold, read_committed.
type streamed struct {
	earned  map[string]decimal.Decimal // accrual deltas summed by program/period/rep
	payable map[string]decimal.Decimal
	latest  map[string]string // statement of the highest snapshot version
	nudges  []string
	awards  []string
	rejects map[string]int
	// overrides counts the contributions the override records carry
	// (summed within batches), in overrideRecords records.
	overrides, overrideRecords int
	problems                   []string
}

func readStreamed(t testing.TB, tp *stageTopics) *streamed {
	t.Helper()
	s := &streamed{earned: map[string]decimal.Decimal{}, payable: map[string]decimal.Decimal{}, latest: map[string]string{},
		rejects: map[string]int{}}
	seen := map[string]bool{}
	once := func(kind, id string) {
		if seen[kind+" "+id] {
			s.problems = append(s.problems, kind+" "+id+" emitted twice")
		}
		seen[kind+" "+id] = true
	}
	var a struct {
		ID        string `json:"accrual_id"`
		Key       string `json:"idempotency_key"`
		ProgramID string `json:"program_id"`
		Period    string `json:"period"`
		RepID     string `json:"rep_id"`
		Delta     string `json:"delta"`
		Amount    string `json:"amount"`
	}
	for _, r := range pt.ReadAll(t, tp.brokers, tp.accruals) {
		if err := json.Unmarshal(r.Value, &a); err != nil || string(r.Key) != a.RepID {
			s.problems = append(s.problems, fmt.Sprintf("accrual %s keyed %s: %v", r.Value, r.Key, err))
			continue
		}
		once("accrual", a.ID)
		k := a.ProgramID + "/" + a.Period + "/" + a.RepID
		s.earned[k] = s.earned[k].Add(decimal.RequireFromString(a.Delta))
	}
	for _, r := range pt.ReadAll(t, tp.brokers, tp.payable) {
		if err := json.Unmarshal(r.Value, &a); err != nil || string(r.Key) != a.RepID {
			s.problems = append(s.problems, fmt.Sprintf("payable %s keyed %s: %v", r.Value, r.Key, err))
			continue
		}
		once("payable", a.Key)
		k := a.ProgramID + "/" + a.Period + "/" + a.RepID
		s.payable[k] = s.payable[k].Add(decimal.RequireFromString(a.Amount))
	}
	versions := map[string]int64{}
	for _, r := range pt.ReadAll(t, tp.brokers, tp.attainment) {
		key, version, statement, err := snapshotStatement(r.Value)
		if err != nil {
			s.problems = append(s.problems, err.Error())
			continue
		}
		once("snapshot", fmt.Sprint(key, "/", version))
		if version > versions[key] {
			versions[key], s.latest[key] = version, statement
		}
	}
	for _, r := range pt.ReadAll(t, tp.brokers, tp.nudges) {
		s.nudges = append(s.nudges, string(r.Value))
	}
	for _, r := range pt.ReadAll(t, tp.brokers, tp.awards) {
		s.awards = append(s.awards, string(r.Value))
	}
	for _, r := range pt.ReadAll(t, tp.brokers, tp.rejected) {
		for _, h := range r.Headers {
			if h.Key == pipeline.HeaderReason {
				s.rejects[string(h.Value)]++
			}
		}
	}
	for _, r := range pt.ReadAll(t, tp.brokers, tp.overrides) {
		if header(r, HeaderKind) != "" {
			continue // a recompute run's marker
		}
		o, err := DecodeOverride(r.Value)
		if err != nil {
			s.problems = append(s.problems, fmt.Sprintf("override record %s: %v", r.Value, err))
			continue
		}
		s.overrideRecords++
		s.overrides += max(1, len(o.Sources))
	}
	return s
}

// snapshotStatement reads an attainment record: its program/period/rep,
// its version, and the statement line it holds (as `accrue simulate`
// prints it).
func snapshotStatement(b []byte) (key string, version int64, statement string, err error) {
	var h struct {
		ProgramID string `json:"program_id"`
		Period    string `json:"period"`
		RepID     string `json:"rep_id"`
		Version   int64  `json:"version"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return "", 0, "", fmt.Errorf("snapshot %s: %v", b, err)
	}
	s := string(b)
	i, j := strings.Index(s, `,"program_id":`), strings.LastIndex(s, `,"version":`)
	if i < 0 || j < i {
		return "", 0, "", fmt.Errorf("snapshot %s: not a snapshot", b)
	}
	return h.ProgramID + "/" + h.Period + "/" + h.RepID, h.Version, "{" + s[i+1:j] + "}", nil
}

// compare checks the stream against the sequential run: accruals add up to
// each statement's earned, the latest snapshots are the statements, and
// nudges, awards and rejects are the same.
func (s *streamed) compare(t *testing.T, x *expected) {
	t.Helper()
	if len(s.problems) > 0 {
		t.Fatalf("%d problems, first: %v", len(s.problems), s.problems[:min(5, len(s.problems))])
	}
	var diff []string
	for k, st := range x.statements {
		var want struct {
			Earned string `json:"earned"`
		}
		_ = json.Unmarshal([]byte(st), &want)
		if got := s.earned[k]; !got.Equal(decimal.RequireFromString(want.Earned)) {
			diff = append(diff, fmt.Sprintf("%s: accruals add up to %s, earned %s", k, got, want.Earned))
		}
		if got := s.payable[k]; !got.Equal(s.earned[k]) {
			diff = append(diff, fmt.Sprintf("%s: payable adds up to %s, accruals %s", k, got, s.earned[k]))
		}
		if s.latest[k] != st {
			diff = append(diff, fmt.Sprintf("%s: latest snapshot\n  %s\nwant\n  %s", k, s.latest[k], st))
		}
	}
	for k := range s.latest {
		if _, ok := x.statements[k]; !ok {
			diff = append(diff, k+": a snapshot without a statement")
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Fatalf("%d of %d statements differ, first: %v", len(diff), len(x.statements), diff[:min(5, len(diff))])
	}
	got, want := slices.Sorted(slices.Values(s.nudges)), slices.Sorted(slices.Values(x.nudges))
	if !slices.Equal(got, want) {
		t.Errorf("nudges: %d streamed, %d expected; first difference: %s", len(got), len(want), firstDiff(got, want))
	}
	if d := awardsDiff(s.awards, x); len(d) > 0 {
		t.Errorf("awards: %d streamed, %d expected; %d differ beyond earned badges that overrides reached in another order:\n%s",
			len(s.awards), len(x.awards), len(d), strings.Join(d[:min(10, len(d))], "\n"))
	}
	if x.rejects != nil && fmt.Sprint(s.rejects) != fmt.Sprint(x.rejects) {
		t.Errorf("dead letters %v, want %v", s.rejects, x.rejects)
	}
	if x.overrides >= 0 && s.overrides != x.overrides {
		t.Errorf("%d override contributions in %d records, want %d", s.overrides, s.overrideRecords, x.overrides)
	}
	if x.overrides > 0 && s.overrideRecords >= x.overrides {
		t.Errorf("%d override records for %d contributions: a batch's were not summed", s.overrideRecords, x.overrides)
	}
}

func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			return "missing " + want[i]
		case i >= len(want):
			return "extra " + got[i]
		case got[i] != want[i]:
			return fmt.Sprintf("\n  got  %s\n  want %s", got[i], want[i])
		}
	}
	return ""
}

// worldCatalog is a catalog of the world's programs.
func worldCatalog(t testing.TB, w *world) *program.Catalog {
	t.Helper()
	cat := program.NewCatalog()
	for _, p := range w.programs {
		p.Digest = p.Key()
		if err := cat.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	return cat
}

// waitConsumed waits until the stage has committed every credit and every
// override record there is.
func waitConsumed(t *testing.T, tp *stageTopics, met *pipeline.Metrics, credits int) {
	t.Helper()
	in := func() (int64, int64) {
		return pipeline.Count(met.RecordsIn(tp.name, tp.credited)), pipeline.Count(met.RecordsIn(tp.name, tp.overrides))
	}
	pt.WaitFor(t, 90*time.Second, fmt.Sprintf("%d credits and every override record consumed", credits), func() bool {
		c, o := in()
		if c < int64(credits) || o < int64(len(pt.ReadAll(t, tp.brokers, tp.overrides))) {
			return false
		}
		time.Sleep(300 * time.Millisecond)
		c2, o2 := in()
		return c2 == c && o2 == o && o2 == int64(len(pt.ReadAll(t, tp.brokers, tp.overrides)))
	})
}

// TestStageMatchesSequentialAcrossAbortsAndRestart runs a year of a random
// company's credits (splits, returns, cancels, adjustments, FX, overrides
// its first transactions failing at the offset commit (aborted mid-batch,
// replayed) and its instance replaced half way (state restored from the
// changelog). The output topics must hold exactly what applying the
// credits in order gives: accruals adding up to every statement's earned,
// the latest snapshots equal to the statements, the same nudges, awards
// and rejects, and every record once.
func TestStageMatchesSequentialAcrossAbortsAndRestart(t *testing.T) {
	c, brokers := pt.Fake(t)
	tp := newStageTopics(t, brokers, 3)
	w := randomWorld(t, 11, 1200)
	credits := w.credits()
	cat := worldCatalog(t, w)
	want := expect(t, CatalogPrograms(cat), w.tables, credits)

	var failed atomic.Int32
	c.ControlKey(int16(kmsg.TxnOffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if failed.Add(1) > 3 {
			return nil, nil, false
		}
		return pt.RefuseOffsets(req.(*kmsg.TxnOffsetCommitRequest), kerr.RebalanceInProgress), nil, true
	})
	produceCredits(t, brokers, tp.credited, credits[:len(credits)/2])
	met := pipeline.NewMetrics(prometheus.NewRegistry())
	am := NewMetrics(prometheus.NewRegistry())
	proc, err := NewProcessor(tp.config(cat, w.tables, nil, am))
	if err != nil {
		t.Fatal(err)
	}
	stop := tp.run(t, "a", proc, met)
	pt.WaitFor(t, 60*time.Second, "some accruals", func() bool { return pipeline.Count(met.RecordsIn(tp.name, tp.credited)) > 200 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	produceCredits(t, brokers, tp.credited, credits[len(credits)/2:])
	am = NewMetrics(prometheus.NewRegistry()) // a new process
	proc, err = NewProcessor(tp.config(cat, w.tables, nil, am))
	if err != nil {
		t.Fatal(err)
	}
	stop = tp.run(t, "b", proc, met)
	waitConsumed(t, tp, met, len(credits))
	time.Sleep(500 * time.Millisecond) // a sweep or two
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := readStreamed(t, tp)
	got.compare(t, want)
	if n := pipeline.Count(met.Transactions(tp.name, "aborted")); n < 3 {
		t.Errorf("%d transactions aborted, want at least 3", n)
	}
	if n := testutil.ToFloat64(am.deltas); n < float64(len(want.statements)) {
		t.Errorf("deltas metric %v, fewer than the %d statements", n, len(want.statements))
	}
	periods, sales := am.periods.Load(), am.sales.Load()
	if periods != int64(len(want.statements)) || sales == 0 {
		t.Errorf("state entries metric: %d periods (want %d), %d sales", periods, len(want.statements), sales)
	}
	t.Logf("%d credits, %d override records, %d statements, %d nudges, %d awards, rejects %v", len(credits),
		want.overrides, len(want.statements), len(want.nudges), len(want.awards), want.rejects)
}

// awardsDiff lists the awards that differ between the stream and the
// sequential run, except where the contract lets them: a badge on earned
// checks a figure that override records move, and those reach a manager's
// partition in another order than the sequential run applies them, so such
// a badge may fire on another event, and, where earned fell back below the
// line by the end, not at all (or only in the stream). Every other badge
// (count, measure, attainment) must fire alike, on the same event.
func awardsDiff(got []string, x *expected) []string {
	type award struct {
		Badge     string `json:"badge"`
		ProgramID string `json:"program_id"`
		Period    string `json:"period"`
		RepID     string `json:"rep_id"`
		EventID   string `json:"event_id"`
	}
	read := func(lines []string) map[string]award {
		m := map[string]award{}
		for _, l := range lines {
			var a award
			if err := json.Unmarshal([]byte(l), &a); err != nil {
				panic(err)
			}
			m[a.ProgramID+"/"+a.Period+"/"+a.RepID+"/"+a.Badge] = a
		}
		return m
	}
	g, w := read(got), read(x.awards)
	var out []string
	for _, k := range slices.Sorted(maps.Keys(g)) {
		if _, ok := w[k]; !ok && !x.earnedBadge(k, false) {
			out = append(out, "only streamed: "+k)
		} else if ok && g[k] != w[k] && !x.earnedBadge(k, true) {
			out = append(out, fmt.Sprintf("%s: streamed on %s, sequential on %s", k, g[k].EventID, w[k].EventID))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(w)) {
		if _, ok := g[k]; !ok && !x.earnedBadge(k, false) {
			out = append(out, "only sequential: "+k)
		}
	}
	return out
}

// earnedBadge reports whether the award key program/period/rep/badge is of
// a badge on earned that overrides reach, and, unless reached is true,
// whose line the final earned is under (so it may rightly fire in one run
// only).
func (x *expected) earnedBadge(key string, reached bool) bool {
	i := strings.LastIndexByte(key, '/')
	st, ok := x.statements[key[:i]]
	if !ok {
		return false
	}
	var s struct {
		Earned   string `json:"earned"`
		Override string `json:"override"`
	}
	_ = json.Unmarshal([]byte(st), &s)
	program, badge := key[:strings.IndexByte(key, '/')], key[i+1:]
	line, ok := x.earnedLines[program+"/"+badge]
	if !ok || decimal.RequireFromString(s.Override).IsZero() {
		return false
	}
	return reached || decimal.RequireFromString(s.Earned).LessThan(line)
}
