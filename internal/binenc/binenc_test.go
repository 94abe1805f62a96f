package binenc

import (
	"bytes"
	"math/big"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func dec(t testing.TB, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// bigDec is c × 10^exp for a coefficient written in decimal digits.
func bigDec(t testing.TB, c string, exp int32) decimal.Decimal {
	t.Helper()
	v, ok := new(big.Int).SetString(c, 10)
	if !ok {
		t.Fatalf("bad coefficient %s", c)
	}
	return decimal.NewFromBigInt(v, exp)
}

// sameDecimal is exact equality: coefficient and exponent, not only value.
func sameDecimal(a, b decimal.Decimal) bool {
	return a.Exponent() == b.Exponent() && a.Coefficient().Cmp(b.Coefficient()) == 0
}

func TestDecimalBytes(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    decimal.Decimal
		want []byte
	}{
		{"zero", decimal.Decimal{}, []byte{0, 0}},
		{"10.50", dec(t, "10.50"), []byte{3, 0xe8, 0x20}}, // exponent -2 → 3; 1050 zigzag 2100, <<1 4200
		{"-1", dec(t, "-1"), []byte{0, 2}},                // zigzag 1, <<1
		{"largest small", bigDec(t, "999999999999999999", 0), nil},
		{"10^18 in bytes", bigDec(t, "1000000000000000000", 0), []byte{0, 17, 0, 0x0d, 0xe0, 0xb6, 0xb3, 0xa7, 0x64, 0x00, 0x00}},
		{"-10^18 in bytes", bigDec(t, "-1000000000000000000", 5), []byte{10, 17, 1, 0x0d, 0xe0, 0xb6, 0xb3, 0xa7, 0x64, 0x00, 0x00}},
	} {
		got := AppendDecimal(nil, tc.d)
		if tc.want != nil && !bytes.Equal(got, tc.want) {
			t.Errorf("%s: % x, want % x", tc.name, got, tc.want)
		}
		r := NewReader(got)
		back := r.Decimal()
		if err := r.Done(); err != nil || !sameDecimal(back, tc.d) {
			t.Errorf("%s: read back %s (exp %d), %v", tc.name, back, back.Exponent(), err)
		}
	}
}

// TestDecimalWords: a coefficient and exponent written as words are the
// bytes of the decimal they make, and read back as words when small, as
// the decimal when not.
func TestDecimalWords(t *testing.T) {
	for _, tc := range []struct {
		c   int64
		exp int32
	}{{0, 0}, {1050, -2}, {-1, 0}, {999999999999999999, 7}, {-999999999999999999, -30}} {
		got := AppendDecimalWords(nil, tc.c, tc.exp)
		if want := AppendDecimal(nil, decimal.New(tc.c, tc.exp)); !bytes.Equal(got, want) {
			t.Errorf("%d e%d: % x, AppendDecimal % x", tc.c, tc.exp, got, want)
		}
		r := NewReader(got)
		c, exp, _, small := r.DecimalWords()
		if err := r.Done(); err != nil || !small || c != tc.c || exp != tc.exp {
			t.Errorf("%d e%d: read back %d e%d small=%v, %v", tc.c, tc.exp, c, exp, small, err)
		}
	}
	large := bigDec(t, "-1000000000000000000", 5)
	r := NewReader(AppendDecimal(nil, large))
	_, _, d, small := r.DecimalWords()
	if err := r.Done(); err != nil || small || !sameDecimal(d, large) {
		t.Errorf("10^18: read back %s small=%v, %v", d, small, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("AppendDecimalWords took a coefficient of 19 digits")
		}
	}()
	AppendDecimalWords(nil, SmallBound, 0)
}

func TestDecimalBelow(t *testing.T) {
	const bound = 1 << 61
	for _, tc := range []struct {
		c     string
		small bool
	}{
		{"0", true}, {"999999999999999999", true}, {"1000000000000000000", true},
		{"2305843009213693951", true}, {"-2305843009213693951", true},
		{"2305843009213693952", false}, {"-2305843009213693952", false},
		{"9223372036854775807", false}, {"123456789012345678901234567890", false},
	} {
		d := bigDec(t, tc.c, -4)
		b := AppendDecimalBelow(nil, d, bound)
		if small := b[1]&1 == 0; small != tc.small {
			t.Errorf("%s: zigzag form %v, want %v", tc.c, small, tc.small)
		}
		r := NewReader(b)
		if back := r.AnyDecimal(); r.Done() != nil || !sameDecimal(back, d) {
			t.Errorf("%s: read back %s, %v", tc.c, back, r.Err())
		}
		strict := NewReader(b)
		strict.Decimal()
		canonical := bytes.Equal(b, AppendDecimal(nil, d))
		if (strict.Done() == nil) != canonical {
			t.Errorf("%s: Decimal accepts %v, canonical %v", tc.c, strict.Err() == nil, canonical)
		}
	}
}

func TestDecimalRefusesOtherForms(t *testing.T) {
	for _, b := range [][]byte{
		{0, 3, 0, 1},    // 1 in bytes
		{0, 1, 0},       // 0 in bytes
		{0, 5, 0, 0, 1}, // leading zero
		{0, 3, 2, 1},    // sign byte 2
		AppendDecimalBelow(nil, bigDec(t, "1000000000000000000", 0), 1<<61), // 10^18 zigzag
		{0xfe, 0xff, 0xff, 0xff, 0x3f, 0},                                   // exponent beyond int32
	} {
		r := NewReader(b)
		if d := r.Decimal(); r.Done() == nil {
			t.Errorf("Decimal(% x) accepted as %s", b, d)
		}
	}
}

// record appends one of every kind of value.
func record(dst []byte) []byte {
	dst = AppendString(dst, "rep-1")
	dst = AppendBytes(dst, []byte{0, 1, 2})
	dst = AppendStrings(dst, []string{"a", "", "ccc"})
	dst = AppendUvarint(dst, 300)
	dst = AppendVarint(dst, -70000)
	dst = AppendBool(dst, true)
	dst = AppendTime(dst, time.Date(2026, 11, 3, 4, 5, 6, 789, time.FixedZone("x", 3600)))
	dst = AppendDecimal(dst, decimal.New(1050, -2))
	return AppendDecimal(dst, decimal.RequireFromString("-123456789012345678901234567890.5"))
}

func readRecord(r *Reader) []byte {
	var out []byte
	out = AppendString(out, r.Str())
	out = AppendString(out, r.Str())
	out = AppendStrings(out, r.Strings())
	out = AppendUvarint(out, r.Uvarint())
	out = AppendVarint(out, int64(r.Int()))
	out = AppendBool(out, r.Bool())
	out = AppendTime(out, r.Time())
	out = AppendDecimal(out, r.Decimal())
	return AppendDecimal(out, r.Decimal())
}

func TestRecordRoundTrip(t *testing.T) {
	b := record(nil)
	r := NewReader(b)
	if got := readRecord(&r); r.Done() != nil || !bytes.Equal(got, b) {
		t.Fatalf("read back % x, %v; wrote % x", got, r.Err(), b)
	}
	r = NewReader(b)
	r.Str()
	r.Str()
	r.Strings()
	r.Uvarint()
	r.Varint()
	r.Bool()
	if tm := r.Time(); tm.Location() != time.UTC || !tm.Equal(time.Date(2026, 11, 3, 3, 5, 6, 789, time.UTC)) {
		t.Errorf("time read back as %v", tm)
	}
	if d := r.Decimal(); d.String() != "10.5" || d.Exponent() != -2 {
		t.Errorf("10.50 read back with exponent %d", d.Exponent())
	}
}

func TestTruncationRefused(t *testing.T) {
	b := record(nil)
	for n := range len(b) {
		r := NewReader(b[:n])
		readRecord(&r)
		if r.Done() == nil {
			t.Errorf("cut to %d of %d bytes: accepted", n, len(b))
		}
	}
	r := NewReader(append(b, 0))
	readRecord(&r)
	if r.Done() == nil {
		t.Error("trailing byte accepted")
	}
}

func TestStickyError(t *testing.T) {
	r := NewReader([]byte{0xff, 3, 'a', 'b', 'c'})
	if r.Count() != 0 || r.Err() == nil {
		t.Fatal("count beyond the value accepted")
	}
	at := r.Offset()
	if s := r.Str(); s != "" || r.Offset() != at {
		t.Errorf("read %q after a failure", s)
	}
	r = NewReader([]byte{2, 0x80, 0x94, 0xeb, 0xdc, 0x03})
	if r.Time(); r.Err() == nil {
		t.Error("10^9 nanoseconds accepted")
	}
}

func FuzzDecimalRoundTrip(f *testing.F) {
	f.Add([]byte{4, 26}, int32(-2), false)
	f.Add([]byte{0x0d, 0xe0, 0xb6, 0xb3, 0xa7, 0x64, 0, 0}, int32(0), true)
	f.Add(bytes.Repeat([]byte{0xff}, 20), int32(-2147483648), true)
	f.Fuzz(func(t *testing.T, mag []byte, exp int32, neg bool) {
		c := new(big.Int).SetBytes(mag)
		if neg {
			c.Neg(c)
		}
		d := decimal.NewFromBigInt(c, exp)
		for _, b := range [][]byte{AppendDecimal(nil, d), AppendDecimalBelow(nil, d, 1<<61), AppendDecimalBelow(nil, d, 1)} {
			r := NewReader(b)
			if back := r.AnyDecimal(); r.Done() != nil || !sameDecimal(back, d) {
				t.Fatalf("%s (exp %d): AnyDecimal read %s (exp %d), %v", d, exp, back, back.Exponent(), r.Err())
			}
			for n := range len(b) {
				r := NewReader(b[:n])
				if r.AnyDecimal(); r.Done() == nil {
					t.Fatalf("% x cut to %d bytes: accepted", b, n)
				}
			}
		}
		b := AppendDecimal(nil, d)
		r := NewReader(b)
		if back := r.Decimal(); r.Done() != nil || !sameDecimal(back, d) {
			t.Fatalf("%s: Decimal read %s, %v", d, back, r.Err())
		}
	})
}

// FuzzReader: whatever the bytes, reading does not panic, and what
// Decimal accepts is written again the same (byte for byte but for
// overlong varints, which the Reader reads as encoding/binary does).
func FuzzReader(f *testing.F) {
	f.Add(record(nil))
	f.Add([]byte{0, 3, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b)
		readRecord(&r)
		r = NewReader(b)
		var again []byte
		for r.Err() == nil && r.Offset() < len(b) {
			again = AppendDecimal(again, r.Decimal())
		}
		if r.Err() != nil {
			return
		}
		r2 := NewReader(again)
		var third []byte
		for r2.Err() == nil && r2.Offset() < len(again) {
			third = AppendDecimal(third, r2.Decimal())
		}
		if r2.Err() != nil || !bytes.Equal(third, again) || len(again) > len(b) {
			t.Fatalf("% x read as decimals, written as % x, then % x (%v)", b, again, third, r2.Err())
		}
		r = NewReader(b)
		r.AnyDecimal()
		r.Time()
		r.Bool()
	})
}
