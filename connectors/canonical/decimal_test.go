package canonical

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/shopspring/decimal"
)

var decimalCases = []string{
	"0", "-0", "+0", "0.00", "-0.00", "1", "-1", "+7", "5.", ".5", "-.5", "1250.00", "1137.01", "-3", "0.5",
	"0.0001", "-0.000120", "007.50", "999999999999999999", "-999999999999999999", "99999999999999999.9",
	"0.000000000000000001", "1000000000000000000", "-9223372036854775808", "9223372036854775807",
	"123456789012345678901234567890.123456789", "0.00000000000000000000000000001",
}

// ParseDecimal reads digits itself for up to 18 of them; the result must be
// the decimal NewFromString gives, value and scale.
func TestParseDecimalMatchesNewFromString(t *testing.T) {
	for _, s := range decimalCases {
		checkParse(t, s)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		checkParse(t, randomDecimal(r))
	}
}

func checkParse(t *testing.T, s string) {
	t.Helper()
	got, err := ParseDecimal(s)
	if err != nil {
		t.Fatalf("ParseDecimal(%q): %v", s, err)
	}
	want := decimal.RequireFromString(s)
	if !got.Equal(want) || got.Exponent() != want.Exponent() || DecimalString(got) != DecimalString(want) {
		t.Fatalf("ParseDecimal(%q) = %s (exp %d), want %s (exp %d)", s, got, got.Exponent(), want, want.Exponent())
	}
}

// AppendDecimal must write exactly what DecimalString writes.
func TestAppendDecimalMatchesDecimalString(t *testing.T) {
	check := func(d decimal.Decimal) {
		t.Helper()
		if got, want := string(AppendDecimal([]byte("x"), d)), "x"+DecimalString(d); got != want {
			t.Fatalf("AppendDecimal(%s, exp %d) = %q, want %q", d, d.Exponent(), got, want)
		}
	}
	for _, s := range decimalCases {
		check(decimal.RequireFromString(s))
	}
	for _, d := range []decimal.Decimal{
		{}, decimal.New(0, 3), decimal.New(12, 2), decimal.New(-12, 2), decimal.New(-5, -40),
		decimal.NewFromInt(-1 << 63), decimal.NewFromInt(1<<63 - 1), decimal.New(1, -18), decimal.New(-1, -19),
		decimal.RequireFromString("10.00").Mul(decimal.RequireFromString("0.6")),
		decimal.RequireFromString("1").Div(decimal.RequireFromString("3")),
	} {
		check(d)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		check(decimal.New(r.Int64N(2e18)-1e18, -r.Int32N(25)))
		check(decimal.RequireFromString(randomDecimal(r)))
	}
}

func randomDecimal(r *rand.Rand) string {
	s := strconv.FormatInt(r.Int64N(1e18), 10)
	if n := r.IntN(len(s) + 3); n <= len(s) {
		s = s[:n] + "." + s[n:]
	}
	if r.IntN(3) == 0 {
		s = "-" + s
	}
	return s
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range decimalCases {
		f.Add(s)
	}
	f.Add("1e3")
	f.Add("--1")
	f.Add("1.2.3")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimal(s)
		if err != nil {
			return
		}
		want, werr := decimal.NewFromString(s)
		if werr != nil || !d.Equal(want) || d.Exponent() != want.Exponent() {
			t.Fatalf("ParseDecimal(%q) = %s, NewFromString gives %s, %v", s, d, want, werr)
		}
		text := string(AppendDecimal(nil, d))
		if text != DecimalString(d) {
			t.Fatalf("AppendDecimal = %q, DecimalString = %q", text, DecimalString(d))
		}
		back, err := ParseDecimal(text)
		if err != nil || !back.Equal(d) || back.Exponent() != d.Exponent() {
			t.Fatalf("%q does not read back: %s, %v", text, back, err)
		}
	})
}
