package mapping

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/accrue/accrue/connectors/canonical"
)

const examplesDir = "../examples"

func loadExample(t testing.TB, name string) *Mapper {
	t.Helper()
	cfg, err := Load(filepath.Join(examplesDir, name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mapFile(t testing.TB, m *Mapper, file string) ([]Outcome, Counts) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examplesDir, file))
	if err != nil {
		t.Fatal(err)
	}
	var out []Outcome
	var c Counts
	m.Map(b, func(o Outcome) {
		checkOne(t, o)
		c.Add(o)
		out = append(out, o)
	})
	return out, c
}

// checkOne asserts the outcome contract: exactly one of event, skip, reject.
func checkOne(t testing.TB, o Outcome) {
	t.Helper()
	n := 0
	if o.Event != nil {
		n++
		if err := o.Event.Validate(); err != nil {
			t.Errorf("line %d: mapped event does not validate: %v", o.Line, err)
		}
	}
	if o.Skip != "" {
		n++
	}
	if o.Reject != nil {
		n++
		if o.Reject.Reason == "" || o.Reject.Err == nil {
			t.Errorf("line %d: reject without reason or message: %+v", o.Line, o.Reject)
		}
	}
	if n != 1 {
		t.Errorf("line %d: %d of event/skip/reject set, want 1: %+v", o.Line, n, o)
	}
	if o.Line < 1 {
		t.Errorf("outcome without a line: %+v", o)
	}
}

func byTxn(out []Outcome, txn string, typ canonical.Type) *canonical.Event {
	for _, o := range out {
		if o.Event != nil && o.Event.TxnID == txn && o.Event.Type == typ {
			return o.Event
		}
	}
	return nil
}

func rejectAt(out []Outcome, line int) *Outcome {
	for i := range out {
		if out[i].Line == line {
			return &out[i]
		}
	}
	return nil
}

