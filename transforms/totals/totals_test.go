package totals_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/connectors/synth"
	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/totals"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func sale(rep, amount, currency string) *canonical.Event {
	return &canonical.Event{Type: canonical.Sale, RepID: rep, Amount: canonical.Money{Value: dec(amount), Currency: currency}}
}

func TestAddLeavesReceiverAlone(t *testing.T) {
	var t0 totals.Totals
	t1 := t0.Add(sale("R-1", "10.50", "EUR"))
	t2 := t1.Add(sale("R-1", "0.25", "EUR"))
	t3 := t1.Add(sale("R-1", "100", "JPY"))
	if t1.Sales != 1 || len(t1.Amounts) != 1 || t1.Amounts["EUR"].String() != "10.5" {
		t.Errorf("t1 changed: %+v", t1)
	}
	if t2.Sales != 2 || t2.Amounts["EUR"].String() != "10.75" || len(t2.Amounts) != 1 {
		t.Errorf("t2 = %+v", t2)
	}
	if t3.Sales != 2 || t3.Amounts["JPY"].String() != "100" || t3.Amounts["EUR"].String() != "10.5" {
		t.Errorf("t3 = %+v", t3)
	}
}

func TestCodecRoundTripKeepsScale(t *testing.T) {
	in := totals.Totals{RepID: "R-9", Sales: 3, Amounts: map[string]decimal.Decimal{
		"EUR": dec("10400.50"), "JPY": dec("239928"), "USD": dec("0.10"),
	}}
	b := totals.Codec{}.Encode([]byte("x"), in)
	want := `x{"rep_id":"R-9","sales":3,"amounts":{"EUR":"10400.50","JPY":"239928","USD":"0.10"}}`
	if string(b) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", b, want)
	}
	out, err := totals.Codec{}.Decode(b[1:])
	if err != nil {
		t.Fatal(err)
	}
	if out.RepID != in.RepID || out.Sales != in.Sales || len(out.Amounts) != 3 {
		t.Fatalf("decoded %+v", out)
	}
	for cur, v := range in.Amounts {
		if !out.Amounts[cur].Equal(v) {
			t.Errorf("%s: %s, want %s", cur, out.Amounts[cur], v)
		}
	}
	for _, bad := range []string{`{`, `{"rep_id":"R","sales":1,"amounts":{"EUR":"1,5"}}`} {
		if _, err := (totals.Codec{}).Decode([]byte(bad)); err == nil {
			t.Errorf("decoded %s", bad)
		}
	}
}

const (
	raw       = "sales.raw"
	credited  = "rep.totals"
	rejected  = "totals.rejected"
	changelog = "totals.changelog"
)

// expectation is what a run over the generator's records must leave.
type expectation struct {
	totals  map[string]totals.Totals
	rejects map[[2]string]int // reason, field
	records int
}

func expect(sales []synth.Sale) expectation {
	e := expectation{totals: map[string]totals.Totals{}, rejects: map[[2]string]int{}, records: len(sales)}
	for _, s := range sales {
		switch s.Defect {
		case synth.DefectNone:
			e.totals[s.RepID] = e.totals[s.RepID].Add(&canonical.Event{RepID: s.RepID, Amount: canonical.Money{Value: s.Amount, Currency: s.Currency}})
		case synth.DefectMalformedJSON:
			e.rejects[[2]string{totals.ReasonMalformedJSON, ""}]++
		case synth.DefectMissingRepID:
			e.rejects[[2]string{totals.ReasonMissingField, "rep_id"}]++
		case synth.DefectInvalidAmount:
			e.rejects[[2]string{totals.ReasonInvalidAmount, "amount.value"}]++
		}
	}
	return e
}

