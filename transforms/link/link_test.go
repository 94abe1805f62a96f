package link

import (
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/shopspring/decimal"
)

func tables(t *testing.T) *reference.Tables {
	t.Helper()
	var tb reference.Tables
	load := func(k reference.Kind, s string) {
		if bad, err := tb.Load(k, strings.NewReader(s), reference.JSONL); err != nil || len(bad) > 0 {
			t.Fatal(k, err, bad)
		}
	}
	load(reference.Reps, `{"rep_id":"R-1","team":"north","valid_from":"2026-01-01"}
{"rep_id":"R-1","team":"south","valid_from":"2026-11-15"}
{"rep_id":"R-2","valid_from":"2026-01-01"}
{"rep_id":"R-3","valid_from":"2026-12-01"}`)
	load(reference.Identities, `{"source":"crm","identity":"ann@example.com","rep_id":"R-1"}
{"source":"crm","identity":"bob@example.com","rep_id":"R-2"}
{"source":"crm","identity":"bob2@example.com","rep_id":"R-2"}
{"source":"crm","identity":"zed@example.com","rep_id":"R-9"}`)
	load(reference.Accounts, `{"account_id":"A-1","owner_rep_id":"R-2","valid_from":"2026-01-01"}
{"account_id":"A-2"}`)
	load(reference.Products, `{"product_id":"P-1","category":"software","valid_from":"2026-02-01"}`)
	return &tb
}

func sale(txn string, at string, mod func(*canonical.Event)) *canonical.Event {
	ts, _ := time.Parse(time.RFC3339, at)
	e := &canonical.Event{Source: "crm", TxnID: txn, Type: canonical.Sale, EventTime: ts,
		Amount: canonical.Money{Value: decimal.NewFromInt(100), Currency: "EUR"}}
	mod(e)
	return e
}

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestLink(t *testing.T) {
	tb := tables(t)
	l := &Linker{Tables: tb, RequireProduct: true}
	orig := MemoryOriginals{}
	type want struct {
		reps    string // "R-1=1,R-2=0.5"
		via     string
		missing string
		reject  string
	}
	for _, c := range []struct {
		name string
		e    *canonical.Event
		want want
	}{
		{"accrue rep id", sale("T1", "2026-11-03T10:00:00Z", func(e *canonical.Event) { e.RepID = "R-1" }), want{reps: "R-1=1", via: ViaRep}},
		{"identity", sale("T2", "2026-11-03T10:00:00Z", func(e *canonical.Event) { e.RepID = "ann@example.com" }), want{reps: "R-1=1", via: ViaIdentity}},
		{"identity to an unknown rep", sale("T3", "2026-11-03T10:00:00Z", func(e *canonical.Event) { e.RepID = "zed@example.com" }), want{missing: ReasonUnknownRep}},
		{"rep not yet in force", sale("T4", "2026-11-03T10:00:00Z", func(e *canonical.Event) { e.RepID = "R-3" }), want{missing: ReasonUnknownRep}},
		{"splits merge one rep's keys", sale("T5", "2026-11-03T10:00:00Z", func(e *canonical.Event) {
			e.Splits = []canonical.Split{{RepID: "bob@example.com", Share: d("0.3")}, {RepID: "R-1", Share: d("0.5")}, {RepID: "bob2@example.com", Share: d("0.2")}}
		}), want{reps: "R-2=0.5,R-1=0.5"}},
		{"account owner", sale("T6", "2026-11-03T10:00:00Z", func(e *canonical.Event) { e.AccountID = "A-1" }), want{reps: "R-2=1", via: ViaAccountOwner}},
		{"account without owner", sale("T7", "2026-11-03T10:00:00Z", func(e *canonical.Event) { e.AccountID = "A-2" }), want{missing: ReasonUnknownRep}},
		{"unknown account", sale("T8", "2026-11-03T10:00:00Z", func(e *canonical.Event) { e.AccountID = "A-404" }), want{missing: ReasonUnknownAccount}},
		{"product not yet in force", sale("T9", "2026-01-15T10:00:00Z", func(e *canonical.Event) { e.RepID = "R-1"; e.ProductID = "P-1" }), want{missing: ReasonUnknownProduct}},
		{"return follows its original", sale("R1", "2026-11-20T10:00:00Z", func(e *canonical.Event) {
			e.Type, e.RefTxnID, e.RepID = canonical.Return, "T5", "R-1"
		}), want{reps: "R-2=0.5,R-1=0.5", via: ViaOriginal}},
		{"cancel of an unseen sale", sale("C1", "2026-11-20T10:00:00Z", func(e *canonical.Event) { e.Type, e.RefTxnID = canonical.Cancel, "T404" }), want{missing: ReasonUnknownOriginal}},
	} {
		credits, miss, rj := l.Link(c.e, orig)
		var got want
		if miss != nil {
			got.missing = miss.Reason
		}
		if rj != nil {
			got.reject = rj.Reason
		}
		var parts []string
		for _, cr := range credits {
			parts = append(parts, cr.RepID+"="+cr.Share.String())
			if c.want.via != "" && cr.Via != c.want.via {
				t.Errorf("%s: via %s, want %s", c.name, cr.Via, c.want.via)
			}
		}
		got.reps = strings.Join(parts, ",")
		got.via = c.want.via
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

// The rep version a credit used is the one in force on the event's date.
func TestCreditRefsAndJSON(t *testing.T) {
	l := &Linker{Tables: tables(t)}
	for _, c := range []struct{ at, since string }{{"2026-11-14T23:59:59Z", "2026-01-01"}, {"2026-11-15T00:00:00Z", "2026-11-15"}} {
		e := sale("T1", c.at, func(e *canonical.Event) { e.RepID = "R-1"; e.ProductID = "P-1" })
		credits, miss, rj := l.Link(e, MemoryOriginals{})
		if miss != nil || rj != nil || len(credits) != 1 {
			t.Fatal(miss, rj, credits)
		}
		cr := credits[0]
		if cr.Refs.Rep.String() != c.since || cr.Refs.Product.String() != "2026-02-01" {
			t.Errorf("at %s: refs %+v", c.at, cr.Refs)
		}
		b := cr.AppendJSON(nil)
		back, err := DecodeCredit(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if back.ID() != "crm:T1:sale/R-1" || back.RepID != "R-1" || !back.Share.Equal(cr.Share) || back.Refs != cr.Refs ||
			back.Via != ViaRep || !back.Event.EventTime.Equal(e.EventTime) || !back.Event.Amount.Value.Equal(e.Amount.Value) {
			t.Errorf("round trip of %s: %+v", b, back)
		}
	}
	if _, err := DecodeCredit([]byte(`{"rep_id":"R-1","share":"0","event":{}}`)); err == nil {
		t.Error("a zero share decoded")
	}
}
