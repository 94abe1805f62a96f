package canonical

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

const example = `{
  "event_id": "erp-eu:SO-1001:sale", "source": "erp-eu", "txn_id": "SO-1001", "type": "sale",
  "ref_txn_id": null, "event_time": "2026-11-03T10:15:00Z", "rep_id": "R-17", "account_id": "A-3",
  "product_id": "P-9", "quantity": "2",
  "amount": {"value": "1250.00", "currency": "EUR"}, "margin": {"value": "300.00", "currency": "EUR"},
  "splits": [{"rep_id": "R-17", "share": "0.6"}, {"rep_id": "R-22", "share": "0.4"}],
  "attributes": {"channel": "online"}
}`

func TestEventRoundTrip(t *testing.T) {
	var e Event
	if err := json.Unmarshal([]byte(example), &e); err != nil {
		t.Fatal(err)
	}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	if e.Amount.Value.String() != "1250" || e.Amount.Value.Exponent() != -2 || e.Margin.Currency != "EUR" ||
		!e.EventTime.Equal(time.Date(2026, 11, 3, 10, 15, 0, 0, time.UTC)) || len(e.Splits) != 2 ||
		e.Attributes["channel"] != "online" || e.Quantity.Decimal.String() != "2" {
		t.Fatalf("decoded %+v", e)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"value":"1250.00"`) || !strings.Contains(string(b), `"ref_txn_id":null`) {
		t.Errorf("encoded %s", b)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) {
		t.Errorf("not stable:\n%s\n%s", b, b2)
	}
}

func TestEventDecodeErrorsNameTheField(t *testing.T) {
	for _, c := range []struct{ in, field string }{
		{`{"amount": {"value": 12.5, "currency": "EUR"}}`, "amount.value"},
		{`{"amount": {"value": "1e3", "currency": "EUR"}}`, "amount.value"},
		{`{"amount": {"value": "", "currency": "EUR"}}`, "amount.value"},
		{`{"event_time": "yesterday", "amount": {"value": "1", "currency": "EUR"}}`, "event_time"},
		{`{"quantity": "two", "amount": {"value": "1", "currency": "EUR"}}`, "quantity"},
		{`{"splits": [{"rep_id": "a", "share": "x"}], "amount": {"value": "1", "currency": "EUR"}}`, "splits[0].share"},
		{`{"margin": {"value": "NaN", "currency": "EUR"}, "amount": {"value": "1", "currency": "EUR"}}`, "margin.value"},
	} {
		var e Event
		err := json.Unmarshal([]byte(c.in), &e)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: got %v, want an error on %s", c.in, err, c.field)
		}
	}
}

func valid() Event {
	return Event{Source: "crm", TxnID: "T1", Type: Sale, EventTime: time.Unix(1e9, 0), RepID: "R1",
		Amount: Money{Value: decimal.RequireFromString("10.00"), Currency: "USD"}}
}

func TestValidate(t *testing.T) {
	d := decimal.RequireFromString
	for _, c := range []struct {
		name  string
		mod   func(*Event)
		field string
	}{
		{"ok", func(*Event) {}, ""},
		{"no source", func(e *Event) { e.Source = "" }, "source"},
		{"no txn", func(e *Event) { e.TxnID = "" }, "txn_id"},
		{"bad type", func(e *Event) { e.Type = "refund" }, "type"},
		{"no time", func(e *Event) { e.EventTime = time.Time{} }, "event_time"},
		{"return without ref", func(e *Event) { e.Type = Return }, "ref_txn_id"},
		{"cancel with ref", func(e *Event) { e.Type = Cancel; e.RefTxnID = "T0" }, ""},
		{"no rep", func(e *Event) { e.RepID = "" }, "rep_id"},
		{"no rep, the account's owner", func(e *Event) { e.RepID = ""; e.AccountID = "A-1" }, ""},
		{"cancel without rep", func(e *Event) { e.RepID = ""; e.AccountID = ""; e.Type = Cancel; e.RefTxnID = "T0" }, ""},
		{"adjustment without rep", func(e *Event) { e.RepID = ""; e.AccountID = ""; e.Type = Adjustment }, "rep_id"},
		{"splits instead of rep", func(e *Event) {
			e.RepID = ""
			e.Splits = []Split{{"a", d("0.5")}, {"b", d("0.5")}}
		}, ""},
		{"no currency", func(e *Event) { e.Amount.Currency = "" }, "amount.currency"},
		{"negative sale", func(e *Event) { e.Amount.Value = d("-1") }, "amount.value"},
		{"negative adjustment", func(e *Event) { e.Type = Adjustment; e.Amount.Value = d("-1") }, ""},
		{"margin without currency", func(e *Event) { e.Margin = &Money{Value: d("1")} }, "margin.currency"},
		{"negative quantity", func(e *Event) { e.Quantity = decimal.NewNullDecimal(d("-2")) }, "quantity"},
		{"split share zero", func(e *Event) { e.Splits = []Split{{"a", d("0")}, {"b", d("1")}} }, "splits[0].share"},
		{"split without rep", func(e *Event) { e.Splits = []Split{{"", d("1")}} }, "splits[0].rep_id"},
		{"splits not summing to 1", func(e *Event) { e.Splits = []Split{{"a", d("0.6")}, {"b", d("0.3")}} }, "splits"},
		{"txn id not UTF-8", func(e *Event) { e.TxnID = "T-\xff\xfe" }, "txn_id"},
		{"txn id holding U+FFFD itself", func(e *Event) { e.TxnID = "T-\uFFFD" }, ""},
		{"rep id with a newline", func(e *Event) { e.RepID = "R-1\nR-2" }, "rep_id"},
		{"product id with DEL", func(e *Event) { e.ProductID = "P\x7f" }, "product_id"},
		{"source of 256 bytes", func(e *Event) { e.Source = strings.Repeat("s", MaxIDBytes) }, ""},
		{"source of 257 bytes", func(e *Event) { e.Source = strings.Repeat("s", MaxIDBytes+1) }, "source"},
		{"account id of 2 MiB", func(e *Event) { e.AccountID = strings.Repeat("a", 2<<20) }, "account_id"},
		{"split rep not UTF-8", func(e *Event) {
			e.RepID = ""
			e.Splits = []Split{{"a", d("0.5")}, {"b\xc3", d("0.5")}}
		}, "splits[1].rep_id"},
		{"margin currency with a tab", func(e *Event) { e.Margin = &Money{Value: d("1"), Currency: "EU\tR"} }, "margin.currency"},
		{"attribute value with a newline", func(e *Event) { e.Attributes = map[string]string{"note": "two\nlines"} }, ""},
		{"attribute value not UTF-8", func(e *Event) { e.Attributes = map[string]string{"note": "\xff"} }, "attributes.note"},
		{"attribute value too long", func(e *Event) {
			e.Attributes = map[string]string{"note": strings.Repeat("x", MaxAttributeValueBytes+1)}
		}, "attributes.note"},
		{"attribute key with a newline", func(e *Event) { e.Attributes = map[string]string{"a\nb": "x"} }, "attributes"},
		{"too many attributes", func(e *Event) {
			e.Attributes = map[string]string{}
			for i := range MaxAttributes + 1 {
				e.Attributes["k"+strconv.Itoa(i)] = "v"
			}
		}, "attributes"},
	} {
		e := valid()
		c.mod(&e)
		err := e.Validate()
		var fe *FieldError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: unexpected %v", c.name, err)
		case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
			t.Errorf("%s: got %v, want an error on %s", c.name, err, c.field)
		}
	}
}

func FuzzEventJSON(f *testing.F) {
	f.Add([]byte(example))
	f.Add([]byte(`{"amount":{"value":"-0.000","currency":"JPY"},"splits":[]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			return
		}
		out, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("decoded event does not encode: %v", err)
		}
		if ref, err := referenceJSON(e); err != nil || string(ref) != string(out) {
			t.Fatalf("AppendJSON differs from the reflective encoding (%v):\n%s\n%s", err, out, ref)
		}
		var back Event
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("encoded event does not decode: %v\n%s", err, out)
		}
		if !back.Amount.Value.Equal(e.Amount.Value) || back.Key() != e.Key() {
			t.Fatalf("round trip changed the event:\n%s", out)
		}
	})
}

