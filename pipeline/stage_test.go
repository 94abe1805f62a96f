package pipeline_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/pipeline/counter"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

const (
	in        = "in"
	out       = "out"
	changelog = "count.changelog"
	dlq       = "count.rejected"
)

func setup(t *testing.T, brokers []string, partitions int32) {
	t.Helper()
	pt.CreateTopics(t, brokers, partitions, []string{in, out, dlq}, changelog)
}

func newCounter(t *testing.T, brokers []string, instance string, reg prometheus.Registerer, mods ...func(*pipeline.Config)) *pipeline.Stage[int64] {
	t.Helper()
	cfg := pipeline.Config{
		Name: "count", Brokers: brokers, Inputs: []string{in}, InstanceID: instance,
		MaxPollRecords: 500, SessionTimeout: 2 * time.Second, TransactionTimeout: 5 * time.Second,
	}
	if reg != nil {
		cfg.Metrics = pipeline.NewMetrics(reg)
	}
	for _, m := range mods {
		m(&cfg)
	}
	s, err := pipeline.NewStage[int64](cfg, pipeline.Int64Codec{}, &counter.Processor{Output: out})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// running starts s and returns a stop function that cancels it and returns
// Run's error.
func running(t *testing.T, s interface{ Run(context.Context) error }) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := s.Run(ctx)
		if ctx.Err() == nil {
			t.Errorf("stage stopped on its own: %v", err)
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

func waitOutput(t *testing.T, brokers []string, n int) []*kgo.Record {
	t.Helper()
	var recs []*kgo.Record
	pt.WaitFor(t, 60*time.Second, strconv.Itoa(n)+" output records", func() bool {
		recs = pt.ReadAll(t, brokers, out)
		return len(recs) >= n
	})
	return recs
}

func checkChangelog(t *testing.T, brokers []string, want map[string]int64) {
	t.Helper()
	last := pt.LastValues(pt.ReadAll(t, brokers, changelog))
	if len(last) != len(want) {
		t.Errorf("changelog holds %d keys, want %d", len(last), len(want))
	}
	for k, n := range want {
		v, err := pipeline.Int64Codec{}.Decode(last[k])
		if err != nil || v != n {
			t.Errorf("changelog %s = %d (%v), want %d", k, v, err, n)
		}
	}
}

func TestStageCountsExactlyOnceAndDeadLetters(t *testing.T) {
	// Parallelism 3: the three partitions of each batch on goroutines of
	// their own (go test -race checks they share nothing unguarded).
	for _, par := range []int{1, 3} {
		t.Run("parallelism="+strconv.Itoa(par), func(t *testing.T) { countsExactlyOnce(t, par) })
	}
}

func countsExactlyOnce(t *testing.T, parallelism int) {
	_, brokers := pt.Fake(t)
	setup(t, brokers, 3)
	want := pt.ProduceKeyed(t, brokers, in, 0, 3000, 37)
	// Two records without a key: the processor refuses them.
	pt.ProduceRaw(t, brokers, in, nil, []byte("no key 1"))
	pt.ProduceRaw(t, brokers, in, nil, []byte("no key 2"))

	reg := prometheus.NewRegistry()
	count := &counter.Processor{Output: out}
	var inFlight, most atomic.Int32
	s, err := pipeline.NewStage[int64](pipeline.Config{
		Name: "count", Brokers: brokers, Inputs: []string{in}, InstanceID: "a", Parallelism: parallelism,
		MaxPollRecords: 500, SessionTimeout: 2 * time.Second, TransactionTimeout: 5 * time.Second,
		Metrics: pipeline.NewMetrics(reg),
	}, pipeline.Int64Codec{}, pipeline.ProcessorFunc[int64](func(c *pipeline.Context[int64], r *kgo.Record) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		if n > most.Load() {
			most.Store(n)
		}
		time.Sleep(10 * time.Microsecond) // let the others run
		return count.Process(c, r)
	}))
	if err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	recs := waitOutput(t, brokers, 3000)
	pt.WaitFor(t, 30*time.Second, "dead letters", func() bool { return len(pt.ReadAll(t, brokers, dlq)) == 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := pt.CheckCounts(recs, want); err != nil {
		t.Fatal(err)
	}
	checkChangelog(t, brokers, want)

	for _, r := range pt.ReadAll(t, brokers, dlq) {
		reason, _ := pipeline.Header(r, pipeline.HeaderReason)
		field, _ := pipeline.Header(r, pipeline.HeaderField)
		topic, _ := pipeline.Header(r, pipeline.HeaderSourceTopic)
		off, _ := pipeline.Header(r, pipeline.HeaderSourceOffset)
		if reason != counter.ReasonMissingKey || field != "key" || topic != in || off == "" {
			t.Errorf("dead letter headers: reason=%q field=%q topic=%q offset=%q", reason, field, topic, off)
		}
		if !strings.HasPrefix(string(r.Value), "no key") {
			t.Errorf("dead letter lost the original bytes: %q", r.Value)
		}
	}
	if got := testutil.ToFloat64(s.Config().Metrics.Rejects("count", counter.ReasonMissingKey)); got != 2 {
		t.Errorf("rejects metric = %v, want 2", got)
	}
	if got := testutil.ToFloat64(s.Config().Metrics.RecordsIn("count", in)); got != 3002 {
		t.Errorf("records in metric = %v, want 3002", got)
	}
	if got := int(most.Load()); (parallelism == 1) != (got == 1) {
		t.Errorf("at most %d records processed at once with parallelism %d", got, parallelism)
	}
	checkPhases(t, reg, testutil.ToFloat64(s.Config().Metrics.Transactions("count", "committed")))
}

// checkPhases checks that every committed batch had each of its phases
// timed, and that the processor's sleeps (10µs a record) are in process.
func checkPhases(t *testing.T, reg *prometheus.Registry, committed float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "accrue_stage_batch_phase_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var phase string
			for _, l := range m.GetLabel() {
				if l.GetName() == "phase" {
					phase = l.GetValue()
				}
			}
			seen[phase] = true
			h := m.GetHistogram()
			if float64(h.GetSampleCount()) != committed {
				t.Errorf("phase %s timed %d batches, %v were committed", phase, h.GetSampleCount(), committed)
			}
			if phase == "process" && h.GetSampleSum() < 0.01 {
				t.Errorf("process took %vs in all, less than the processor slept", h.GetSampleSum())
			}
		}
	}
	for _, p := range []string{"process", "flush", "produce", "commit"} {
		if !seen[p] {
			t.Errorf("no batch_phase_seconds for phase %s", p)
		}
	}
}

// TestStageTransactionAbortedMidBatch has a second instance join the group
// while the first is in the middle of a batch: the rebalance revokes
// partitions under the open transaction, which must abort, leave no trace in
// the output or the state, and be processed again by whoever owns the
// partitions next.
func TestStageTransactionAbortedMidBatch(t *testing.T) {
	_, brokers := pt.Fake(t)
	setup(t, brokers, 4)
	want := pt.ProduceKeyed(t, brokers, in, 0, 4000, 11)

	var b *pipeline.Stage[int64]
	var midBatch atomic.Bool
	var seen atomic.Int32
	count := &counter.Processor{Output: out}
	a, err := pipeline.NewStage[int64](pipeline.Config{
		Name: "count", Brokers: brokers, Inputs: []string{in}, InstanceID: "a",
		MaxPollRecords: 400, SessionTimeout: 2 * time.Second, TransactionTimeout: 5 * time.Second,
		Metrics: pipeline.NewMetrics(prometheus.NewRegistry()),
	}, pipeline.Int64Codec{}, pipeline.ProcessorFunc[int64](func(c *pipeline.Context[int64], r *kgo.Record) error {
		if seen.Add(1) == 1000 {
			// Mid-batch: bring in the second instance and hold this
			// batch until it owns partitions.
			midBatch.Store(true)
			stopB := running(t, b)
			t.Cleanup(func() { _ = stopB() })
			pt.WaitFor(t, 30*time.Second, "second instance ready", b.Ready)
		}
		return count.Process(c, r)
	}))
	if err != nil {
		t.Fatal(err)
	}
	b = newCounter(t, brokers, "b", nil)
	stopA := running(t, a)
	recs := waitOutput(t, brokers, 4000)
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	if !midBatch.Load() {
		t.Fatal("the second instance never joined mid-batch")
	}
	if got := testutil.ToFloat64(a.Config().Metrics.Transactions("count", "aborted")); got < 1 {
		t.Errorf("aborted transactions metric = %v, want at least 1", got)
	}
	if err := pt.CheckCounts(recs, want); err != nil {
		t.Fatal(err)
	}
	checkChangelog(t, brokers, want)
}

// TestStageAbortsWhenOffsetCommitFails fails the transaction's offset commit:
// the batch's output was all written but must be discarded.
func TestStageAbortsWhenOffsetCommitFails(t *testing.T) {
	c, brokers := pt.Fake(t)
	setup(t, brokers, 2)
	want := pt.ProduceKeyed(t, brokers, in, 0, 2000, 7)
	var failed atomic.Int32
	c.ControlKey(int16(kmsg.TxnOffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if failed.Add(1) > 2 {
			return nil, nil, false
		}
		return pt.RefuseOffsets(req.(*kmsg.TxnOffsetCommitRequest), kerr.RebalanceInProgress), nil, true
	})
	s := newCounter(t, brokers, "a", prometheus.NewRegistry())
	stop := running(t, s)
	recs := waitOutput(t, brokers, 2000)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := pt.CheckCounts(recs, want); err != nil {
		t.Fatal(err)
	}
	checkChangelog(t, brokers, want)
	if got := testutil.ToFloat64(s.Config().Metrics.Transactions("count", "aborted")); got < 2 {
		t.Errorf("aborted transactions metric = %v, want at least 2", got)
	}
}

// TestStageRestoresStateAfterRestart stops a stage, produces more, and starts
// a new instance: its counts must continue from the changelog.
func TestStageRestoresStateAfterRestart(t *testing.T) {
	_, brokers := pt.Fake(t)
	setup(t, brokers, 4)
	want := pt.ProduceKeyed(t, brokers, in, 0, 1500, 23)
	stop := running(t, newCounter(t, brokers, "a", nil))
	waitOutput(t, brokers, 1500)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for k, n := range pt.ProduceKeyed(t, brokers, in, 1500, 3000, 23) {
		want[k] += n
	}
	s2 := newCounter(t, brokers, "b", nil)
	stop2 := running(t, s2)
	recs := waitOutput(t, brokers, 3000)
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	if err := pt.CheckCounts(recs, want); err != nil {
		t.Fatal(err)
	}
	if s2.StateSize() != 23 {
		t.Errorf("restored instance holds %d keys, want 23", s2.StateSize())
	}
	checkChangelog(t, brokers, want)
}

// TestStageRebalanceBetweenInstances runs two instances in one group and
// stops one mid-stream; the other takes its partitions and their state.
func TestStageRebalanceBetweenInstances(t *testing.T) {
	_, brokers := pt.Fake(t)
	setup(t, brokers, 6)
	want := pt.ProduceKeyed(t, brokers, in, 0, 2000, 31)
	a := newCounter(t, brokers, "a", nil, func(c *pipeline.Config) { c.MaxPollRecords = 100 })
	b := newCounter(t, brokers, "b", nil, func(c *pipeline.Config) { c.MaxPollRecords = 100 })
	stopA := running(t, a)
	stopB := running(t, b)
	waitOutput(t, brokers, 1000)
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	for k, n := range pt.ProduceKeyed(t, brokers, in, 2000, 4000, 31) {
		want[k] += n
	}
	recs := waitOutput(t, brokers, 4000)
	if err := stopB(); err != nil {
		t.Fatal(err)
	}
	if err := pt.CheckCounts(recs, want); err != nil {
		t.Fatal(err)
	}
	checkChangelog(t, brokers, want)
}

func TestStagePanicGoesToDeadLetter(t *testing.T) {
	_, brokers := pt.Fake(t)
	setup(t, brokers, 1)
	pt.ProduceRaw(t, brokers, in, []byte("a"), []byte("boom"))
	pt.ProduceRaw(t, brokers, in, []byte("a"), []byte("fine"))
	s, err := pipeline.NewStage[int64](pipeline.Config{Name: "count", Brokers: brokers, Inputs: []string{in}},
		pipeline.Int64Codec{}, pipeline.ProcessorFunc[int64](func(c *pipeline.Context[int64], r *kgo.Record) error {
			if string(r.Value) == "boom" {
				panic("bad record")
			}
			c.Emit(out, r.Key, r.Value)
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	waitOutput(t, brokers, 1)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	d := pt.ReadAll(t, brokers, dlq)
	if len(d) != 1 {
		t.Fatalf("%d dead letters, want 1", len(d))
	}
	if r, _ := pipeline.Header(d[0], pipeline.HeaderReason); r != pipeline.ReasonProcessorPanic {
		t.Errorf("reason %q, want %q", r, pipeline.ReasonProcessorPanic)
	}
}

func TestStageRefusesTopicsNotCoPartitioned(t *testing.T) {
	_, brokers := pt.Fake(t)
	pt.CreateTopics(t, brokers, 3, []string{in, out, dlq})
	pt.CreateTopics(t, brokers, 2, nil, changelog)
	err := newCounter(t, brokers, "a", nil).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "co-partitioned") {
		t.Fatalf("want a co-partitioning error, got %v", err)
	}
}

func TestStageRefusesMissingTopic(t *testing.T) {
	_, brokers := pt.Fake(t)
	pt.CreateTopics(t, brokers, 1, []string{in, out})
	err := newCounter(t, brokers, "a", nil, func(c *pipeline.Config) { c.TopicWait = 300 * time.Millisecond }).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("want a missing topic error, got %v", err)
	}
}

func TestNewStageNeedsNameBrokersInputs(t *testing.T) {
	for _, cfg := range []pipeline.Config{
		{Brokers: []string{"x"}, Inputs: []string{"a"}},
		{Name: "n", Inputs: []string{"a"}},
		{Name: "n", Brokers: []string{"x"}},
	} {
		if _, err := pipeline.NewStage[int64](cfg, pipeline.Int64Codec{}, &counter.Processor{}); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	var rj *pipeline.Reject
	if !errors.As(error(pipeline.Rejectf("r", "f", "m")), &rj) {
		t.Error("Rejectf does not build a *Reject")
	}
}

func TestStatelessStageNeedsNoChangelog(t *testing.T) {
	_, brokers := pt.Fake(t)
	pt.CreateTopics(t, brokers, 2, []string{in, out, dlq}) // no changelog topic
	pt.ProduceKeyed(t, brokers, in, 0, 100, 5)
	s, err := pipeline.NewStage[int64](pipeline.Config{Name: "count", Brokers: brokers, Inputs: []string{in}, Stateless: true},
		pipeline.Int64Codec{}, pipeline.ProcessorFunc[int64](func(c *pipeline.Context[int64], r *kgo.Record) error {
			c.Emit(out, r.Key, r.Value)
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	waitOutput(t, brokers, 100)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestContextScanSeesStagedAndCommittedState deletes, from a later batch,
// every key an earlier batch stored: Scan must list committed keys and keys
// staged in the same batch, and deletions reach the changelog.
func TestContextScanSeesStagedAndCommittedState(t *testing.T) {
	_, brokers := pt.Fake(t)
	setup(t, brokers, 1)
	pt.ProduceKeyed(t, brokers, in, 0, 10, 10)
	var scanned atomic.Int32
	s, err := pipeline.NewStage[int64](pipeline.Config{Name: "count", Brokers: brokers, Inputs: []string{in}, MaxPollRecords: 5},
		pipeline.Int64Codec{}, pipeline.ProcessorFunc[int64](func(c *pipeline.Context[int64], r *kgo.Record) error {
			if string(r.Value) == "sweep" {
				n := int32(0)
				c.Scan(func(k string, _ int64) bool { n++; c.Delete(k); return true })
				scanned.Store(n)
			} else {
				c.Put(string(r.Key), 1)
			}
			c.Emit(out, r.Key, r.Value)
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	waitOutput(t, brokers, 10)
	pt.ProduceRaw(t, brokers, in, []byte("k-new"), []byte("x"))
	pt.ProduceRaw(t, brokers, in, []byte("k-sweep"), []byte("sweep"))
	waitOutput(t, brokers, 12)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := scanned.Load(); n != 11 {
		t.Errorf("scan saw %d keys, want 11 (10 committed, 1 staged)", n)
	}
	if last := pt.LastValues(pt.ReadAll(t, brokers, changelog)); len(last) != 0 {
		t.Errorf("changelog still holds %d keys after the sweep", len(last))
	}
}

// TestStageRecoversWhenTransactionsCannotEnd has the brokers stop
// answering EndTxn for a while, as they do while they restart: the stage
// must not stop, but drop what it holds, start again from the committed
// state, and count every record exactly once.
func TestStageRecoversWhenTransactionsCannotEnd(t *testing.T) {
	c, brokers := pt.Fake(t)
	setup(t, brokers, 3)
	want := pt.ProduceKeyed(t, brokers, in, 0, 3000, 37)
	var ended atomic.Int32
	var failUntil atomic.Int64
	c.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		now := time.Now().UnixNano()
		// The third transaction's end starts an outage of 3s.
		if ended.Add(1) == 3 {
			failUntil.Store(now + int64(3*time.Second))
		}
		if now >= failUntil.Load() {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil, true
	})
	reg := countAll(t, brokers, want)
	if failUntil.Load() == 0 {
		t.Fatal("the outage never started")
	}
	restarted := restarts(reg)
	if restarted < 1 {
		t.Errorf("the stage started again %v times, want at least once", restarted)
	}
}

// TestStageRecoversFromATimedOutTransaction has the group coordinator
// refuse a transaction's offsets with INVALID_PRODUCER_EPOCH, as the
// brokers do after aborting a transaction that outlived its timeout while
// the instance was frozen: the stage must start again from the committed
// state, not stop, and count every record exactly once.
func TestStageRecoversFromATimedOutTransaction(t *testing.T) {
	c, brokers := pt.Fake(t)
	setup(t, brokers, 3)
	want := pt.ProduceKeyed(t, brokers, in, 0, 3000, 37)
	var commits atomic.Int32
	c.ControlKey(int16(kmsg.TxnOffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if commits.Add(1) != 3 {
			return nil, nil, false
		}
		return pt.RefuseOffsets(req.(*kmsg.TxnOffsetCommitRequest), kerr.InvalidProducerEpoch), nil, true
	})
	reg := countAll(t, brokers, want)
	if commits.Load() < 3 {
		t.Fatalf("only %d transactions committed offsets; the refusal never happened", commits.Load())
	}
	if r := restarts(reg); r < 1 {
		t.Errorf("the stage started again %v times, want at least once", r)
	}
}

// countAll runs a counter stage (shutdown timeout 1s) until it has
// counted want's 3,000 records, checks its output and changelog, and
// returns its metrics.
func countAll(t *testing.T, brokers []string, want map[string]int64) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	s := newCounter(t, brokers, "a", reg, func(cfg *pipeline.Config) { cfg.ShutdownTimeout = time.Second })
	stop := running(t, s)
	recs := waitOutput(t, brokers, 3000)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := pt.CheckCounts(recs, want); err != nil {
		t.Fatal(err)
	}
	checkChangelog(t, brokers, want)
	return reg
}

// restarts is accrue_stage_rebalances_total{kind="restarted"} in reg.
func restarts(reg *prometheus.Registry) float64 {
	n := 0.0
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "accrue_stage_rebalances_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == "restarted" {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// TestStageGivesUpWhenItsEpochKeepsBeingBumped has the brokers refuse
// every transaction's offsets with INVALID_PRODUCER_EPOCH, as they would
// if two instances shared one --instance-id and fenced each other: after
// a few sessions with nothing committed the stage stops and says why,
// rather than start again for ever.
func TestStageGivesUpWhenItsEpochKeepsBeingBumped(t *testing.T) {
	c, brokers := pt.Fake(t)
	setup(t, brokers, 3)
	pt.ProduceKeyed(t, brokers, in, 0, 300, 37)
	c.ControlKey(int16(kmsg.TxnOffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return pt.RefuseOffsets(req.(*kmsg.TxnOffsetCommitRequest), kerr.InvalidProducerEpoch), nil, true
	})
	s := newCounter(t, brokers, "a", prometheus.NewRegistry(), func(cfg *pipeline.Config) { cfg.ShutdownTimeout = time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := s.Run(ctx)
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Run returned %v after %v; want it to give up", err, ctx.Err())
	}
	if !errors.Is(err, kerr.InvalidProducerEpoch) || !strings.Contains(err.Error(), "--instance-id a") {
		t.Fatalf("Run gave up with %q; want INVALID_PRODUCER_EPOCH and a hint at --instance-id", err)
	}
}
