package link_test

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/ingest"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/accrue/accrue/transforms/sanitize"
)

// topology is the topics of one linking stage under test.
type topology struct {
	brokers                []string
	in, credited, rejected string
	name                   string
	refs                   map[reference.Kind]string
	partitions             int32
}

func newTopology(t *testing.T, brokers []string, partitions int32) *topology {
	t.Helper()
	sfx := fmt.Sprintf("%d", time.Now().UnixNano())
	tp := &topology{brokers: brokers, in: "canonical-" + sfx, credited: "credited-" + sfx, rejected: "rejected-" + sfx,
		name: "link-" + sfx, refs: map[reference.Kind]string{}, partitions: partitions}
	compacted := []string{tp.name + ".changelog"}
	for _, k := range reference.Kinds {
		tp.refs[k] = "ref-" + sfx + "." + string(k)
		compacted = append(compacted, tp.refs[k])
	}
	pt.CreateTopics(t, brokers, partitions, []string{tp.in, tp.credited, tp.rejected}, compacted...)
	return tp
}

// global starts reference tables following the topology's ref topics and
// waits until they are ready.
func (tp *topology) global(t *testing.T) *reference.Global {
	t.Helper()
	g, err := reference.NewGlobal(reference.GlobalConfig{Brokers: tp.brokers, Topics: tp.refs,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := g.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	return g
}

// stage runs the linking stage on tables until the returned function is
// called; it returns the stage's error.
func (tp *topology) stage(t *testing.T, instance string, tables *reference.Tables, deadline time.Duration, met *link.Metrics,
	reg prometheus.Registerer) (*pipeline.Stage[link.Entry], func() error) {
	t.Helper()
	proc, err := link.NewProcessor(link.Config{
		Linker: &link.Linker{Tables: tables, RequireProduct: true}, Deduper: sanitize.NewDeduper(24 * time.Hour),
		Output: tp.credited, ParkDeadline: deadline, TickInterval: 100 * time.Millisecond, Metrics: met,
	})
	if err != nil {
		t.Fatal(err)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	st, err := pipeline.NewStage[link.Entry](pipeline.Config{
		Name: tp.name, Brokers: tp.brokers, Inputs: []string{tp.in}, InstanceID: instance, DeadLetter: tp.rejected,
		MaxPollRecords: 500, SessionTimeout: 2 * time.Second, TransactionTimeout: 5 * time.Second,
		TickInterval: 100 * time.Millisecond, Metrics: pipeline.NewMetrics(reg), Logger: slog.New(slog.DiscardHandler),
	}, link.EntryCodec{}, proc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
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
	return st, stop
}

func publish(t *testing.T, brokers []string, topic string, rs ...reference.Row) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("test-ref-load"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := reference.Publish(ctx, cl, topic, rs, nil); err != nil {
		t.Fatal(err)
	}
}

func produceEvents(t *testing.T, brokers []string, topic string, es ...*canonical.Event) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var rs []*kgo.Record
	for _, e := range es {
		rs = append(rs, &kgo.Record{Topic: topic, Key: ingest.Key(e), Value: e.AppendJSON(nil)})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func at(s string) time.Time {
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return ts
}

func day(s string) reference.Date {
	d, err := reference.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func ev(source, txn string, typ canonical.Type, when string, mod func(*canonical.Event)) *canonical.Event {
	e := &canonical.Event{Source: source, TxnID: txn, Type: typ, EventTime: at(when),
		Amount: canonical.Money{Value: decimal.RequireFromString("100.00"), Currency: "EUR"}}
	if mod != nil {
		mod(e)
	}
	e.EventID = canonical.DefaultEventID(e.Source, e.TxnID, e.Type)
	return e
}

// outcome is what became of the events: credits by credit id, and
// rejections by event id with their reasons ("duplicate+unknown_rep" for an
// event whose copy was rejected too), in sorted order.
type outcome struct {
	credits  map[string]*link.Credit
	raw      map[string]string
	rejected map[string]string
	problems []string
}

func read(t *testing.T, tp *topology) outcome {
	t.Helper()
	o := outcome{credits: map[string]*link.Credit{}, raw: map[string]string{}, rejected: map[string]string{}}
	for _, r := range pt.ReadAll(t, tp.brokers, tp.credited) {
		c, err := link.DecodeCredit(r.Value)
		if err != nil {
			t.Fatalf("credit %s: %v", r.Value, err)
		}
		if string(r.Key) != c.RepID {
			o.problems = append(o.problems, fmt.Sprintf("credit %s keyed %q", c.ID(), r.Key))
		}
		if _, dup := o.credits[c.ID()]; dup {
			o.problems = append(o.problems, "credited twice: "+c.ID())
		}
		o.credits[c.ID()] = c
		o.raw[c.ID()] = string(r.Value)
	}
	for _, r := range pt.ReadAll(t, tp.brokers, tp.rejected) {
		var e canonical.Event
		if err := e.UnmarshalJSON(r.Value); err != nil {
			t.Fatalf("rejected record %s: %v", r.Value, err)
		}
		reason, _ := pipeline.Header(r, pipeline.HeaderReason)
		if prev, ok := o.rejected[e.EventID]; ok {
			rs := append(strings.Split(prev, "+"), reason)
			sort.Strings(rs)
			reason = strings.Join(rs, "+")
		}
		o.rejected[e.EventID] = reason
	}
	return o
}

// TestStageLinksParksReleasesAndExpires runs the linking stage over a small
// story: as-of credits on each side of a rep's mid-month change and of an FX
// rate's change at midnight UTC, a sale whose rep arrives late with a return
// held behind it, a return of a sale never seen and a sale of a rep who
// never arrives (both rejected at their deadline), and a duplicate.
func TestStageLinksParksReleasesAndExpires(t *testing.T) {
	_, brokers := pt.Fake(t)
	tp := newTopology(t, brokers, 3)
	publish(t, brokers, tp.refs[reference.Reps],
		reference.Rep{RepID: "R-1", Team: "north", ManagerID: "M-1", Role: "AE", ValidFrom: day("2026-01-01")},
		reference.Rep{RepID: "R-1", Team: "south", ManagerID: "M-2", Role: "AE", ValidFrom: day("2026-11-15")},
		reference.Rep{RepID: "M-1", Role: "Manager", ValidFrom: reference.Forever},
		reference.Rep{RepID: "M-2", Role: "Manager", ValidFrom: reference.Forever})
	publish(t, brokers, tp.refs[reference.Identities],
		reference.Identity{Source: "crm", Key: "ann@example.com", RepID: "R-1", ValidFrom: reference.Forever})
	publish(t, brokers, tp.refs[reference.FX],
		reference.FXRate{From: "EUR", To: "USD", Rate: decimal.RequireFromString("1.08"), ValidFrom: day("2026-11-01")},
		reference.FXRate{From: "EUR", To: "USD", Rate: decimal.RequireFromString("1.10"), ValidFrom: day("2026-11-16")})
	g := tp.global(t)

	reg := prometheus.NewRegistry()
	met := link.NewMetrics(reg)
	_, stop := tp.stage(t, "a", g.Tables(), 2*time.Second, met, reg)

	rep := func(r string) func(*canonical.Event) { return func(e *canonical.Event) { e.RepID = r } }
	before := ev("crm", "S1", canonical.Sale, "2026-11-14T23:59:59Z", rep("ann@example.com"))
	after := ev("crm", "S2", canonical.Sale, "2026-11-15T00:00:00Z", rep("R-1"))
	fxBefore := ev("crm", "S5", canonical.Sale, "2026-11-15T23:59:59Z", rep("R-1"))
	fxAfter := ev("crm", "S6", canonical.Sale, "2026-11-16T00:00:00Z", rep("R-1"))
	late := ev("crm", "S3", canonical.Sale, "2026-11-20T10:00:00Z", rep("R-2"))
	lateReturn := ev("crm", "RT3", canonical.Return, "2026-11-21T10:00:00Z", func(e *canonical.Event) {
		e.RefTxnID = "S3"
		e.Amount.Value = decimal.RequireFromString("10")
	})
	orphan := ev("crm", "RT9", canonical.Return, "2026-11-21T10:00:00Z", func(e *canonical.Event) { e.RefTxnID = "S9" })
	never := ev("crm", "S4", canonical.Sale, "2026-11-20T10:00:00Z", rep("R-404"))
	produceEvents(t, brokers, tp.in, before, after, fxBefore, fxAfter, late, lateReturn, orphan, never, before)

	pt.WaitFor(t, 30*time.Second, "four credits and the duplicate", func() bool {
		o := read(t, tp)
		return len(o.credits) == 4 && len(o.rejected) == 1
	})
	if n := met.Parked(); n != 4 {
		t.Errorf("parked %d, want 4 (the late sale, its return, the orphan return, the unknown rep's sale)", n)
	}
	publish(t, brokers, tp.refs[reference.Reps], reference.Rep{RepID: "R-2", ManagerID: "M-1", ValidFrom: day("2026-01-01")})
	pt.WaitFor(t, 30*time.Second, "the late sale and its return, then the expired", func() bool {
		o := read(t, tp)
		return len(o.credits) == 6 && len(o.rejected) == 3
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	o := read(t, tp)
	if len(o.problems) > 0 {
		t.Fatal(o.problems)
	}
	tb := g.Tables()
	manager := func(e *canonical.Event, rep string) string {
		c := o.credits[e.EventID+"/"+rep]
		if c == nil {
			t.Fatalf("no credit for %s to %s", e.EventID, rep)
		}
		r, ok := c.Rep(tb)
		if !ok {
			t.Fatalf("credit %s names rep version %s, not in the tables", c.ID(), c.Refs.Rep)
		}
		return r.Team + "/" + r.ManagerID
	}
	if got := manager(before, "R-1"); got != "north/M-1" {
		t.Errorf("a sale a second before the change is credited under %s, want north/M-1", got)
	}
	if got := manager(after, "R-1"); got != "south/M-2" {
		t.Errorf("a sale at the change is credited under %s, want south/M-2", got)
	}
	if c := o.credits[before.EventID+"/R-1"]; c.Via != link.ViaIdentity {
		t.Errorf("credit via %s, want identity", c.Via)
	}
	for _, c := range []struct {
		e    *canonical.Event
		rate string
	}{{fxBefore, "1.08"}, {fxAfter, "1.10"}} {
		r, ok := o.credits[c.e.EventID+"/R-1"].Rate(tb, "USD")
		if !ok || !r.Equal(decimal.RequireFromString(c.rate)) {
			t.Errorf("%s at %s: EUR→USD %v %s, want %s", c.e.EventID, c.e.EventTime.Format(time.RFC3339), ok, r, c.rate)
		}
	}
	if c := o.credits[lateReturn.EventID+"/R-2"]; c == nil || c.Via != link.ViaOriginal {
		t.Errorf("the return held behind its late sale: %+v", c)
	}
	want := map[string]string{
		before.EventID: sanitize.ReasonDuplicate,
		orphan.EventID: link.ReasonUnknownOriginal,
		never.EventID:  link.ReasonUnknownRep,
	}
	for id, reason := range want {
		if o.rejected[id] != reason {
			t.Errorf("%s rejected %q, want %q", id, o.rejected[id], reason)
		}
	}
	if n := met.Parked(); n != 0 {
		t.Errorf("%d still parked", n)
	}
	for k, v := range pt.LastValues(pt.ReadAll(t, brokers, tp.name+".changelog")) {
		if strings.HasPrefix(k, link.ParkedPrefix) {
			t.Errorf("changelog still holds %s (%d bytes)", k, len(v))
		}
	}
	for _, r := range pt.ReadAll(t, brokers, tp.rejected) {
		if reason, _ := pipeline.Header(r, pipeline.HeaderReason); reason == link.ReasonUnknownRep {
			if at, ok := pipeline.Header(r, link.HeaderParkedAt); !ok || at == "" {
				t.Error("an expired event's dead letter does not say when it was parked")
			}
			if src, _ := pipeline.Header(r, pipeline.HeaderSourceTopic); src != tp.in {
				t.Errorf("dead letter source topic %q", src)
			}
		}
	}
}

// world is generated reference data, published entity by entity, and the
// events that need it.
type world struct {
	rows   [][]reference.Row // each entity's rows together, to publish as one
	kinds  []reference.Kind
	events []*canonical.Event
}

// newWorld makes reps with histories, identities, accounts with owners,
// products, and sales (by rep id, by identity, by account, with splits)
// with returns and cancels.
func newWorld(n int) *world {
	w := &world{}
	add := func(k reference.Kind, rs ...reference.Row) {
		w.rows = append(w.rows, rs)
		w.kinds = append(w.kinds, k)
	}
	const reps, products, accounts = 40, 12, 30
	for i := 0; i < reps; i++ {
		id := fmt.Sprintf("R-%d", i)
		add(reference.Reps,
			reference.Rep{RepID: id, Team: "t1", ManagerID: "M-1", ValidFrom: day("2026-01-01")},
			reference.Rep{RepID: id, Team: fmt.Sprintf("t%d", 2+i%3), ManagerID: fmt.Sprintf("M-%d", 2+i%2), ValidFrom: day(fmt.Sprintf("2026-11-%02d", 5+i%20))})
		if i%2 == 0 {
			add(reference.Identities, reference.Identity{Source: "crm", Key: fmt.Sprintf("rep%d@example.com", i), RepID: id, ValidFrom: reference.Forever})
		}
	}
	for i := 0; i < products; i++ {
		add(reference.Products, reference.Product{ProductID: fmt.Sprintf("P-%d", i), Category: []string{"software", "services"}[i%2], ValidFrom: day("2026-02-01")})
	}
	for i := 0; i < accounts; i++ {
		add(reference.Accounts,
			reference.Account{AccountID: fmt.Sprintf("A-%d", i), OwnerRepID: fmt.Sprintf("R-%d", i%reps), ValidFrom: day("2026-01-01")},
			reference.Account{AccountID: fmt.Sprintf("A-%d", i), OwnerRepID: fmt.Sprintf("R-%d", (i+7)%reps), ValidFrom: day("2026-11-18")})
	}
	t0 := at("2026-11-01T00:00:00Z")
	var sales []*canonical.Event
	for i := 0; i < n; i++ {
		when := t0.Add(time.Duration(i) * 37 * time.Minute).Format(time.RFC3339)
		src := []string{"crm", "erp"}[i%2]
		var e *canonical.Event
		if len(sales) > 0 && i%7 == 3 {
			orig := sales[(i*13)%len(sales)]
			typ := canonical.Return
			if i%21 == 3 {
				typ = canonical.Cancel
			}
			e = ev(orig.Source, fmt.Sprintf("X-%d", i), typ, when, func(e *canonical.Event) {
				e.RefTxnID = orig.TxnID
				e.Amount.Value = decimal.RequireFromString("5")
			})
		} else {
			e = ev(src, fmt.Sprintf("T-%d", i), canonical.Sale, when, func(e *canonical.Event) {
				e.ProductID = fmt.Sprintf("P-%d", i%products)
				switch {
				case i%5 == 0:
					e.AccountID = fmt.Sprintf("A-%d", i%accounts)
				case i%5 == 1 && src == "crm":
					e.RepID = fmt.Sprintf("rep%d@example.com", 2*(i%(reps/2)))
				case i%5 == 2:
					e.Splits = []canonical.Split{{RepID: fmt.Sprintf("R-%d", i%reps), Share: decimal.RequireFromString("0.7")},
						{RepID: fmt.Sprintf("R-%d", (i+1)%reps), Share: decimal.RequireFromString("0.3")}}
				default:
					e.RepID = fmt.Sprintf("R-%d", i%reps)
				}
			})
			sales = append(sales, e)
		}
		w.events = append(w.events, e)
	}
	return w
}

// offline links the events in order against the complete tables.
func (w *world) offline(t *testing.T) map[string]string {
	t.Helper()
	var tb reference.Tables
	for _, rs := range w.rows {
		for _, r := range rs {
			tb.Put(r)
		}
	}
	l := &link.Linker{Tables: &tb, RequireProduct: true}
	orig := link.MemoryOriginals{}
	out := map[string]string{}
	for _, e := range w.events {
		credits, miss, rj := l.Link(e, orig)
		if miss != nil || rj != nil {
			t.Fatalf("offline: %s: %v %v", e.EventID, miss, rj)
		}
		for i := range credits {
			out[credits[i].ID()] = string(credits[i].AppendJSON(nil))
		}
	}
	return out
}

// TestStageWithStreamingReferenceMatchesOffline publishes the reference
// data entity by entity while the sales flow, and restarts the stage half
// way: once everything has arrived, sales.credited must hold exactly what
// linking the same events offline against the complete tables gives.
func TestStageWithStreamingReferenceMatchesOffline(t *testing.T) {
	_, brokers := pt.Fake(t)
	tp := newTopology(t, brokers, 4)
	w := newWorld(1200)
	want := w.offline(t)
	g := tp.global(t)
	reg := prometheus.NewRegistry()
	_, stop := tp.stage(t, "a", g.Tables(), time.Hour, link.NewMetrics(reg), nil)

	// Interleave: a slice of events, then an entity's rows, and so on.
	per := len(w.events) / len(w.rows)
	next := 0
	for i, rs := range w.rows {
		end := min(next+per+1, len(w.events))
		produceEvents(t, brokers, tp.in, w.events[next:end]...)
		next = end
		publish(t, brokers, tp.refs[w.kinds[i]], rs...)
		if i == len(w.rows)/2 {
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			_, stop = tp.stage(t, "b", g.Tables(), time.Hour, nil, nil)
		}
	}
	produceEvents(t, brokers, tp.in, w.events[next:]...)
	pt.WaitFor(t, 60*time.Second, fmt.Sprintf("%d credits", len(want)), func() bool { return len(read(t, tp).credits) >= len(want) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	o := read(t, tp)
	if len(o.problems) > 0 || len(o.rejected) > 0 {
		t.Fatalf("problems %v, rejected %v", o.problems, o.rejected)
	}
	var diff []string
	for id, v := range want {
		if o.raw[id] != v {
			diff = append(diff, fmt.Sprintf("%s:\n  stream  %s\n  offline %s", id, o.raw[id], v))
		}
	}
	for id := range o.raw {
		if _, ok := want[id]; !ok {
			diff = append(diff, "not offline: "+id)
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Fatalf("%d credits differ from offline linking, first: %s", len(diff), diff[0])
	}
	parked := counterSum(t, reg, "accrue_link_parked_total")
	if parked < float64(len(w.events)/10) {
		t.Errorf("only %v events were parked: the reference data did not arrive late", parked)
	}
	t.Logf("%d events, %d credits, all as offline; %v parked by the first instance", len(w.events), len(want), parked)
}

func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}
