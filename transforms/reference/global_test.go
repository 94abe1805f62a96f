package reference_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/reference"
)

func refTopics(t *testing.T, brokers []string) {
	t.Helper()
	var topics []string
	for _, k := range reference.Kinds {
		topics = append(topics, k.Topic())
	}
	pt.CreateTopics(t, brokers, 3, nil, topics...)
}

func txnClient(t *testing.T, brokers []string, id string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(id))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func rows(t *testing.T, kind reference.Kind, jsonl string) []reference.Row {
	t.Helper()
	var out []reference.Row
	err := reference.Read(kind, strings.NewReader(jsonl), reference.JSONL, func(_ int, r reference.Row) error {
		out = append(out, r)
		return nil
	}, func(e *reference.LineError) { t.Fatalf("bad row: %v", e) })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func date(s string) reference.Date {
	d, err := reference.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// TestGlobalLoadsThenFollows publishes reference data, starts a Global,
// and checks it is ready only with everything published before it started,
// then that later rows, new versions and tombstones reach its tables, and
// that a record that is not a row is counted and skipped.
func TestGlobalLoadsThenFollows(t *testing.T) {
	_, brokers := pt.Fake(t)
	refTopics(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub := txnClient(t, brokers, "ref-load")
	var many strings.Builder
	for i := 0; i < 2000; i++ {
		many.WriteString(`{"rep_id":"R-` + string(rune('a'+i%26)) + `-` + strings.Repeat("x", i%5) + `","valid_from":"2026-01-` + []string{"01", "02", "03"}[i%3] + `"}` + "\n")
	}
	if err := reference.Publish(ctx, pub, "ref.reps", rows(t, reference.Reps, many.String()), nil); err != nil {
		t.Fatal(err)
	}
	if err := reference.Publish(ctx, pub, "ref.reps", rows(t, reference.Reps,
		`{"rep_id":"R-1","team":"north","manager_id":"M-1","valid_from":"2026-01-01"}`), nil); err != nil {
		t.Fatal(err)
	}
	if err := reference.Publish(ctx, pub, "ref.fx", rows(t, reference.FX,
		`{"from":"EUR","to":"USD","rate":"1.08","valid_from":"2026-11-01"}`), nil); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	g, err := reference.NewGlobal(reference.GlobalConfig{Brokers: brokers, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- g.Run(runCtx) }()
	if err := g.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	tb := g.Tables()
	if r, ok := tb.Rep("R-1", date("2026-06-01")); !ok || r.ManagerID != "M-1" {
		t.Fatalf("R-1 not loaded before ready: %v %+v", ok, r)
	}
	if rate, ok := tb.Rate("USD", "EUR", date("2026-11-02")); !ok || rate.String() != "0.9259259259259259" {
		t.Errorf("USD→EUR: %v %s", ok, rate)
	}
	before := tb.Version()

	// While it runs: a new version, a tombstone, a broken record.
	if err := reference.Publish(ctx, pub, "ref.reps", rows(t, reference.Reps,
		`{"rep_id":"R-1","team":"south","manager_id":"M-2","valid_from":"2026-11-15"}`), nil); err != nil {
		t.Fatal(err)
	}
	pt.ProduceRaw(t, brokers, "ref.fx", []byte("EUR/USD@2026-11-01"), nil)
	pt.ProduceRaw(t, brokers, "ref.products", []byte("P-1@"), []byte(`{"category":"no id"}`))
	pt.WaitFor(t, 30*time.Second, "the update, the tombstone and the bad record", func() bool {
		_, fx := tb.Rate("USD", "EUR", date("2026-11-02"))
		r, _ := tb.Rep("R-1", date("2026-11-20"))
		return !fx && r.ManagerID == "M-2" && testutil.ToFloat64(g.BadRecords(reference.Products)) == 1
	})
	if r, _ := tb.Rep("R-1", date("2026-11-14")); r.ManagerID != "M-1" {
		t.Errorf("R-1 before the change: %+v", r)
	}
	if tb.Version() <= before {
		t.Errorf("version %d did not move from %d", tb.Version(), before)
	}
	if got := gauge(t, reg, "accrue_reference_rows", "reps"); got != float64(tb.Reps.Rows()) || got < 3 {
		t.Errorf("rows gauge %v, table %d", got, tb.Reps.Rows())
	}
	if got := gauge(t, reg, "accrue_reference_ready", ""); got != 1 {
		t.Errorf("ready gauge %v", got)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// gauge reads the gauge name (with label kind, where given) from reg.
func gauge(t *testing.T, reg *prometheus.Registry, name, kind string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := kind == ""
			for _, l := range m.GetLabel() {
				match = match || (l.GetName() == "kind" && l.GetValue() == kind)
			}
			if match {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no gauge %s{kind=%q}", name, kind)
	return 0
}

// TestGlobalReadyOnEmptyTopics: nothing to load is ready at once.
func TestGlobalReadyOnEmptyTopics(t *testing.T) {
	_, brokers := pt.Fake(t)
	refTopics(t, brokers)
	g, err := reference.NewGlobal(reference.GlobalConfig{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { _ = g.Run(ctx) }()
	if err := g.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestGlobalMissingTopic fails Run, and WaitReady with it.
func TestGlobalMissingTopic(t *testing.T) {
	_, brokers := pt.Fake(t)
	g, err := reference.NewGlobal(reference.GlobalConfig{Brokers: brokers, TopicWait: 200 * time.Millisecond,
		Kinds: []reference.Kind{reference.Reps}, Topics: map[reference.Kind]string{reference.Reps: "nowhere"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { _ = g.Run(ctx) }()
	if err := g.WaitReady(ctx); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Fatalf("WaitReady: %v, want the missing topic", err)
	}
}

// TestPublishIsAllOrNothing fences a publish mid-way: no row of it is
// visible to a read_committed reader.
func TestPublishIsAllOrNothing(t *testing.T) {
	_, brokers := pt.Fake(t)
	refTopics(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := txnClient(t, brokers, "same-id")
	var rs []reference.Row
	for i := 0; i < 500; i++ {
		rs = append(rs, reference.Rep{RepID: "R-" + string(rune('A'+i%26)) + strings.Repeat("z", i/26), ValidFrom: reference.Forever})
	}
	fenced := false
	err := reference.Publish(ctx, a, "ref.reps", rs, func(done, _ int) {
		if done >= 256 && !fenced {
			fenced = true
			b := txnClient(t, brokers, "same-id")
			if err := b.BeginTransaction(); err != nil {
				t.Error(err)
			}
			b.ProduceSync(ctx, &kgo.Record{Topic: "ref.products", Key: []byte("P-1@"), Value: []byte(`{"product_id":"P-1"}`)})
			if err := b.EndTransaction(ctx, kgo.TryAbort); err != nil {
				t.Error(err)
			}
		}
	})
	if err == nil {
		t.Fatal("a fenced publish succeeded")
	}
	if n := len(pt.ReadAll(t, brokers, "ref.reps")); n != 0 {
		t.Fatalf("%d rows of a failed publish are visible", n)
	}
}
