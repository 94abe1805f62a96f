package payoutfile

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestDecodePayable(t *testing.T) {
	for _, tc := range []struct {
		name, in, err string
		amount        string
	}{
		{"string amount", `{"idempotency_key":"k","program_id":"ae","period":"2026-11","rep_id":"R-1","currency":"USD","amount":"25.00"}`, "", "25"},
		{"negative", `{"period":"2026-11","rep_id":"R-1","currency":"EUR","amount":"-0.01"}`, "", "-0.01"},
		{"number amount", `{"period":"2026-11","rep_id":"R-1","currency":"JPY","amount":1500}`, "", "1500"},
		{"no rep", `{"period":"2026-11","currency":"USD","amount":"1"}`, "without rep_id", ""},
		{"no period", `{"rep_id":"R-1","currency":"USD","amount":"1"}`, "without period", ""},
		{"no amount", `{"period":"2026-11","rep_id":"R-1","currency":"USD"}`, "without amount", ""},
		{"bad currency", `{"period":"2026-11","rep_id":"R-1","currency":"usd","amount":"1"}`, "ISO 4217", ""},
		{"bad amount", `{"period":"2026-11","rep_id":"R-1","currency":"USD","amount":"1,5"}`, "not a payable", ""},
		{"not json", `{`, "not a payable", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodePayable([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !p.Amount.Equal(decimal.RequireFromString(tc.amount)) {
				t.Errorf("amount %s, want %s", p.Amount, tc.amount)
			}
		})
	}
}

// Totals sum every record of the period, several per key and negatives
// included, and ignore other periods; the sums equal integer arithmetic on
// minor units.
func TestTotalsAddUp(t *testing.T) {
	f := newFixture(1, 3000)
	lines := f.totals(t).Lines()
	if len(lines) != len(f.want) {
		t.Fatalf("%d lines, want %d", len(lines), len(f.want))
	}
	negative := 0
	for i, l := range lines {
		if got, want := toMinor(t, l.Amount.String(), l.Currency), f.want[l.RepID+"|"+l.Currency]; got != want {
			t.Errorf("%s %s: %d minor units, want %d", l.RepID, l.Currency, got, want)
		}
		if i > 0 && (lines[i-1].Currency > l.Currency || lines[i-1].Currency == l.Currency && lines[i-1].RepID >= l.RepID) {
			t.Errorf("lines out of order at %d", i)
		}
		if l.Amount.IsNegative() {
			negative++
		}
	}
	for _, ct := range ByCurrency(lines) {
		if got := toMinor(t, ct.Amount.String(), ct.Currency); got != f.perCcy[ct.Currency] {
			t.Errorf("%s total %d, want %d", ct.Currency, got, f.perCcy[ct.Currency])
		}
	}
	tot := &Totals{Period: "2026-11"}
	if tot.Add(Payable{Period: "2026-10", RepID: "R-1", Currency: "USD", Amount: decimal.NewFromInt(1)}) {
		t.Error("a record of another period was added")
	}
	if len(tot.Lines()) != 0 {
		t.Error("another period's record left a line")
	}
	t.Logf("%d lines, %d negative", len(lines), negative)
}

func TestFormatKeepsEveryDigit(t *testing.T) {
	for _, tc := range []struct{ in, ccy, want string }{
		{"25", "USD", "25.00"}, {"-0.5", "EUR", "-0.50"}, {"1500", "JPY", "1500"},
		{"0.125", "USD", "0.125"}, // never rounded away
	} {
		if got := format(decimal.RequireFromString(tc.in), tc.ccy); got != tc.want {
			t.Errorf("format(%s, %s) = %s, want %s", tc.in, tc.ccy, got, tc.want)
		}
	}
}

func FuzzDecodePayable(f *testing.F) {
	f.Add([]byte(`{"period":"2026-11","rep_id":"R-1","currency":"USD","amount":"25.00"}`))
	f.Add([]byte(`{"amount":1e400}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePayable(b)
		if err != nil {
			return
		}
		if p.RepID == "" || p.Period == "" {
			t.Fatalf("accepted %q without rep or period", b)
		}
		tot := &Totals{Period: p.Period}
		if !tot.Add(p) || len(tot.Lines()) != 1 {
			t.Fatal("a decoded record was not added")
		}
	})
}
