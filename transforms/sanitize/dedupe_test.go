package sanitize

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

type mapStore map[string]int64

func (m mapStore) Get(k string) (int64, bool) { v, ok := m[k]; return v, ok }
func (m mapStore) Put(k string, v int64)      { m[k] = v }
func (m mapStore) Delete(k string)            { delete(m, k) }

func TestDeduper(t *testing.T) {
	d := NewDeduper(24 * time.Hour)
	s := mapStore{}
	e := sale()
	if rj := d.CheckAndRemember(s, e); rj != nil {
		t.Fatal(rj)
	}
	for _, tc := range []struct {
		name   string
		mod    func(*canonical.Event)
		reason string
	}{
		{"same copy", func(*canonical.Event) {}, ReasonDuplicate},
		{"copy within window", func(e *canonical.Event) { e.EventTime = e.EventTime.Add(24 * time.Hour) }, ReasonDuplicate},
		{"copy earlier within window", func(e *canonical.Event) { e.EventTime = e.EventTime.Add(-24 * time.Hour) }, ReasonDuplicate},
		{"copy past window", func(e *canonical.Event) { e.EventTime = e.EventTime.Add(24*time.Hour + 1) }, ""},
		{"other type", func(e *canonical.Event) { e.Type, e.RefTxnID = canonical.Cancel, "SO-1000" }, ""},
		{"other txn", func(e *canonical.Event) { e.TxnID = "SO-1002" }, ""},
		{"other source", func(e *canonical.Event) { e.Source = "erp-us" }, ""},
	} {
		c := sale()
		tc.mod(c)
		rj := d.Check(s, c)
		switch {
		case tc.reason == "" && rj != nil:
			t.Errorf("%s: rejected: %v", tc.name, rj)
		case tc.reason != "" && (rj == nil || rj.Reason != tc.reason || rj.Field != "txn_id"):
			t.Errorf("%s: got %v, want %s on txn_id", tc.name, rj, tc.reason)
		}
	}
	if len(s) != 1 {
		t.Errorf("Check wrote to the store: %v", s)
	}
	// Past the window the new copy is remembered in place of the old.
	late := sale()
	late.EventTime = late.EventTime.Add(48 * time.Hour)
	if rj := d.CheckAndRemember(s, late); rj != nil {
		t.Fatal(rj)
	}
	if rj := d.Check(s, e); rj != nil {
		t.Errorf("first copy now past the window of the remembered one: %v", rj)
	}
	if rj := d.Check(s, late); rj == nil {
		t.Error("late copy not remembered")
	}
	d.Forget(s, late)
	if len(s) != 0 {
		t.Errorf("Forget left %v", s)
	}

	// Window 0 never forgets; a gate's Deduper takes its sources' windows.
	s = mapStore{}
	forever := NewDeduper(0)
	forever.Remember(s, e)
	old := sale()
	old.EventTime = old.EventTime.Add(-10 * 365 * 24 * time.Hour)
	if rj := forever.Check(s, old); rj == nil {
		t.Error("window 0 forgot")
	}
	g := gate(t, typical)
	if rj := g.Deduper().Check(s, old); rj != nil {
		t.Errorf("gate deduper (720h) took a copy 10 years apart as duplicate: %v", rj)
	}
}