func TestExamples(t *testing.T) {
	for _, tc := range []struct {
		config, data string
		events       int
		skips        map[string]int
		rejects      map[string]int
		check        func(t *testing.T, out []Outcome)
	}{
		{
			config: "crm-opportunities", data: "crm-opportunities.ndjson", events: 22,
			skips:   map[string]int{SkipIgnoredType: 2},
			rejects: map[string]int{ReasonUnmappedType: 1, ReasonMissingField: 1, ReasonInvalidField: 3, ReasonMalformedJSON: 1},
			check: func(t *testing.T, out []Outcome) {
				ev := byTxn(out, "OPP-2003", canonical.Sale)
				if ev == nil || canonical.DecimalString(ev.Amount.Value) != "1411.03" || ev.Amount.Currency != "CAD" {
					t.Fatalf("OPP-2003: %+v", ev)
				}
				if ev.EventTime.Format("2006-01-02T15:04:05Z07:00") != "2026-11-04T17:21:00Z" || ev.RepID != "E-1045" ||
					ev.Attributes["crm"] != "salesforce" || ev.Attributes["region"] != "us-east" || ev.Quantity.Decimal.String() != "4" {
					t.Errorf("OPP-2003: %+v", ev)
				}
				if ev.EventID != "crm-na:OPP-2003:sale" {
					t.Errorf("event id %q", ev.EventID)
				}
				c := byTxn(out, "OPP-2005", canonical.Cancel)
				if c == nil || c.RefTxnID != "OPP-2005" {
					t.Errorf("cancel of OPP-2005: %+v", c)
				}
				if e := byTxn(out, "OPP-2021", canonical.Sale); e == nil || e.Amount.Currency != "USD" {
					t.Errorf("default currency: %+v", e)
				}
				if o := rejectAt(out, 29); o == nil || o.Reject == nil || o.Reject.Reason != ReasonMalformedJSON {
					t.Errorf("line 29: %+v", o)
				}
				if o := rejectAt(out, 28); o == nil || o.Reject == nil || o.Reject.Field != "amount.value" {
					t.Errorf("line 28: %+v", o)
				}
			},
		},
		{
			config: "erp-orders-debezium", data: "erp-orders-debezium.ndjson", events: 13,
			skips:   map[string]int{SkipIgnoredType: 3, SkipCDCNoChange: 2, SkipCDCTombstone: 1},
			rejects: map[string]int{ReasonUnmappedType: 1, ReasonInvalidField: 1, ReasonMissingField: 1, ReasonMalformedCDC: 3, ReasonMalformedJSON: 1},
			check: func(t *testing.T, out []Outcome) {
				s := byTxn(out, "SO-1008", canonical.Sale)
				if s == nil || s.Margin == nil || canonical.DecimalString(s.Margin.Value) != "300.00" || s.Attributes["warehouse"] != "BER" {
					t.Errorf("SO-1008: %+v", s)
				}
				c := byTxn(out, "SO-1003", canonical.Cancel)
				if c == nil || c.RefTxnID != "SO-1003" || c.EventTime.Year() != 2026 {
					t.Fatalf("cancel SO-1003: %+v", c)
				}
				sale := byTxn(out, "SO-1003", canonical.Sale)
				if sale == nil || !c.EventTime.After(sale.EventTime) {
					t.Errorf("cancel time %v should be the change time, after the sale %v", c.EventTime, sale)
				}
				if d := byTxn(out, "SO-1004", canonical.Cancel); d == nil || d.RefTxnID != "SO-1004" {
					t.Errorf("delete of SO-1004: %+v", d)
				}
				if e := byTxn(out, "SO-1011", canonical.Sale); e == nil || canonical.DecimalString(e.Amount.Value) != "3421.50" {
					t.Errorf("SO-1011: %+v", e)
				}
			},
		},
		{
			config: "pos-export", data: "pos-export.csv", events: 19,
			skips:   map[string]int{SkipIgnoredType: 1},
			rejects: map[string]int{ReasonMissingField: 1, ReasonInvalidField: 2, ReasonMalformedCSV: 2, ReasonUnmappedType: 1},
			check: func(t *testing.T, out []Outcome) {
				e := byTxn(out, "B-7016", canonical.Sale)
				if e == nil || canonical.DecimalString(e.Amount.Value) != "48656.12" || e.Amount.Currency != "EUR" {
					t.Fatalf("B-7016: %+v", e)
				}
				// 24.11.2026 14:08 in Berlin is 13:08 UTC.
				if got := e.EventTime.Format("2006-01-02 15:04"); got != "2026-11-24 13:08" {
					t.Errorf("B-7016 time %s", got)
				}
				n := byTxn(out, "B-7017", canonical.Sale)
				if n == nil || n.Attributes["note"] != "Kunde wünscht Rechnung;\nFirma Müller GmbH" {
					t.Errorf("B-7017 note: %+v", n)
				}
				if r := byTxn(out, "B-7018", canonical.Return); r == nil || r.RefTxnID != "B-7002" || r.Attributes["note"] != `Umtausch, "falsche Größe"` {
					t.Errorf("B-7018: %+v", r)
				}
				// The embedded newline in B-7017 shifts every later line by one.
				if o := rejectAt(out, 20); o == nil || o.Event == nil || o.Event.TxnID != "B-7018" {
					t.Errorf("line 20: %+v", o)
				}
				if o := rejectAt(out, 26); o == nil || o.Reject == nil || o.Reject.Reason != ReasonMalformedCSV {
					t.Errorf("line 26: %+v", o)
				}
			},
		},
		{
			config: "shop-webhook", data: "shop-webhook.json", events: 13,
			skips:   map[string]int{SkipIgnoredType: 1},
			rejects: map[string]int{ReasonInvalidField: 2, ReasonMissingField: 1, ReasonMalformedJSON: 1},
			check: func(t *testing.T, out []Outcome) {
				e := byTxn(out, "5110", canonical.Sale)
				if e == nil || len(e.Splits) != 3 || e.Splits[2].RepID != "R-31" || e.Splits[2].Share.String() != "0.2" {
					t.Fatalf("5110: %+v", e)
				}
				if e.EventID != "wh_09010" || e.ProductID != "SKU-2" || e.Quantity.Decimal.String() != "1" {
					t.Errorf("5110: %+v", e)
				}
				if n := byTxn(out, "5113", canonical.Sale); n == nil || canonical.DecimalString(n.Amount.Value) != "179.90" {
					t.Errorf("5113 (a JSON number): %+v", n)
				}
				if c := byTxn(out, "5103", canonical.Cancel); c == nil || c.RefTxnID != "5103" {
					t.Errorf("refund of 5103: %+v", c)
				}
			},
		},
	} {
		t.Run(tc.config, func(t *testing.T) {
			m := loadExample(t, tc.config)
			out, c := mapFile(t, m, tc.data)
			if c.Events != tc.events || !sameCounts(c.Skips, tc.skips) || !sameCounts(c.Rejects, tc.rejects) {
				for _, o := range out {
					if o.Event == nil {
						t.Logf("line %d: skip=%q reject=%v", o.Line, o.Skip, o.Reject)
					}
				}
				t.Fatalf("events %d skips %v rejects %v; want %d %v %v", c.Events, c.Skips, c.Rejects, tc.events, tc.skips, tc.rejects)
			}
			tc.check(t, out)
		})
	}
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
