package accrue

import (
	"math"
	"math/bits"
	"strconv"

	"github.com/accrue/accrue/transforms/currency"
	"github.com/shopspring/decimal"
)

// Exact arithmetic on decimal.Decimal, computed in machine words when the
// coefficients fit: every amount, share, rate and running total of a
// period in practice. Each result has the coefficient and the exponent
// decimal's own method would give (so a figure prints the same, scale
// included); anything that does not fit goes through that method. A
// decimal never changes its coefficient in place, so a result that equals
// an operand is that operand, and a zero is shared.

// maxSmallDigits is the most digits of a coefficient read as an int64:
// |c| < 10^18 leaves room to add two of them.
const maxSmallDigits = 18

var pow10s = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// small is d's coefficient, when it has at most maxSmallDigits digits.
func small(d decimal.Decimal) (int64, bool) {
	if d.NumDigits() > maxSmallDigits {
		return 0, false
	}
	return d.CoefficientInt64(), true
}

// zeros are the zero decimals of the exponents results take, shared.
const zeroExps = 40

var zeros = func() (z [2 * zeroExps]decimal.Decimal) {
	for i := range z {
		z[i] = decimal.New(0, int32(i-zeroExps))
	}
	return z
}()

// ints are the small integers, shared.
var ints = func() (d [256]decimal.Decimal) {
	for i := range d {
		d[i] = decimal.New(int64(i), 0)
	}
	return d
}()

// newDec is c × 10^exp.
func newDec(c int64, exp int32) decimal.Decimal {
	switch {
	case c == 0 && exp >= -zeroExps && exp < zeroExps:
		return zeros[exp+zeroExps]
	case exp == 0 && c > 0 && c < int64(len(ints)):
		return ints[c]
	}
	return decimal.New(c, exp)
}

// mul64 is a × b when it fits an int64 with at most maxSmallDigits digits.
func mul64(a, b int64) (int64, bool) {
	ua, ub := abs64(a), abs64(b)
	hi, lo := bits.Mul64(ua, ub)
	if hi != 0 || lo >= uint64(pow10s[maxSmallDigits]) {
		return 0, false
	}
	if (a < 0) != (b < 0) {
		return -int64(lo), true
	}
	return int64(lo), true
}

func abs64(a int64) uint64 {
	if a < 0 {
		return uint64(-a)
	}
	return uint64(a)
}

// fig is an exact figure while it is being computed: c × 10^e held in
// words when ok, the decimal d otherwise. A figure read from a decimal
// keeps it (src), so that handing it back costs nothing; one computed in
// words becomes a decimal only when it is kept or reported (dec), and the
// intermediate results of a commission, a total or a comparison never do.
type fig struct {
	c   int64
	e   int32
	ok  bool
	src bool // d is the figure
	d   decimal.Decimal
}

// figOf is d as a figure.
func figOf(d decimal.Decimal) fig {
	c, ok := small(d)
	return fig{c: c, e: d.Exponent(), ok: ok, src: true, d: d}
}

// word is c × 10^e; |c| < 10^18.
func word(c int64, e int32) fig { return fig{c: c, e: e, ok: true} }

// bigFig is a result too large for words.
func bigFig(d decimal.Decimal) fig { return fig{e: d.Exponent(), src: true, d: d} }

// dec is f as a decimal.
func (f fig) dec() decimal.Decimal {
	if f.src {
		return f.d
	}
	return newDec(f.c, f.e)
}

func (f fig) sign() int {
	if f.ok {
		return int(sign64(f.c))
	}
	return f.d.Sign()
}

func (f fig) isZero() bool { return f.sign() == 0 }

// figMul is a × b (decimal.Decimal.Mul).
func figMul(a, b fig) fig {
	switch {
	case b.ok && b.c == 1 && b.e == 0:
		return a
	case a.ok && a.c == 1 && a.e == 0:
		return b
	}
	if e := int64(a.e) + int64(b.e); a.ok && b.ok && e <= math.MaxInt32 && e >= math.MinInt32 {
		if p, ok := mul64(a.c, b.c); ok {
			return word(p, int32(e))
		}
	}
	return figOf(a.dec().Mul(b.dec()))
}