// TestStageOnFake runs the processor in a real pipeline.Stage on kfake over
// synthetic sales (5% broken) plus one record keyed by another rep, and
// checks that the emitted totals of every rep equal the sum of its valid
// sales, that the emitted counts per rep are 1..n with no gap or repeat
// (exactly once), that the changelog agrees, and that every broken record is
// on the dead-letter topic with its reason and field.
func TestStageOnFake(t *testing.T) {
	_, brokers := pt.Fake(t)
	pt.CreateTopics(t, brokers, 3, []string{raw, credited, rejected}, changelog)

	g := synth.New(99, synth.WithDefectRate(50))
	sales := make([]synth.Sale, 3000)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs := make([]*kgo.Record, 0, len(sales)+1)
	for i := range sales {
		sales[i] = g.NextSale()
		recs = append(recs, g.Record(sales[i]))
	}
	// A valid sale of R-1 keyed by R-2: refused, it would split R-1's totals.
	misKeyed := g.Record(synth.Sale{EventID: "x:1:sale", Source: "x", TxnID: "1", EventTime: time.Now(),
		RepID: "R-1", Quantity: 1, Amount: dec("1.00"), Currency: "USD"})
	misKeyed.Key = []byte("R-2")
	recs = append(recs, misKeyed)
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	want := expect(sales)
	want.rejects[[2]string{totals.ReasonKeyMismatch, "key"}]++
	nBad := 0
	for _, n := range want.rejects {
		nBad += n
	}
	nGood := len(recs) - nBad

	reg := prometheus.NewRegistry()
	st, err := pipeline.NewStage(pipeline.Config{
		Name: "totals", Brokers: brokers, Inputs: []string{raw}, InstanceID: "test",
		MaxPollRecords: 400, SessionTimeout: 2 * time.Second, TransactionTimeout: 5 * time.Second,
		Metrics: pipeline.NewMetrics(reg),
	}, totals.Codec{}, &totals.Processor{Output: credited})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("stage: %v", err)
		}
	}()

	pt.WaitFor(t, time.Minute, "every record committed", func() bool {
		return testutil.ToFloat64(st.Config().Metrics.RecordsIn("totals", raw)) == float64(len(recs))
	})

	out := pt.ReadAll(t, brokers, credited)
	if len(out) != nGood {
		t.Fatalf("%d output records, want %d", len(out), nGood)
	}
	last := map[string]totals.Totals{}
	for _, r := range out {
		var tt totals.Totals
		if err := json.Unmarshal(r.Value, &tt); err != nil {
			t.Fatalf("output %s: %v", r.Value, err)
		}
		if string(r.Key) != tt.RepID {
			t.Fatalf("output keyed %q holds rep %q", r.Key, tt.RepID)
		}
		if prev := last[tt.RepID].Sales; tt.Sales != prev+1 {
			t.Fatalf("rep %s: sales %d follows %d (offset %d/%d)", tt.RepID, tt.Sales, prev, r.Partition, r.Offset)
		}
		last[tt.RepID] = tt
	}
	checkTotals(t, "output", last, want.totals)

	state := map[string]totals.Totals{}
	for k, v := range pt.LastValues(pt.ReadAll(t, brokers, changelog)) {
		if state[k], err = (totals.Codec{}).Decode(v); err != nil {
			t.Fatalf("changelog %s: %v", k, err)
		}
	}
	checkTotals(t, "changelog", state, want.totals)

	dead := pt.ReadAll(t, brokers, rejected)
	got := map[[2]string]int{}
	for _, r := range dead {
		reason, _ := pipeline.Header(r, pipeline.HeaderReason)
		field, _ := pipeline.Header(r, pipeline.HeaderField)
		src, _ := pipeline.Header(r, synth.HeaderSource)
		if topic, _ := pipeline.Header(r, pipeline.HeaderSourceTopic); topic != raw || src == "" {
			t.Errorf("dead letter %s: source topic %q, source header %q", r.Value, topic, src)
		}
		got[[2]string{reason, field}]++
	}
	if len(dead) != nBad || len(got) != len(want.rejects) {
		t.Errorf("dead letters %v, want %v", got, want.rejects)
	}
	for k, n := range want.rejects {
		if got[k] != n {
			t.Errorf("dead letters %v: %d, want %d", k, got[k], n)
		}
		if m := testutil.ToFloat64(st.Config().Metrics.Rejects("totals", k[0])); m != float64(n) {
			t.Errorf("rejects metric %s = %v, want %d", k[0], m, n)
		}
	}
	t.Logf("%d records: %d credited to %d reps, %d dead letters %v", len(recs), nGood, len(last), nBad, got)
}

func checkTotals(t *testing.T, what string, got, want map[string]totals.Totals) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d reps, want %d", what, len(got), len(want))
	}
	for rep, w := range want {
		g := got[rep]
		if g.Sales != w.Sales || len(g.Amounts) != len(w.Amounts) {
			t.Errorf("%s: rep %s: %d sales in %d currencies, want %d in %d", what, rep, g.Sales, len(g.Amounts), w.Sales, len(w.Amounts))
			continue
		}
		for cur, v := range w.Amounts {
			if !g.Amounts[cur].Equal(v) || g.Amounts[cur].StringFixed(2) != v.StringFixed(2) {
				t.Errorf("%s: rep %s: %s %s, want %s", what, rep, cur, g.Amounts[cur], v)
			}
		}
	}
}

func BenchmarkProcessorAdd(b *testing.B) {
	t := totals.Totals{}
	s := sale("R-1", "1250.00", "EUR")
	b.ReportAllocs()
	for b.Loop() {
		t = t.Add(s)
	}
	if t.Sales == 0 {
		b.Fatal("nothing added")
	}
}
