package synth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/synth"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// event is the canonical sale event as a test reads it, independently of
// the generator's own encoding.
type event struct {
	EventID   string `json:"event_id"`
	Source    string `json:"source"`
	TxnID     string `json:"txn_id"`
	Type      string `json:"type"`
	EventTime string `json:"event_time"`
	RepID     string `json:"rep_id"`
	AccountID string `json:"account_id"`
	ProductID string `json:"product_id"`
	Quantity  string `json:"quantity"`
	Amount    struct {
		Value    string `json:"value"`
		Currency string `json:"currency"`
	} `json:"amount"`
}

func newClient(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func TestDeterministic(t *testing.T) {
	a, b, c := synth.New(7), synth.New(7), synth.New(8)
	differ := false
	for i := range 5000 {
		ra, rb, rc := a.Next(), b.Next(), c.Next()
		if !bytes.Equal(ra.Key, rb.Key) || !bytes.Equal(ra.Value, rb.Value) || len(ra.Headers) != len(rb.Headers) {
			t.Fatalf("record %d differs between two generators seeded alike:\n%s\n%s", i, ra.Value, rb.Value)
		}
		if !bytes.Equal(ra.Value, rc.Value) {
			differ = true
		}
	}
	if !differ {
		t.Error("seeds 7 and 8 gave the same 5000 records")
	}
}

func TestRecordsAreCanonicalSales(t *testing.T) {
	g := synth.New(1)
	currencies := map[string][]string{}
	for _, s := range g.Sources() {
		currencies[s.Name] = s.Currencies
	}
	const n = 100_000
	var defects [synth.NumDefects]int
	perSource := map[string]int{}
	txns := map[string]bool{}
	for i := range n {
		s := g.NextSale()
		r := g.Record(s)
		defects[s.Defect]++
		perSource[s.Source]++
		if len(r.Headers) != 1 || r.Headers[0].Key != synth.HeaderSource || string(r.Headers[0].Value) != s.Source {
			t.Fatalf("record %d: headers %v, want source=%s", i, r.Headers, s.Source)
		}
		if txns[s.EventID] {
			t.Fatalf("record %d: event id %s repeated", i, s.EventID)
		}
		txns[s.EventID] = true

		var e event
		err := json.Unmarshal(r.Value, &e)
		switch s.Defect {
		case synth.DefectMalformedJSON:
			if json.Valid(r.Value) {
				t.Fatalf("record %d: malformed_json defect is valid JSON: %s", i, r.Value)
			}
			if string(r.Key) != s.RepID {
				t.Fatalf("record %d: key %q, want %q", i, r.Key, s.RepID)
			}
			continue
		case synth.DefectMissingRepID:
			if err != nil || e.RepID != "" || r.Key != nil {
				t.Fatalf("record %d: missing_rep_id defect has rep_id %q, key %q (err %v)", i, e.RepID, r.Key, err)
			}
			continue
		case synth.DefectInvalidAmount:
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if _, err := decimal.NewFromString(e.Amount.Value); err == nil && plainDecimal(e.Amount.Value) {
				t.Fatalf("record %d: invalid_amount defect has a decimal amount %q", i, e.Amount.Value)
			}
			continue
		}
		if err != nil {
			t.Fatalf("record %d: %v: %s", i, err, r.Value)
		}
		if string(r.Key) != e.RepID || e.RepID != s.RepID || e.RepID == "" {
			t.Fatalf("record %d: key %q, rep_id %q, sale rep %q", i, r.Key, e.RepID, s.RepID)
		}
		if e.Type != "sale" || e.Source != s.Source || e.TxnID != s.TxnID || e.EventID != e.Source+":"+e.TxnID+":sale" {
			t.Fatalf("record %d: identity %q %q %q %q", i, e.EventID, e.Source, e.TxnID, e.Type)
		}
		if _, err := time.Parse(time.RFC3339, e.EventTime); err != nil {
			t.Fatalf("record %d: event_time: %v", i, err)
		}
		amt, err := decimal.NewFromString(e.Amount.Value)
		if err != nil || !plainDecimal(e.Amount.Value) || !amt.Equal(s.Amount) || !amt.IsPositive() {
			t.Fatalf("record %d: amount %q (%v), sale amount %s", i, e.Amount.Value, err, s.Amount)
		}
		if !slices.Contains(currencies[e.Source], e.Amount.Currency) || e.Amount.Currency != s.Currency {
			t.Fatalf("record %d: currency %s for source %s", i, e.Amount.Currency, e.Source)
		}
		if e.Amount.Currency == "JPY" && amt.Exponent() != 0 || e.Amount.Currency != "JPY" && amt.Exponent() != -2 {
			t.Fatalf("record %d: amount %s %s has the wrong number of decimals", i, e.Amount.Value, e.Amount.Currency)
		}
	}
	bad := n - defects[synth.DefectNone]
	if bad < n*5/1000 || bad > n*15/1000 {
		t.Errorf("%d of %d records broken, want about 1%%", bad, n)
	}
	for d := synth.DefectMalformedJSON; d < synth.NumDefects; d++ {
		if defects[d] < bad/5 {
			t.Errorf("defect %s: %d of %d broken records, want about a third", d, defects[d], bad)
		}
	}
	// Weights 5:3:2.
	for name, want := range map[string]float64{"crm-na": 0.5, "erp-eu": 0.3, "pos-apac": 0.2} {
		if got := float64(perSource[name]) / n; got < want-0.02 || got > want+0.02 {
			t.Errorf("source %s: share %.3f, want %.1f", name, got, want)
		}
	}
}

// plainDecimal reports whether s is -?digits(.digits)?, the shape of a
// canonical money value.
func plainDecimal(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && digits > 0 && i < len(s)-1:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

func TestDefectRateAndSources(t *testing.T) {
	g := synth.New(3, synth.WithDefectRate(0), synth.WithSources(synth.Source{
		Name: "shop", TxnPrefix: "W-", Currencies: []string{"GBP"}, Weight: 1, Reps: []string{"R-a", "R-b"},
	}), synth.WithStart(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)))
	first := g.NextSale()
	if first.EventTime.Before(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("first event at %v, before the start", first.EventTime)
	}
	for range 10_000 {
		s := g.NextSale()
		if s.Defect != synth.DefectNone || s.Source != "shop" || s.Currency != "GBP" || (s.RepID != "R-a" && s.RepID != "R-b") {
			t.Fatalf("unexpected sale %+v", s)
		}
	}
}

func TestNewPanicsOnInvalidSource(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New accepted a source without reps")
		}
	}()
	synth.New(1, synth.WithSources(synth.Source{Name: "x", Currencies: []string{"USD"}, Weight: 1}))
}

