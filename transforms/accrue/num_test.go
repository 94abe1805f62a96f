package accrue

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/accrue/accrue/transforms/currency"
	"github.com/shopspring/decimal"
)

// The word-sized arithmetic of num.go must give what decimal's own methods
// give, coefficient and exponent alike, for every input: the operands
// below run from zero to 30 digits and exponents from −30 to 6, around
// every boundary of the fast paths (18 digits, 10^18, int64).

func sameDecimal(a, b decimal.Decimal) bool {
	return a.Exponent() == b.Exponent() && a.Coefficient().Cmp(b.Coefficient()) == 0
}

// numOperands are decimals around the edges, and random ones.
func numOperands(rnd *rand.Rand, n int) []decimal.Decimal {
	big18 := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	edges := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(-1), big.NewInt(5), big.NewInt(-5), big.NewInt(15), big.NewInt(25),
		big.NewInt(-25), big.NewInt(1 << 62), big.NewInt(-(1 << 62)), big.NewInt(9223372036854775807),
		new(big.Int).Sub(big18, big.NewInt(1)), new(big.Int).Neg(new(big.Int).Sub(big18, big.NewInt(1))), big18,
		new(big.Int).Add(big18, big.NewInt(5)), new(big.Int).Mul(big18, big18)}
	var out []decimal.Decimal
	out = append(out, decimal.Zero, decimal.Decimal{}, ints[1], ints[2])
	for _, c := range edges {
		for _, e := range []int32{-30, -19, -18, -17, -4, -2, -1, 0, 1, 3} {
			out = append(out, decimal.NewFromBigInt(c, e))
		}
	}
	for range n {
		digits := rnd.IntN(31)
		c := new(big.Int)
		for range digits {
			c.Mul(c, big.NewInt(10)).Add(c, big.NewInt(int64(rnd.IntN(10))))
		}
		if rnd.IntN(3) == 0 {
			c.Neg(c)
		}
		out = append(out, decimal.NewFromBigInt(c, int32(rnd.IntN(37)-30)))
	}
	return out
}

func TestNumMatchesDecimal(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	ops := numOperands(rnd, 400)
	places := []int32{0, 1, 2, 3, 4, 8, 16, 24}
	for _, a := range ops {
		if got, want := neg(a), a.Neg(); !sameDecimal(got, want) {
			t.Fatalf("neg(%s): %s, want %s", a, got, want)
		}
		for _, p := range places {
			if got, want := roundBank(a, p), a.RoundBank(p); !sameDecimal(got, want) {
				t.Fatalf("roundBank(%s, %d): %se%d, want %se%d", a, p, got, got.Exponent(), want, want.Exponent())
			}
			if got, want := string(appendFixed(nil, a, p)), a.StringFixed(p); got != want {
				t.Fatalf("appendFixed(%s, %d): %s, want %s", a, p, got, want)
			}
		}
		if got, want := string(appendFixed(nil, a, -1)), a.String(); got != want {
			t.Fatalf("appendFixed(%se%d, -1): %s, want %s", a.Coefficient(), a.Exponent(), got, want)
		}
		want := a.String()
		if e := a.Exponent(); e < 0 {
			want = a.StringFixed(-e)
		}
		if got := string(appendWritten(nil, a)); got != want {
			t.Fatalf("appendWritten(%se%d): %s, want %s", a.Coefficient(), a.Exponent(), got, want)
		}
	}
	for i, a := range ops {
		for _, b := range ops[max(0, i-60):min(len(ops), i+60)] {
			checkPair(t, a, b)
		}
	}
	for range 20000 {
		checkPair(t, ops[rnd.IntN(len(ops))], ops[rnd.IntN(len(ops))])
	}
}