// align brings ca × 10^ea and cb × 10^eb to the smaller exponent.
func align(ca int64, ea int32, cb int64, eb int32) (int64, int64, int32, bool) {
	switch {
	case ea == eb:
		return ca, cb, ea, true
	case ea > eb:
		diff := int64(ea) - int64(eb)
		if diff > maxSmallDigits {
			return 0, cb, eb, ca == 0
		}
		s, ok := mul64(ca, pow10s[diff])
		return s, cb, eb, ok
	default:
		diff := int64(eb) - int64(ea)
		if diff > maxSmallDigits {
			return ca, 0, ea, cb == 0
		}
		s, ok := mul64(cb, pow10s[diff])
		return ca, s, ea, ok
	}
}

// sum is c × 10^e for |c| < 2 × 10^18, the sum or difference of two words.
func sum(c int64, e int32) fig {
	if c > -pow10s[maxSmallDigits] && c < pow10s[maxSmallDigits] {
		return word(c, e)
	}
	return bigFig(decimal.New(c, e))
}

// figAdd is a + b (decimal.Decimal.Add).
func figAdd(a, b fig) fig {
	if a.ok && b.ok {
		switch {
		case b.c == 0 && a.e <= b.e:
			return a
		case a.c == 0 && b.e <= a.e:
			return b
		}
		if x, y, e, ok := align(a.c, a.e, b.c, b.e); ok {
			return sum(x+y, e)
		}
	}
	return figOf(a.dec().Add(b.dec()))
}

// figSub is a − b (decimal.Decimal.Sub).
func figSub(a, b fig) fig {
	if a.ok && b.ok {
		if b.c == 0 && a.e <= b.e {
			return a
		}
		if x, y, e, ok := align(a.c, a.e, b.c, b.e); ok {
			return sum(x-y, e)
		}
	}
	return figOf(a.dec().Sub(b.dec()))
}

// figNeg is −a (decimal.Decimal.Neg).
func figNeg(a fig) fig {
	if a.ok {
		if a.c == 0 {
			return a
		}
		return word(-a.c, a.e)
	}
	return figOf(a.dec().Neg())
}

// figCmp compares a and b (decimal.Decimal.Cmp).
func figCmp(a, b fig) int {
	if !a.ok || !b.ok {
		return a.dec().Cmp(b.dec())
	}
	ca, cb, ea, eb := a.c, b.c, a.e, b.e
	if ea == eb {
		return cmp64(ca, cb)
	}
	sa, sb := sign64(ca), sign64(cb)
	if sa != sb || sa == 0 {
		return cmp64(sa, sb)
	}
	// Same sign, both non-zero: compare magnitudes at the smaller exponent,
	// in 128 bits.
	ua, ub := abs64(ca), abs64(cb)
	var ahi, alo, bhi, blo uint64
	if ea > eb {
		diff := int64(ea) - int64(eb)
		if diff > maxSmallDigits {
			return int(sa) // |a| ≥ 10^19 × 10^eb > |b|
		}
		ahi, alo = bits.Mul64(ua, uint64(pow10s[diff]))
		blo = ub
	} else {
		diff := int64(eb) - int64(ea)
		if diff > maxSmallDigits {
			return int(-sa)
		}
		bhi, blo = bits.Mul64(ub, uint64(pow10s[diff]))
		alo = ua
	}
	c := cmpU128(ahi, alo, bhi, blo)
	if sa < 0 {
		return -c
	}
	return c
}

// same reports whether a and b have the same coefficient and exponent.
func same(a, b fig) bool {
	if a.e != b.e {
		return false
	}
	if a.ok && b.ok {
		return a.c == b.c
	}
	return a.dec().Cmp(b.dec()) == 0
}

// The same on decimals.

func mul(a, b decimal.Decimal) decimal.Decimal { return figMul(figOf(a), figOf(b)).dec() }
func add(a, b decimal.Decimal) decimal.Decimal { return figAdd(figOf(a), figOf(b)).dec() }
func sub(a, b decimal.Decimal) decimal.Decimal { return figSub(figOf(a), figOf(b)).dec() }
func neg(a decimal.Decimal) decimal.Decimal    { return figNeg(figOf(a)).dec() }
func cmp(a, b decimal.Decimal) int             { return figCmp(figOf(a), figOf(b)) }

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func sign64(a int64) int64 {
	switch {
	case a < 0:
		return -1
	case a > 0:
		return 1
	}
	return 0
}

func cmpU128(ahi, alo, bhi, blo uint64) int {
	switch {
	case ahi != bhi:
		if ahi < bhi {
			return -1
		}
		return 1
	case alo < blo:
		return -1
	case alo > blo:
		return 1
	}
	return 0
}

// roundBank is d rounded half-even to places (decimal.Decimal.RoundBank).
func roundBank(d decimal.Decimal, places int32) decimal.Decimal { return figRound(figOf(d), places) }

