package sanitize

import (
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

// A bound compares as the decimal it holds, whatever the amount's scale.
func TestBoundCompares(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	bounds := []string{"0", "100", "50000", "1000000", "0.5", "99.99", "1e3", "12345678901234567890.123"}
	for _, s := range bounds {
		d := decimal.RequireFromString(s)
		b := newBound(decimal.NewNullDecimal(d))
		for k := range b.scaled {
			if sc := b.scaled[k]; sc.Valid && (!sc.Decimal.Equal(d) || sc.Decimal.Exponent() != -int32(k)) {
				t.Fatalf("bound %s at scale %d is %s (exp %d)", s, k, sc.Decimal, sc.Decimal.Exponent())
			}
		}
		amounts := []decimal.Decimal{d, d.Neg(), d.Shift(-2), d.Add(decimal.New(1, -20)), decimal.New(0, -3), decimal.New(1, 2)}
		for range 5000 {
			amounts = append(amounts, decimal.New(r.Int64N(2e9)-1e8, -r.Int32N(24)+2))
		}
		for _, v := range amounts {
			if got, want := b.cmp(v), d.Cmp(v); got != want {
				t.Fatalf("bound %s against %s (exp %d): %d, want %d", s, v, v.Exponent(), got, want)
			}
		}
	}
}

func TestBoundCmpDoesNotAllocate(t *testing.T) {
	b := newBound(decimal.NewNullDecimal(decimal.RequireFromString("1000000")))
	v := decimal.RequireFromString("1137.01")
	if n := testing.AllocsPerRun(100, func() { b.cmp(v) }); n != 0 {
		t.Errorf("%v allocations a comparison", n)
	}
}
