package pipeline_test

import (
	"context"
	"sort"
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
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// holder keeps every record in state (key "<record key>/<value>", value the
// time it may leave) and, on a tick, emits and forgets the records whose
// time has come: a processor whose output only ticks produce.
type holder struct {
	hold       time.Duration
	releaseAll atomic.Bool
	ticks      atomic.Int64
	panicking  atomic.Bool
}

func (h *holder) Process(c *pipeline.Context[int64], r *kgo.Record) error {
	c.Put(string(r.Key)+"/"+string(r.Value), time.Now().Add(h.hold).UnixNano())
	return nil
}

func (h *holder) Tick(c *pipeline.Context[int64], _ int32, now time.Time) {
	h.ticks.Add(1)
	if h.panicking.Load() {
		panic("tick broke")
	}
	var due []string
	c.Scan(func(k string, until int64) bool {
		if h.releaseAll.Load() || now.UnixNano() >= until {
			due = append(due, k)
		}
		return true
	})
	sort.Strings(due)
	for _, k := range due {
		key, _, _ := strings.Cut(k, "/")
		c.Emit(out, []byte(key), []byte(k))
		c.Delete(k)
	}
}

func newHolder(t *testing.T, brokers []string, instance string, h *holder, reg prometheus.Registerer) *pipeline.Stage[int64] {
	t.Helper()
	cfg := pipeline.Config{
		Name: "count", Brokers: brokers, Inputs: []string{in}, InstanceID: instance,
		MaxPollRecords: 300, SessionTimeout: 2 * time.Second, TransactionTimeout: 5 * time.Second,
		TickInterval: 50 * time.Millisecond,
	}
	if reg != nil {
		cfg.Metrics = pipeline.NewMetrics(reg)
	}
	s, err := pipeline.NewStage[int64](cfg, pipeline.Int64Codec{}, h)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkReleased checks that out holds every one of the n records produced
// by ProduceKeyed exactly once, and that the changelog is empty again.
func checkReleased(t *testing.T, brokers []string, recs []*kgo.Record, n, keys int) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range recs {
		seen[string(r.Value)]++
	}
	for i := 0; i < n; i++ {
		k := pt.Key(i, keys) + "/" + strconv.Itoa(i)
		if seen[k] != 1 {
			t.Errorf("record %s released %d times, want once", k, seen[k])
		}
	}
	if len(recs) != n {
		t.Errorf("%d records released, want %d", len(recs), n)
	}
	if last := pt.LastValues(pt.ReadAll(t, brokers, changelog)); len(last) != 0 {
		t.Errorf("changelog still holds %d held records", len(last))
	}
}

// TestTickReleasesOnIdlePartitions holds records past the last one: only
// ticks, with no record arriving, can release them.
func TestTickReleasesOnIdlePartitions(t *testing.T) {
	_, brokers := pt.Fake(t)
	setup(t, brokers, 3)
	pt.ProduceKeyed(t, brokers, in, 0, 600, 13)
	h := &holder{hold: 300 * time.Millisecond}
	reg := prometheus.NewRegistry()
	s := newHolder(t, brokers, "a", h, reg)
	stop := running(t, s)
	recs := waitOutput(t, brokers, 600)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkReleased(t, brokers, recs, 600, 13)
	if h.ticks.Load() < 3 {
		t.Errorf("%d ticks", h.ticks.Load())
	}
	if got := testutil.ToFloat64(s.Config().Metrics.RecordsOut("count", out)); got != 600 {
		t.Errorf("records out metric = %v, want 600", got)
	}
}

// TestTickRestoresIdlePartitions stops the instance that holds the records
// and starts another: no record arrives after the restart, so the new
// instance must restore the partitions' state for their ticks alone.
func TestTickRestoresIdlePartitions(t *testing.T) {
	_, brokers := pt.Fake(t)
	setup(t, brokers, 3)
	pt.ProduceKeyed(t, brokers, in, 0, 500, 11)
	ha := &holder{hold: time.Hour}
	a := newHolder(t, brokers, "a", ha, prometheus.NewRegistry())
	stopA := running(t, a)
	pt.WaitFor(t, 30*time.Second, "500 records held", func() bool {
		return pipeline.Count(a.Config().Metrics.RecordsIn("count", in)) == 500
	})
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	if n := len(pt.ReadAll(t, brokers, out)); n != 0 {
		t.Fatalf("%d records released before their time", n)
	}

	hb := &holder{hold: time.Hour}
	hb.releaseAll.Store(true)
	b := newHolder(t, brokers, "b", hb, prometheus.NewRegistry())
	stopB := running(t, b)
	recs := waitOutput(t, brokers, 500)
	if err := stopB(); err != nil {
		t.Fatal(err)
	}
	checkReleased(t, brokers, recs, 500, 11)
	if got := pipeline.Count(b.Config().Metrics.RecordsIn("count", in)); got != 0 {
		t.Errorf("the second instance consumed %d records, want none", got)
	}
}

// TestTickTransactionIsFenced fails the offset commit of tick-only
// transactions: they must carry the ticked partitions' offsets (so the group
// can refuse them), abort, and release the records on a later tick, once.
func TestTickTransactionIsFenced(t *testing.T) {
	c, brokers := pt.Fake(t)
	setup(t, brokers, 2)
	pt.ProduceKeyed(t, brokers, in, 0, 200, 7)
	var consumedAll atomic.Bool
	var failed, carried atomic.Int32
	c.ControlKey(int16(kmsg.TxnOffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !consumedAll.Load() {
			return nil, nil, false
		}
		r := req.(*kmsg.TxnOffsetCommitRequest)
		for _, rt := range r.Topics { // the only input; v6 names it by id
			carried.Add(int32(len(rt.Partitions)))
		}
		if failed.Add(1) > 2 {
			return nil, nil, false
		}
		return pt.RefuseOffsets(r, kerr.IllegalGeneration), nil, true
	})
	h := &holder{hold: time.Hour}
	s := newHolder(t, brokers, "a", h, prometheus.NewRegistry())
	stop := running(t, s)
	pt.WaitFor(t, 30*time.Second, "200 records held", func() bool {
		return pipeline.Count(s.Config().Metrics.RecordsIn("count", in)) == 200
	})
	consumedAll.Store(true)
	h.releaseAll.Store(true)
	recs := waitOutput(t, brokers, 200)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkReleased(t, brokers, recs, 200, 7)
	if failed.Load() < 3 || carried.Load() < 3 {
		t.Errorf("tick transactions: %d offset commits, %d partitions carried; want at least 3 of each", failed.Load(), carried.Load())
	}
	if got := testutil.ToFloat64(s.Config().Metrics.Transactions("count", "aborted")); got < 2 {
		t.Errorf("aborted transactions metric = %v, want at least 2", got)
	}
}

// TestTickPanicStopsTheStage: a tick has no record to send to the dead
// letters, so a panic aborts its transaction and stops the stage.
func TestTickPanicStopsTheStage(t *testing.T) {
	_, brokers := pt.Fake(t)
	setup(t, brokers, 1)
	pt.ProduceKeyed(t, brokers, in, 0, 10, 3)
	h := &holder{hold: time.Hour}
	s := newHolder(t, brokers, "a", h, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(300 * time.Millisecond)
	h.releaseAll.Store(true)
	h.panicking.Store(true)
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("Run returned %v, want a tick panic", err)
	}
	if n := len(pt.ReadAll(t, brokers, out)); n != 0 {
		t.Errorf("%d records released by a panicking tick", n)
	}
}