// figRound is a rounded half-even to places (decimal.Decimal.RoundBank).
func figRound(a fig, places int32) decimal.Decimal {
	e := a.e
	if int64(e) == -int64(places) {
		return a.dec()
	}
	c := a.c
	if !a.ok || places > zeroExps || places < -zeroExps {
		return a.dec().RoundBank(places)
	}
	if int64(e) > -int64(places) {
		// More places than a has: the coefficient grows.
		diff := int64(e) + int64(places)
		if diff > maxSmallDigits {
			return a.dec().RoundBank(places)
		}
		s, ok := mul64(c, pow10s[diff])
		if !ok {
			return a.dec().RoundBank(places)
		}
		return newDec(s, -places)
	}
	k := -int64(places) - int64(e) // digits dropped
	if k > maxSmallDigits {
		// |a| < 10^18 × 10^e ≤ half a unit of the last place kept.
		return newDec(0, -places)
	}
	p := pow10s[k]
	q, r := c/p, c%p
	if away(q, abs64(r), uint64(p)) {
		q += sign64(c)
	}
	return newDec(q, -places)
}

// away reports whether a truncated quotient q with remainder r (of a
// divisor den, both magnitudes) rounds away from zero, half-even.
func away(q int64, r, den uint64) bool {
	if r == 0 {
		return false
	}
	hi, lo := bits.Mul64(r, 2)
	switch cmpU128(hi, lo, 0, den) {
	case 1:
		return true
	case 0:
		return q&1 != 0
	}
	return false
}

// round is d rounded half-even to the minor unit of code (currency.Round).
func round(d decimal.Decimal, minor int32) decimal.Decimal { return roundBank(d, minor) }

// divHalfEven is a / b to places, half-even (currency.DivHalfEven).
func divHalfEven(a, b decimal.Decimal, places int32) decimal.Decimal {
	ca, oka := small(a)
	cb, okb := small(b)
	if !oka || !okb || cb == 0 || places > zeroExps || places < -zeroExps {
		return currency.DivHalfEven(a, b, places)
	}
	// a / b × 10^places = ca / cb × 10^s.
	s := int64(a.Exponent()) - int64(b.Exponent()) + int64(places)
	ua, ub := abs64(ca), abs64(cb)
	var q, r, den uint64
	switch {
	case s >= 0:
		if s > maxSmallDigits {
			return currency.DivHalfEven(a, b, places)
		}
		hi, lo := bits.Mul64(ua, uint64(pow10s[s]))
		if hi >= ub {
			return currency.DivHalfEven(a, b, places)
		}
		q, r = bits.Div64(hi, lo, ub)
		den = ub
	case -s > maxSmallDigits:
		return currency.DivHalfEven(a, b, places)
	default:
		hi, lo := bits.Mul64(ub, uint64(pow10s[-s]))
		if hi != 0 {
			// The divisor exceeds any dividend: the quotient is 0, and
			// 2|a| < 2^64 is below it.
			return newDec(0, -places)
		}
		den = lo
		q, r = ua/den, ua%den
	}
	if q >= uint64(pow10s[maxSmallDigits]) {
		return currency.DivHalfEven(a, b, places)
	}
	qi := int64(q)
	if away(qi, r, den) {
		qi++
	}
	if (ca < 0) != (cb < 0) {
		qi = -qi
	}
	return newDec(qi, -places)
}

// appendFixed appends d with places decimal places, rounded half away
// from zero (decimal.Decimal.StringFixed); places < 0 appends it exact,
// trailing zeros dropped (decimal.Decimal.String).
func appendFixed(b []byte, d decimal.Decimal, places int32) []byte {
	c, ok := small(d)
	e := d.Exponent()
	if !ok || places > zeroExps || e > zeroExps || e < -zeroExps {
		return appendSlow(b, d, places)
	}
	if places < 0 {
		if !decimal.TrimTrailingZeros || decimal.UseScientificNotation {
			return appendSlow(b, d, places)
		}
		// Drop trailing zeros of the fraction.
		for e < 0 && c != 0 && c%10 == 0 {
			c /= 10
			e++
		}
		if c == 0 {
			return append(b, '0')
		}
		if e >= 0 {
			if int64(e) > maxSmallDigits {
				return appendSlow(b, d, places)
			}
			s, ok := mul64(c, pow10s[e])
			if !ok {
				return appendSlow(b, d, places)
			}
			return strconv.AppendInt(b, s, 10)
		}
		return appendScaled(b, c, -e)
	}
	// StringFixed rounds half away from zero, then writes places digits.
	switch k := -int64(places) - int64(e); {
	case k > maxSmallDigits:
		c = 0
	case k > 0:
		p := pow10s[k]
		q, r := c/p, c%p
		if 2*abs64(r) >= uint64(p) {
			q += sign64(c)
		}
		c = q
	case k < 0:
		if -k > maxSmallDigits {
			return appendSlow(b, d, places)
		}
		s, ok := mul64(c, pow10s[-k])
		if !ok {
			return appendSlow(b, d, places)
		}
		c = s
	}
	return appendScaled(b, c, int32(places))
}

