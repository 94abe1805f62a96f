package pipeline_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// batchCounter counts records per key like counter.Processor, but holds
// the counts of a batch back and writes state and output once per key at
// Flush: a record's effects reach Kafka only through Flush.
type batchCounter struct {
	pending map[int32]map[string]int64
	flushes atomic.Int32
	// hold, when set, runs before each record (to bring a second
	// instance in mid-batch).
	hold func()
}

func (b *batchCounter) Process(_ *pipeline.Context[int64], r *kgo.Record) error {
	if b.hold != nil {
		b.hold()
	}
	if b.pending == nil {
		b.pending = map[int32]map[string]int64{}
	}
	m := b.pending[r.Partition]
	if m == nil {
		m = map[string]int64{}
		b.pending[r.Partition] = m
	}
	m[string(r.Key)]++
	return nil
}

func (b *batchCounter) Flush(c *pipeline.Context[int64], partition int32) {
	b.flushes.Add(1)
	for k, n := range b.pending[partition] {
		total, _ := c.Get(k)
		total += n
		c.Put(k, total)
		c.Emit(out, []byte(k), []byte(strconv.FormatInt(total, 10)))
	}
	delete(b.pending, partition)
}

// TestFlushWritesOncePerBatchExactlyOnce holds every effect back to Flush
// while a second instance joins mid-batch (aborting the batch in hand):
// the counts and the changelog must still be exact, with fewer outputs
// than inputs, the latest per key being the total.
func TestFlushWritesOncePerBatchExactlyOnce(t *testing.T) {
	_, brokers := pt.Fake(t)
	setup(t, brokers, 4)
	want := pt.ProduceKeyed(t, brokers, in, 0, 4000, 11)

	var b *pipeline.Stage[int64]
	var seen atomic.Int32
	var midBatch atomic.Bool
	bc := &batchCounter{}
	bc.hold = func() {
		if seen.Add(1) == 1000 {
			midBatch.Store(true)
			stopB := running(t, b)
			t.Cleanup(func() { _ = stopB() })
			pt.WaitFor(t, 30*time.Second, "second instance ready", b.Ready)
		}
	}
	newStage := func(id string, p pipeline.Processor[int64]) *pipeline.Stage[int64] {
		s, err := pipeline.NewStage[int64](pipeline.Config{
			Name: "count", Brokers: brokers, Inputs: []string{in}, InstanceID: id,
			MaxPollRecords: 400, SessionTimeout: 2 * time.Second, TransactionTimeout: 5 * time.Second,
			Metrics: pipeline.NewMetrics(prometheus.NewRegistry()),
		}, pipeline.Int64Codec{}, p)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	other := &batchCounter{}
	a := newStage("a", bc)
	b = newStage("b", other)
	stopA := running(t, a)

	// Wait until the latest output of every key is its total.
	var recs []*kgo.Record
	pt.WaitFor(t, 60*time.Second, "every key's total", func() bool {
		recs = pt.ReadAll(t, brokers, out)
		last := pt.LastValues(recs)
		for k, n := range want {
			if string(last[k]) != strconv.FormatInt(n, 10) {
				return false
			}
		}
		return true
	})
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	if !midBatch.Load() {
		t.Fatal("the second instance never joined mid-batch")
	}
	if got := testutil.ToFloat64(a.Config().Metrics.Transactions("count", "aborted")); got < 1 {
		t.Errorf("aborted transactions metric = %v, want at least 1", got)
	}
	if bc.flushes.Load() == 0 || other.flushes.Load() == 0 {
		t.Errorf("flushes: %d and %d, want both instances to flush", bc.flushes.Load(), other.flushes.Load())
	}
	// Totals rise per key, never repeat a committed count, and come in
	// far fewer records than the inputs.
	prev := map[string]int64{}
	for _, r := range recs {
		n, _ := strconv.ParseInt(string(r.Value), 10, 64)
		if n <= prev[string(r.Key)] {
			t.Fatalf("key %s: total %d after %d: a batch counted twice or went back", r.Key, n, prev[string(r.Key)])
		}
		prev[string(r.Key)] = n
	}
	if len(recs) >= 4000/4 {
		t.Errorf("%d outputs for 4000 inputs in batches of up to 400: Flush did not coalesce", len(recs))
	}
	checkChangelog(t, brokers, want)
}
