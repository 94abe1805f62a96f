package payoutfile

import (
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// fixture is a period's payable records and what they add up to, summed
// independently of the package: in integer minor units.
type fixture struct {
	period  string
	records [][]byte         // payouts.payable values, every period
	want    map[string]int64 // rep|currency → minor units, this period only
	perCcy  map[string]int64
}

var minor = map[string]int{"EUR": 2, "USD": 2, "JPY": 0}

func newFixture(seed uint64, n int) *fixture {
	rng := rand.New(rand.NewPCG(seed, 7))
	f := &fixture{period: "2026-11", want: map[string]int64{}, perCcy: map[string]int64{}}
	ccys := []string{"EUR", "USD", "JPY"}
	for i := 0; i < n; i++ {
		rep := fmt.Sprintf("R-%d", rng.IntN(40))
		ccy := repCurrency(rep, ccys) // a rep is paid in one currency
		period := f.period
		if rng.IntN(5) == 0 {
			period = "2026-10"
		}
		units := rng.Int64N(2_000_000) - 200_000                             // clawbacks too
		key := fmt.Sprintf("src:%d:sale/%s#ae/%s/%s", i/2, rep, period, rep) // two records per key
		amt := fmtMinor(units, minor[ccy])
		f.records = append(f.records, []byte(fmt.Sprintf(
			`{"idempotency_key":%q,"program_id":"ae","program_version":3,"period":%q,"rep_id":%q,"currency":%q,"amount":%q,"event_id":"src:%d:sale"}`,
			key, period, rep, ccy, amt, i)))
		if period == f.period {
			f.want[rep+"|"+ccy] += units
			f.perCcy[ccy] += units
		}
	}
	// Two reps clawed back more than they earned: their nets are negative.
	for _, rep := range []string{"R-5", "R-17"} {
		ccy := repCurrency(rep, ccys)
		units := int64(-900_000_000)
		f.records = append(f.records, []byte(fmt.Sprintf(
			`{"idempotency_key":"clawback/%s","program_id":"ae","program_version":3,"period":%q,"rep_id":%q,"currency":%q,"amount":%q,"event_id":"clawback"}`,
			rep, f.period, rep, ccy, fmtMinor(units, minor[ccy]))))
		f.want[rep+"|"+ccy] += units
		f.perCcy[ccy] += units
	}
	return f
}

func repCurrency(rep string, ccys []string) string {
	n := 0
	for _, c := range rep {
		n += int(c)
	}
	return ccys[n%len(ccys)]
}

// fmtMinor writes units of a currency with places minor digits.
func fmtMinor(units int64, places int) string {
	if places == 0 {
		return fmt.Sprint(units)
	}
	sign := ""
	if units < 0 {
		sign, units = "-", -units
	}
	p := int64(1)
	for range places {
		p *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, units/p, places, units%p)
}

// toMinor converts a decimal text of ccy to minor units, failing on any
// digit finer than the minor unit.
func toMinor(t testing.TB, s, ccy string) int64 {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatalf("amount %q: %v", s, err)
	}
	m := d.Shift(int32(minor[ccy]))
	if !m.IsInteger() {
		t.Fatalf("amount %q finer than %s's minor unit", s, ccy)
	}
	return m.IntPart()
}

func (f *fixture) totals(t testing.TB) *Totals {
	t.Helper()
	tot := &Totals{Period: f.period}
	for _, v := range f.records {
		p, err := DecodePayable(v)
		if err != nil {
			t.Fatal(err)
		}
		tot.Add(p)
	}
	return tot
}

// makeIBAN returns a valid IBAN for country and bban, with computed check
// digits.
func makeIBAN(country, bban string) string {
	var b strings.Builder
	for _, c := range bban + country + "00" {
		if c >= 'A' && c <= 'Z' {
			fmt.Fprintf(&b, "%d", c-'A'+10)
		} else {
			b.WriteRune(c)
		}
	}
	n, _ := new(big.Int).SetString(b.String(), 10)
	check := 98 - new(big.Int).Mod(n, big.NewInt(97)).Int64()
	return fmt.Sprintf("%s%02d%s", country, check, bban)
}

// accountsCSV lists an account for every rep R-0..R-(n-1) except those in
// without, and returns the numbers used.
func accountsCSV(n int, without map[string]bool) (string, []string) {
	var b strings.Builder
	var numbers []string
	b.WriteString("rep_id,holder,iban,bic\n")
	for i := 0; i < n; i++ {
		rep := fmt.Sprintf("R-%d", i)
		if without[rep] {
			continue
		}
		iban := makeIBAN("DE", fmt.Sprintf("37040044%010d", 532013000+i))
		numbers = append(numbers, iban)
		bic := ""
		if i%2 == 0 {
			bic = "COBADEFFXXX"
		}
		fmt.Fprintf(&b, "%s,Rep %d Holder,%s,%s\n", rep, i, iban, bic)
	}
	return b.String(), numbers
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