func TestRunProducesAtRateAndCounts(t *testing.T) {
	_, brokers := pt.Fake(t)
	pt.CreateTopics(t, brokers, 3, []string{"sales.raw"})
	cl := newClient(t, brokers)

	g := synth.New(11, synth.WithDefectRate(100))
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := g.Run(ctx, cl, "sales.raw", 4000); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	st := g.Stats()
	if st.Failed != 0 {
		t.Errorf("%d records failed", st.Failed)
	}
	// 1.5s at 4000/s: 6000, give or take the ticks and a slow machine.
	if n := st.Produced(); n < 4000 || n > 6100 {
		t.Errorf("produced %d records in %v at 4000/s", n, elapsed)
	}

	recs := pt.ReadAll(t, brokers, "sales.raw")
	if int64(len(recs)) != st.Produced() {
		t.Fatalf("topic holds %d records, Stats says %d", len(recs), st.Produced())
	}
	// The topic holds exactly the generator's sequence, per source.
	replay := synth.New(11, synth.WithDefectRate(100))
	var want synth.Stats
	want.Sources = make([]synth.SourceStats, 3)
	bySource := map[string]int{}
	for i, s := range replay.Sources() {
		bySource[s.Name] = i
		want.Sources[i].Name = s.Name
	}
	wantValues := map[string]bool{}
	for range len(recs) {
		s := replay.NextSale()
		r := replay.Record(s)
		wantValues[string(r.Value)] = true
		i := bySource[s.Source]
		want.Sources[i].Produced++
		want.Defects[s.Defect]++
		if s.Defect != synth.DefectNone {
			want.Sources[i].Defective++
		}
	}
	for _, r := range recs {
		if !wantValues[string(r.Value)] {
			t.Fatalf("record %s is not in the generator's sequence", r.Value)
		}
	}
	if fmt.Sprint(st.Sources, st.Defects) != fmt.Sprint(want.Sources, want.Defects) {
		t.Errorf("stats %v %v, want %v %v", st.Sources, st.Defects, want.Sources, want.Defects)
	}
}

func TestRunRejectsBadArguments(t *testing.T) {
	g := synth.New(1)
	if err := g.Run(context.Background(), nil, "t", 0); err == nil {
		t.Error("rate 0 accepted")
	}
	if err := g.Run(context.Background(), nil, "", 10); err == nil {
		t.Error("empty topic accepted")
	}
}

func BenchmarkNext(b *testing.B) {
	g := synth.New(1)
	b.ReportAllocs()
	for b.Loop() {
		if r := g.Next(); len(r.Value) == 0 {
			b.Fatal("empty record")
		}
	}
}

// TestDuplicates checks that WithDuplicateRate repeats earlier valid
// records byte for byte, at about the rate asked.
func TestDuplicates(t *testing.T) {
	g := synth.New(4, synth.WithDuplicateRate(5))
	seen := map[string]string{}
	dups := 0
	const n = 100_000
	for i := range n {
		s := g.NextSale()
		r := g.Record(s)
		prev, again := seen[s.EventID]
		if s.Duplicate != again {
			t.Fatalf("record %d: Duplicate %v, event id seen before %v", i, s.Duplicate, again)
		}
		if s.Duplicate {
			dups++
			if s.Defect != synth.DefectNone || prev != string(r.Value) {
				t.Fatalf("record %d: duplicate differs from the original:\n%s\n%s", i, prev, r.Value)
			}
		}
		seen[s.EventID] = string(r.Value)
	}
	if dups < n*4/1000 || dups > n*6/1000 {
		t.Errorf("%d duplicates in %d records, want about 0.5%%", dups, n)
	}
}