// referenceJSON is the reflective encoding of the wire struct that
// AppendJSON must match byte for byte.
func referenceJSON(e Event) ([]byte, error) {
	w := wire{
		EventID: e.EventID, Source: e.Source, TxnID: e.TxnID, Type: e.Type,
		EventTime: e.EventTime.UTC().Format(time.RFC3339Nano),
		RepID:     e.RepID, AccountID: e.AccountID, ProductID: e.ProductID,
		Amount:     wireMoney{Value: DecimalString(e.Amount.Value), Currency: e.Amount.Currency},
		Attributes: e.Attributes,
	}
	if w.EventID == "" {
		w.EventID = DefaultEventID(e.Source, e.TxnID, e.Type)
	}
	if e.RefTxnID != "" {
		w.RefTxnID = &e.RefTxnID
	}
	if e.Quantity.Valid {
		q := DecimalString(e.Quantity.Decimal)
		w.Quantity = &q
	}
	if e.Margin != nil {
		w.Margin = &wireMoney{Value: DecimalString(e.Margin.Value), Currency: e.Margin.Currency}
	}
	for _, s := range e.Splits {
		w.Splits = append(w.Splits, wireSplit{RepID: s.RepID, Share: DecimalString(s.Share)})
	}
	return json.Marshal(w)
}

func BenchmarkEventUnmarshal(b *testing.B) {
	b.ReportAllocs()
	data := []byte(example)
	for b.Loop() {
		var e Event
		if err := json.Unmarshal(data, &e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEventAppendJSON(b *testing.B) {
	var e Event
	if err := json.Unmarshal([]byte(example), &e); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
}