// TestDedupeInStage runs a Gate and a Deduper in a real pipeline.Stage on
// kfake: copies within a batch, across batches and across a restart of the
// stage are each rejected once, to the dead-letter topic, and every event
// gets through once.
func TestDedupeInStage(t *testing.T) {
	const (
		in, out, dlq, changelog = "sales.raw", "sales.clean", "sanitize.rejected", "sanitize.changelog"
	)
	_, brokers := pt.Fake(t)
	pt.CreateTopics(t, brokers, 3, []string{in, out, dlq}, changelog)
	g := gate(t, typical)
	d := g.Deduper()
	clock := now

	proc := pipeline.ProcessorFunc[int64](func(c *pipeline.Context[int64], r *kgo.Record) error {
		var e canonical.Event
		if err := json.Unmarshal(r.Value, &e); err != nil {
			return &pipeline.Reject{Reason: ReasonInvalidField, Err: err}
		}
		if rj := g.Check(&e, clock); rj != nil {
			return rj
		}
		if rj := d.CheckAndRemember(c, &e); rj != nil {
			return rj
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		c.Emit(out, r.Key, b)
		return nil
	})
	newStage := func(instance string) *pipeline.Stage[int64] {
		s, err := pipeline.NewStage[int64](pipeline.Config{
			Name: "sanitize", Brokers: brokers, Inputs: []string{in}, InstanceID: instance,
			MaxPollRecords: 7, SessionTimeout: 2 * time.Second, TransactionTimeout: 5 * time.Second,
		}, pipeline.Int64Codec{}, proc)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	produce := func(txns []int) {
		t.Helper()
		for _, n := range txns {
			e := sale()
			e.TxnID = fmt.Sprintf("SO-%d", n)
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			pt.ProduceRaw(t, brokers, in, []byte(e.Source+":"+e.TxnID), b)
		}
	}
	run := func(s *pipeline.Stage[int64]) func() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		var stopped atomic.Bool
		stop := func() {
			if stopped.Swap(true) {
				return
			}
			cancel()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("stage did not stop")
			}
		}
		t.Cleanup(stop)
		return stop
	}

	// First run: 20 events, each of the first 10 twice (copies next to each
	// other, so within a batch, and 10 records apart, so across batches of 7).
	first := []int{}
	for i := 0; i < 20; i++ {
		first = append(first, i)
	}
	first = append(first, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	first = append(first, 15, 15)
	produce(first)
	stop := run(newStage("a"))
	pt.WaitFor(t, 60*time.Second, "first outputs", func() bool { return len(pt.ReadAll(t, brokers, out)) >= 20 })
	pt.WaitFor(t, 60*time.Second, "first dead letters", func() bool { return len(pt.ReadAll(t, brokers, dlq)) >= 12 })
	stop()

	// Second run, new instance restoring the changelog: copies of old
	// events and 5 new ones.
	produce([]int{3, 19, 20, 21, 22, 23, 24, 20, 12})
	stop = run(newStage("b"))
	pt.WaitFor(t, 60*time.Second, "second outputs", func() bool { return len(pt.ReadAll(t, brokers, out)) >= 25 })
	pt.WaitFor(t, 60*time.Second, "second dead letters", func() bool { return len(pt.ReadAll(t, brokers, dlq)) >= 16 })
	stop()

	seen := map[string]int{}
	for _, r := range pt.ReadAll(t, brokers, out) {
		seen[string(r.Key)]++
	}
	if len(seen) != 25 {
		t.Errorf("%d distinct events out, want 25", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s out %d times", k, n)
		}
	}
	dead := map[string]int{}
	for _, r := range pt.ReadAll(t, brokers, dlq) {
		reason, _ := pipeline.Header(r, pipeline.HeaderReason)
		field, _ := pipeline.Header(r, pipeline.HeaderField)
		if reason != ReasonDuplicate || field != "txn_id" {
			t.Errorf("dead letter %s: reason %q field %q", r.Key, reason, field)
		}
		dead[string(r.Key)]++
	}
	want := map[string]int{"erp-eu:SO-15": 2, "erp-eu:SO-3": 2, "erp-eu:SO-19": 1, "erp-eu:SO-20": 1, "erp-eu:SO-12": 1}
	for i := 0; i < 10; i++ {
		if i != 3 {
			want[fmt.Sprintf("erp-eu:SO-%d", i)] = 1
		}
	}
	if fmt.Sprint(dead) != fmt.Sprint(want) {
		t.Errorf("dead letters per key %v, want %v", dead, want)
	}
}
