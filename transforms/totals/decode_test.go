package totals_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/connectors/synth"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/totals"
)

const valid = `{"event_id":"erp-eu:SO-1001:sale","source":"erp-eu","txn_id":"SO-1001","type":"sale",
"event_time":"2026-11-03T10:15:00Z","rep_id":"R-17","account_id":"A-3","product_id":"P-9","quantity":"2",
"amount":{"value":"1250.00","currency":"EUR"},"splits":[{"rep_id":"R-17","share":"1"}]}`

// with returns valid with old replaced by new (once; old must occur).
func with(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(valid, old) {
		t.Fatalf("test bug: %q not in the valid event", old)
	}
	return strings.Replace(valid, old, new, 1)
}

func TestDecodeValid(t *testing.T) {
	s, err := totals.Decode([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if s.EventID != "erp-eu:SO-1001:sale" || s.Source != "erp-eu" || s.TxnID != "SO-1001" || s.RepID != "R-17" ||
		s.Amount.Currency != "EUR" || s.Amount.Value.String() != "1250" || s.Amount.Value.Exponent() != -2 ||
		!s.Quantity.Valid || !s.Quantity.Decimal.Equal(decimal.NewFromInt(2)) ||
		s.EventTime.Format("2006-01-02T15:04:05Z07:00") != "2026-11-03T10:15:00Z" {
		t.Errorf("decoded %+v", s)
	}

	// event_id defaults to source:txn_id:type; quantity is optional.
	s, err = totals.Decode([]byte(`{"source":"crm-na","txn_id":"OPP-7","type":"sale","event_time":"2026-11-03T10:15:00+02:00",
		"rep_id":"R-1","amount":{"value":"0.5","currency":"USD"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.EventID != "crm-na:OPP-7:sale" || s.Quantity.Valid || s.Amount.Value.String() != "0.5" {
		t.Errorf("decoded %+v", s)
	}
}

// TestDecodeAcceptsCanonicalDecimals: totals reads decimals as the
// canonical event does (canonical.ParseDecimal), no stricter.
func TestDecodeAcceptsCanonicalDecimals(t *testing.T) {
	for in, want := range map[string]string{`"+1250"`: "1250", `".5"`: "0.5", `"0.10"`: "0.1"} {
		s, err := totals.Decode([]byte(with(t, `"1250.00"`, in)))
		if err != nil || s.Amount.Value.String() != want {
			t.Errorf("amount %s: %v, %v; want %s", in, s.Amount.Value, err, want)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name, value, reason, field string
	}{
		{"empty", ``, totals.ReasonMalformedJSON, ""},
		{"truncated", valid[:len(valid)/2], totals.ReasonMalformedJSON, ""},
		{"not an object", `[1,2]`, totals.ReasonMalformedJSON, ""},
		{"trailing garbage", valid + `}`, totals.ReasonMalformedJSON, ""},
		{"csv", `R-17,1250.00,EUR`, totals.ReasonMalformedJSON, ""},
		{"null", `null`, totals.ReasonMissingField, "amount.value"},
		{"no rep_id", with(t, `"rep_id":"R-17",`, ``), totals.ReasonMissingField, "rep_id"},
		{"empty rep_id", with(t, `"rep_id":"R-17"`, `"rep_id":""`), totals.ReasonMissingField, "rep_id"},
		{"null rep_id", with(t, `"rep_id":"R-17"`, `"rep_id":null`), totals.ReasonMissingField, "rep_id"},
		{"no source", with(t, `"source":"erp-eu",`, ``), totals.ReasonMissingField, "source"},
		{"no txn_id", with(t, `"txn_id":"SO-1001",`, ``), totals.ReasonMissingField, "txn_id"},
		{"no type", with(t, `"type":"sale",`, ``), totals.ReasonMissingField, "type"},
		{"no event_time", with(t, `"event_time":"2026-11-03T10:15:00Z",`, ``), totals.ReasonMissingField, "event_time"},
		{"no amount", with(t, `"amount":{"value":"1250.00","currency":"EUR"},`, ``), totals.ReasonMissingField, "amount.value"},
		{"no amount value", with(t, `"value":"1250.00",`, ``), totals.ReasonMissingField, "amount.value"},
		{"no currency", with(t, `,"currency":"EUR"`, ``), totals.ReasonMissingField, "amount.currency"},
		{"return", with(t, `"type":"sale"`, `"type":"return"`), totals.ReasonUnsupportedType, "type"},
		{"comma decimal", with(t, `"1250.00"`, `"1250,00"`), totals.ReasonInvalidAmount, "amount.value"},
		{"two dots", with(t, `"1250.00"`, `"1.250.00"`), totals.ReasonInvalidAmount, "amount.value"},
		{"NaN", with(t, `"1250.00"`, `"NaN"`), totals.ReasonInvalidAmount, "amount.value"},
		{"word", with(t, `"1250.00"`, `"ten"`), totals.ReasonInvalidAmount, "amount.value"},
		{"currency sign", with(t, `"1250.00"`, `"$99.99"`), totals.ReasonInvalidAmount, "amount.value"},
		{"hex", with(t, `"1250.00"`, `"0x1F"`), totals.ReasonInvalidAmount, "amount.value"},
		{"space", with(t, `"1250.00"`, `" 12.00"`), totals.ReasonInvalidAmount, "amount.value"},
		{"exponent", with(t, `"1250.00"`, `"1.25e3"`), totals.ReasonInvalidAmount, "amount.value"},
		{"minus only", with(t, `"1250.00"`, `"-"`), totals.ReasonInvalidAmount, "amount.value"},
		{"negative", with(t, `"1250.00"`, `"-1250.00"`), totals.ReasonInvalidAmount, "amount.value"},
		{"too long", with(t, `"1250.00"`, `"`+strings.Repeat("9", 65)+`"`), totals.ReasonInvalidAmount, "amount.value"},
		{"number, not string", with(t, `"1250.00"`, `1250.00`), totals.ReasonInvalidAmount, "amount.value"},
		{"bad time", with(t, `"2026-11-03T10:15:00Z"`, `"03/11/2026"`), totals.ReasonInvalidField, "event_time"},
		{"lower-case currency", with(t, `"EUR"`, `"eur"`), totals.ReasonInvalidField, "amount.currency"},
		{"long currency", with(t, `"EUR"`, `"EURO"`), totals.ReasonInvalidField, "amount.currency"},
		{"bad quantity", with(t, `"quantity":"2"`, `"quantity":"two"`), totals.ReasonInvalidField, "quantity"},
		{"quantity number", with(t, `"quantity":"2"`, `"quantity":2`), totals.ReasonInvalidField, "quantity"},
		{"rep_id number", with(t, `"rep_id":"R-17"`, `"rep_id":17`), totals.ReasonInvalidField, "rep_id"},
		{"amount a string", with(t, `{"value":"1250.00","currency":"EUR"}`, `"1250.00 EUR"`), totals.ReasonInvalidField, "amount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := totals.Decode([]byte(tc.value))
			var rj *pipeline.Reject
			if !errors.As(err, &rj) {
				t.Fatalf("error %v (%T), want a *pipeline.Reject", err, err)
			}
			if rj.Reason != tc.reason || rj.Field != tc.field {
				t.Errorf("reason %q field %q (%v), want %q %q", rj.Reason, rj.Field, err, tc.reason, tc.field)
			}
		})
	}
}

// TestDecodeSynth checks that every defect the generator injects is refused
// with the reason the demo shows, and that every other record decodes to the
// generator's sale.
func TestDecodeSynth(t *testing.T) {
	want := map[synth.Defect][2]string{
		synth.DefectMalformedJSON: {totals.ReasonMalformedJSON, ""},
		synth.DefectMissingRepID:  {totals.ReasonMissingField, "rep_id"},
		synth.DefectInvalidAmount: {totals.ReasonInvalidAmount, "amount.value"},
	}
	g := synth.New(5, synth.WithDefectRate(300))
	for i := range 20_000 {
		s := g.NextSale()
		r := g.Record(s)
		got, err := totals.Decode(r.Value)
		if s.Defect == synth.DefectNone {
			if err != nil {
				t.Fatalf("record %d: %v: %s", i, err, r.Value)
			}
			if got.RepID != s.RepID || got.Amount.Currency != s.Currency || !got.Amount.Value.Equal(s.Amount) || got.EventID != s.EventID ||
				!got.EventTime.Equal(s.EventTime) || got.Quantity.Decimal.IntPart() != s.Quantity || got.AccountID != s.AccountID {
				t.Fatalf("record %d: decoded %+v from sale %+v", i, got, s)
			}
			continue
		}
		var rj *pipeline.Reject
		if !errors.As(err, &rj) || [2]string{rj.Reason, rj.Field} != want[s.Defect] {
			t.Fatalf("record %d (%s): error %v, want %v: %s", i, s.Defect, err, want[s.Defect], r.Value)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"source":"s","txn_id":"t","type":"sale","event_time":"2026-11-03T10:15:00Z","rep_id":"r","amount":{"value":"-0.0","currency":"ABC"}}`))
	g := synth.New(1, synth.WithDefectRate(500))
	for range 20 {
		f.Add(g.Next().Value)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := totals.Decode(b)
		if err != nil {
			var rj *pipeline.Reject
			if !errors.As(err, &rj) || !slices.Contains(totals.Reasons, rj.Reason) {
				t.Fatalf("error %v (%T) is not a Reject with a known reason", err, err)
			}
			if rj.Reason != totals.ReasonMalformedJSON && rj.Field == "" {
				t.Fatalf("reason %s without a field", rj.Reason)
			}
			return
		}
		if s.RepID == "" || s.Source == "" || s.TxnID == "" || s.EventID == "" || len(s.Amount.Currency) != 3 || s.Type != "sale" {
			t.Fatalf("accepted an incomplete sale %+v from %q", s, b)
		}
		if s.Amount.Value.IsNegative() {
			t.Fatalf("accepted a negative amount %s from %q", s.Amount.Value, b)
		}
		// The amount round-trips through its decimal string exactly.
		back, err := decimal.NewFromString(s.Amount.Value.StringFixed(max(0, -s.Amount.Value.Exponent())))
		if err != nil || !back.Equal(s.Amount.Value) {
			t.Fatalf("amount %s does not round-trip: %v", s.Amount.Value, err)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	v := []byte(valid)
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, err := totals.Decode(v); err != nil {
			b.Fatal(err)
		}
	}
}