// appendScaled appends c × 10^−scale with scale digits after the point.
func appendScaled(b []byte, c int64, scale int32) []byte {
	if c < 0 {
		b = append(b, '-')
	}
	var buf [20]byte
	digits := strconv.AppendUint(buf[:0], abs64(c), 10)
	n := int(scale)
	switch {
	case n == 0:
		return append(b, digits...)
	case len(digits) > n:
		b = append(b, digits[:len(digits)-n]...)
		b = append(b, '.')
		return append(b, digits[len(digits)-n:]...)
	}
	b = append(b, '0', '.')
	for i := len(digits); i < n; i++ {
		b = append(b, '0')
	}
	return append(b, digits...)
}

func appendSlow(b []byte, d decimal.Decimal, places int32) []byte {
	if places >= 0 {
		return append(b, d.StringFixed(places)...)
	}
	return append(b, d.String()...)
}

// appendWritten appends d with the scale it has ("1.0" stays "1.0"), as
// canonical.DecimalString writes it.
func appendWritten(b []byte, d decimal.Decimal) []byte {
	if e := d.Exponent(); e < 0 {
		return appendFixed(b, d, -e)
	}
	return appendFixed(b, d, -1)
}

// Num is an exact figure kept in the state: c × 10^e in machine words,
// or, for a coefficient of more than maxSmallDigits digits, the decimal
// d. It is what a decimal.Decimal of the same coefficient and exponent
// is, without the big.Int behind it: the running figures of millions of
// (program, period, rep) and sale entries are no garbage to allocate and
// mark. The zero Num is 0, as the zero decimal.Decimal is.
type Num struct {
	c int64
	e int32
	d *decimal.Decimal // the figure, when it does not fit words
}

// NumOf is d as a Num.
func NumOf(d decimal.Decimal) Num {
	if c, ok := small(d); ok {
		return Num{c: c, e: d.Exponent()}
	}
	return bigNum(d)
}

// bigNum is NumOf for a coefficient too large for words. It is apart so
// that only this path moves d to the heap.
//
//go:noinline
func bigNum(d decimal.Decimal) Num { return Num{e: d.Exponent(), d: &d} }

// numOf keeps a computed figure.
func numOf(f fig) Num {
	if f.ok {
		return Num{c: f.c, e: f.e}
	}
	return NumOf(f.dec())
}

// fig is n to compute with.
func (n Num) fig() fig {
	if n.d != nil {
		return figOf(*n.d)
	}
	return word(n.c, n.e)
}

// Decimal is n as a decimal.Decimal, of the same coefficient and exponent.
func (n Num) Decimal() decimal.Decimal {
	if n.d != nil {
		return *n.d
	}
	return newDec(n.c, n.e)
}

// IsZero reports whether n is 0.
func (n Num) IsZero() bool { return n.d == nil && n.c == 0 || n.d != nil && n.d.IsZero() }

// Equal reports whether n and m are the same figure, whatever their
// exponents.
func (n Num) Equal(m Num) bool { return figCmp(n.fig(), m.fig()) == 0 }

// String is n as decimal.Decimal.String writes it.
func (n Num) String() string { return n.Decimal().String() }

// MarshalJSON writes n as decimal.Decimal does.
func (n Num) MarshalJSON() ([]byte, error) { return n.Decimal().MarshalJSON() }

// UnmarshalJSON reads what decimal.Decimal reads.
func (n *Num) UnmarshalJSON(b []byte) error {
	var d decimal.Decimal
	if err := d.UnmarshalJSON(b); err != nil {
		return err
	}
	*n = NumOf(d)
	return nil
}

// plus is n + f; minus n − f.
func (n Num) plus(f fig) Num  { return numOf(figAdd(n.fig(), f)) }
func (n Num) minus(f fig) Num { return numOf(figSub(n.fig(), f)) }
