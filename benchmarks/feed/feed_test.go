package feed

import (
	"bytes"
	"math"
	"testing"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/transforms/ingest"
	"github.com/accrue/accrue/transforms/link"
)

func generate(t *testing.T, cfg Config) *Feed {
	t.Helper()
	f, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func show(o Outcome) string {
	switch {
	case o.Reject != "":
		return "reject " + o.Reject
	case o.Skip != "":
		return "skip " + o.Skip
	}
	return "event"
}

// TestStagesAgree runs every raw record of a feed through the ingest
// pipeline of its source, built from the example mapping configs and
// gatekeepers as the ingest stage builds it, then through deduplication
// and linking against the feed's reference data, offline, in feed order.
// Each record the feed calls clean must become an event, each it calls
// broken must be refused with the reason it says, each copy must be
// refused as a duplicate, and every event must link with no data missing,
// into as many credits as the feed says; the totals must be Expect's.
func TestStagesAgree(t *testing.T) {
	n := 20_000
	if testing.Short() {
		n = 4000
	}
	f := generate(t, Config{Seed: 7, Records: n, Reps: 300, MalformedPerMille: 30})
	pls, gate, err := Pipelines()
	if err != nil {
		t.Fatal(err)
	}
	seen, dedupe := ingest.MemorySeen{}, gate.Deduper()
	linker, orig := &link.Linker{Tables: f.Tables(), RequireProduct: true}, link.MemoryOriginals{}
	got := Expect{Rejected: map[string]int{}, Skipped: map[string]int{}}
	bad := 0
	fail := func(format string, args ...any) {
		if bad++; bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	for i, it := range f.Raw() {
		j := 0
		pls[it.Topic].Run(it.Value, f.Now(), func(r ingest.Result) {
			defer func() { j++ }()
			if j >= len(it.Want) {
				fail("item %d (%s): more records than the %d it says:\n%s", i, it.Source, len(it.Want), it.Value)
				return
			}
			w := it.Want[j]
			var o Outcome
			switch {
			case r.Reject != nil:
				o.Reject = r.Reject.Reason
				got.Rejected[o.Reject]++
			case r.Skip != "":
				o.Skip = r.Skip
				got.Skipped[o.Skip]++
			}
			if show(o) != show(w) {
				fail("item %d (%s) record %d: %s (%v), want %s:\n%s", i, it.Source, j, show(o), r.Reject, show(w), it.Value)
				return
			}
			if r.Event == nil {
				return
			}
			got.Events++
			if rj := dedupe.CheckAndRemember(seen, r.Event); rj != nil {
				got.Duplicates++
				if !w.Duplicate {
					fail("item %d: %s refused as %s; not a copy", i, r.Event.EventID, rj.Reason)
				}
				return
			}
			if w.Duplicate {
				fail("item %d: copy of %s passed", i, r.Event.EventID)
			}
			got.Clean++
			credits, miss, rj := linker.Link(r.Event, orig)
			if miss != nil || rj != nil {
				fail("item %d: %s does not link: %v %v", i, r.Event.EventID, miss, rj)
				return
			}
			got.Credits += len(credits)
			if len(credits) != w.Credits {
				fail("item %d: %s makes %d credits, want %d", i, r.Event.EventID, len(credits), w.Credits)
			}
			switch r.Event.Type {
			case canonical.Sale:
				got.Sales++
				if len(r.Event.Splits) > 0 {
					got.Splits++
				}
			case canonical.Cancel:
				got.Cancels++
			case canonical.Return:
				got.Returns++
			}
		})
		if j != len(it.Want) {
			fail("item %d (%s): %d records, want %d:\n%s", i, it.Source, j, len(it.Want), it.Value)
		}
	}
	e := f.Expect
	for _, c := range []struct {
		what      string
		got, want int
	}{{"events", got.Events, e.Events}, {"clean", got.Clean, e.Clean}, {"duplicates", got.Duplicates, e.Duplicates},
		{"rejected", sum(got.Rejected), e.RejectedTotal()}, {"skipped", sum(got.Skipped), sum(e.Skipped)},
		{"sales", got.Sales, e.Sales}, {"cancels", got.Cancels, e.Cancels}, {"returns", got.Returns, e.Returns},
		{"splits", got.Splits, e.Splits}, {"credits", got.Credits, e.Credits}} {
		if c.got != c.want {
			t.Errorf("%s: %d, Expect says %d", c.what, c.got, c.want)
		}
	}
	// Every kind of record is there.
	for _, reason := range []string{"malformed_json", "malformed_csv", "malformed_cdc", "missing_field", "invalid_field",
		"unmapped_type", "amount_above_max", "test_account"} {
		if e.Rejected[reason] == 0 {
			t.Errorf("no record rejected %s", reason)
		}
	}
	for _, reason := range []string{"ignored_type", "cdc_no_change", "cdc_tombstone"} {
		if e.Skipped[reason] == 0 {
			t.Errorf("no record skipped %s", reason)
		}
	}
	if e.Cancels == 0 || e.Returns == 0 || e.Late == 0 || e.Splits == 0 || e.Duplicates == 0 || e.RefUpdates == 0 {
		t.Errorf("missing kinds: %+v", e)
	}
	t.Logf("%d records: %d rows, %d events, %d clean (%d sales, %d split, %d late; %d cancels, %d returns), %d copies, %d credits, rejected %v, skipped %v, %d reference updates",
		e.Records, e.Rows, e.Events, e.Clean, e.Sales, e.Splits, e.Late, e.Cancels, e.Returns, e.Duplicates, e.Credits, e.Rejected, e.Skipped, e.RefUpdates)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestDeterministic: the same seed gives the same feed, byte for byte; another seed another.
func TestDeterministic(t *testing.T) {
	a := generate(t, Config{Seed: 42, Records: 3000})
	b := generate(t, Config{Seed: 42, Records: 3000})
	c := generate(t, Config{Seed: 43, Records: 3000})
	if len(a.Items) != len(b.Items) || len(a.Reference) != len(b.Reference) {
		t.Fatalf("same seed: %d and %d items", len(a.Items), len(b.Items))
	}
	for i := range a.Items {
		if a.Items[i].Topic != b.Items[i].Topic || !bytes.Equal(a.Items[i].Key, b.Items[i].Key) || !bytes.Equal(a.Items[i].Value, b.Items[i].Value) {
			t.Fatalf("same seed, item %d differs:\n%s\n%s", i, a.Items[i].Value, b.Items[i].Value)
		}
	}
	same := 0
	for i := range min(len(a.Items), len(c.Items)) {
		if bytes.Equal(a.Items[i].Value, c.Items[i].Value) {
			same++
		}
	}
	if same > len(a.Items)/10 {
		t.Errorf("seeds 42 and 43 share %d of %d items", same, len(a.Items))
	}
}

// TestRates checks the shares of malformed records, sources, late sales
// and cancels against the config, within a few standard deviations.
func TestRates(t *testing.T) {
	n := 20_000
	if testing.Short() {
		n = 8000
	}
	for _, pm := range []int{-1, 10, 50} {
		f := generate(t, Config{Seed: 3, Records: n, MalformedPerMille: pm})
		e := f.Expect
		want := float64(max(pm, 0)) / 1000
		got := float64(e.RejectedTotal()) / float64(e.Rows)
		if sd := math.Sqrt(want * (1 - want) / float64(e.Rows)); math.Abs(got-want) > 4*sd+1e-9 {
			t.Errorf("malformed %d‰: %.4f of rows rejected, want %.4f ± %.4f", pm, got, want, 4*sd)
		}
	}
	f := generate(t, Config{Seed: 3, Records: n})
	e := f.Expect
	for src, share := range map[string]float64{CRM: 0.40, ERP: 0.25, POS: 0.20, Shop: 0.15} {
		// ERP deletes add a tombstone record each.
		got := float64(e.BySource[src]) / float64(e.Records)
		if math.Abs(got-share) > 0.02 {
			t.Errorf("%s: %.3f of the records, want about %.2f", src, got, share)
		}
	}
	if late := float64(e.Late) / float64(e.Sales); late < 0.02 || late > 0.04 {
		t.Errorf("%.3f of sales late, want about 0.03", late)
	}
	if c := float64(e.Cancels+e.Returns) / float64(e.Rows); c < 0.04 || c > 0.07 {
		t.Errorf("%.3f of rows cancel or return a sale, want about 0.06", c)
	}
}

// TestZipf checks that reps sell as Zipf says: by rank r, in proportion to
// 1/(1+r)^s, the busiest far ahead of the median.
func TestZipf(t *testing.T) {
	const reps, s = 1000, 1.1
	n := 30_000
	if testing.Short() {
		n = 10_000
	}
	f := generate(t, Config{Seed: 5, Records: n, Reps: reps, ZipfS: s, RefEvery: -1})
	sales := map[string]int{}
	pls, _, err := Pipelines()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, it := range f.Raw() {
		if it.Source != ERP { // reps by id: no identity to resolve
			continue
		}
		pls[it.Topic].Run(it.Value, f.Now(), func(r ingest.Result) {
			if r.Event != nil && r.Event.Type == canonical.Sale {
				sales[r.Event.RepID]++
				total++
			}
		})
	}
	var h float64
	for k := range reps {
		h += math.Pow(float64(1+k), -s)
	}
	for _, c := range []struct {
		rep  string
		rank int
	}{{"R-0", 0}, {"R-1", 1}, {"R-9", 9}} {
		want := math.Pow(float64(1+c.rank), -s) / h
		got := float64(sales[c.rep]) / float64(total)
		if sd := math.Sqrt(want * (1 - want) / float64(total)); math.Abs(got-want) > 5*sd {
			t.Errorf("%s: %.4f of the sales, Zipf says %.4f ± %.4f", c.rep, got, want, 5*sd)
		}
	}
	if sales["R-0"] < 20*sales["R-500"]+1 {
		t.Errorf("R-0 sold %d, R-500 %d: not skewed enough", sales["R-0"], sales["R-500"])
	}
}

func TestConfigRefused(t *testing.T) {
	for _, cfg := range []Config{{ZipfS: 1}, {Reps: 2}, {MalformedPerMille: 600, CancelPerMille: 500}} {
		if _, err := Generate(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