func checkPair(t *testing.T, a, b decimal.Decimal) {
	t.Helper()
	if got, want := mul(a, b), a.Mul(b); !sameDecimal(got, want) {
		t.Fatalf("mul(%s, %s): %s, want %s", a, b, got, want)
	}
	if got, want := add(a, b), a.Add(b); !sameDecimal(got, want) {
		t.Fatalf("add(%se%d, %se%d): %se%d, want %se%d", a.Coefficient(), a.Exponent(), b.Coefficient(), b.Exponent(),
			got.Coefficient(), got.Exponent(), want.Coefficient(), want.Exponent())
	}
	if got, want := sub(a, b), a.Sub(b); !sameDecimal(got, want) {
		t.Fatalf("sub(%s, %s): %s, want %s", a, b, got, want)
	}
	if got, want := cmp(a, b), a.Cmp(b); got != want {
		t.Fatalf("cmp(%se%d, %se%d): %d, want %d", a.Coefficient(), a.Exponent(), b.Coefficient(), b.Exponent(), got, want)
	}
	// The state's figures: kept and read back, in words or not.
	na := NumOf(a)
	if got := na.Decimal(); !sameDecimal(got, a) || na.IsZero() != a.IsZero() || na.String() != a.String() {
		t.Fatalf("NumOf(%se%d): %se%d", a.Coefficient(), a.Exponent(), got.Coefficient(), got.Exponent())
	}
	if got, want := na.plus(figOf(b)).Decimal(), a.Add(b); !sameDecimal(got, want) {
		t.Fatalf("Num %s plus %s: %s, want %s", a, b, got, want)
	}
	if got, want := na.minus(figOf(b)).Decimal(), a.Sub(b); !sameDecimal(got, want) {
		t.Fatalf("Num %s minus %s: %s, want %s", a, b, got, want)
	}
	if got, want := na.Equal(NumOf(b)), a.Equal(b); got != want {
		t.Fatalf("Num %s Equal %s: %v", a, b, got)
	}
	if b.IsZero() {
		return
	}
	for _, p := range []int32{0, 2, 4, 24} {
		if got, want := divHalfEven(a, b, p), currency.DivHalfEven(a, b, p); !sameDecimal(got, want) {
			t.Fatalf("divHalfEven(%s, %s, %d): %se%d, want %se%d", a, b, p, got, got.Exponent(), want, want.Exponent())
		}
	}
}

// TestNumJSON: a state figure reads and writes JSON as a decimal does.
func TestNumJSON(t *testing.T) {
	for _, s := range []string{"0", "10.50", "-0.000", "123456789012345678901234.5678"} {
		want, _ := d(s).MarshalJSON()
		got, err := NumOf(d(s)).MarshalJSON()
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: %s, want %s (%v)", s, got, want, err)
		}
		var back Num
		var wantBack decimal.Decimal
		_ = wantBack.UnmarshalJSON(want)
		if err := back.UnmarshalJSON(got); err != nil || !sameDecimal(back.Decimal(), wantBack) {
			t.Errorf("%s: read back %s, want %s (%v)", s, back, wantBack, err)
		}
	}
	var n Num
	if err := n.UnmarshalJSON([]byte(`"1e"`)); err == nil {
		t.Error(`"1e" read as a figure`)
	}
}

func FuzzNum(f *testing.F) {
	f.Add(int64(12345), int8(-2), int64(-5), int8(-1), uint8(2))
	f.Add(int64(999999999999999999), int8(-18), int64(1), int8(0), uint8(4))
	f.Add(int64(25), int8(-3), int64(3), int8(0), uint8(1))
	f.Fuzz(func(t *testing.T, ca int64, ea int8, cb int64, eb int8, places uint8) {
		a, b := decimal.New(ca, int32(ea)), decimal.New(cb, int32(eb))
		checkPair(t, a, b)
		p := int32(places % 30)
		if got, want := roundBank(a, p), a.RoundBank(p); !sameDecimal(got, want) {
			t.Fatalf("roundBank(%s, %d): %s, want %s", a, p, got, want)
		}
		if got, want := string(appendFixed(nil, a, p)), a.StringFixed(p); got != want {
			t.Fatalf("appendFixed(%s, %d): %s, want %s", a, p, got, want)
		}
		if got, want := string(appendFixed(nil, a, -1)), a.String(); got != want {
			t.Fatalf("appendFixed(%s, -1): %s, want %s", a, got, want)
		}
	})
}
