// Package binenc holds the binary primitives the changelog codecs are
// written with: append functions that add one value to a []byte, and a
// Reader that takes them back off in the same order.
//
// The encoding of each value:
//
//   - a string or byte string as a uvarint length and the bytes; a list of
//     strings as a uvarint count and the strings;
//   - integers as varints (signed) or uvarints;
//   - a boolean as one byte, 0 or 1;
//   - a decimal as its varint exponent, then its coefficient: a small one
//     as a uvarint of its zigzag form shifted left by one; any other as a
//     uvarint of the magnitude's byte length shifted left by one, plus one,
//     a sign byte (0 or 1) and the big-endian magnitude. The exponent is
//     kept, so "10.50" reads back as "10.50", not "10.5";
//   - a time as varint Unix seconds and uvarint nanoseconds, read back in
//     UTC (the location is not kept).
//
// Which coefficients are small is the writer's choice (AppendDecimal says
// below 10^18, AppendDecimalBelow takes the bound); the two forms are told
// apart by the low bit, so a reader needs no bound to read either.
// Reader.Decimal accepts only what AppendDecimal writes, so each value has
// one encoding; Reader.AnyDecimal accepts both forms for any value.
package binenc

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/shopspring/decimal"
)

// SmallBound is the bound below which AppendDecimal writes a coefficient's
// magnitude in the zigzag form: every coefficient of at most 18 digits.
const SmallBound = 1_000_000_000_000_000_000

// maxBound keeps the zigzag form, shifted left by one, within 64 bits.
const maxBound = 1 << 62

// AppendString appends s as a uvarint length and its bytes.
func AppendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// AppendBytes appends b as AppendString appends a string.
func AppendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// AppendStrings appends a uvarint count and every string of ss.
func AppendStrings(dst []byte, ss []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ss)))
	for _, s := range ss {
		dst = AppendString(dst, s)
	}
	return dst
}

// AppendUvarint appends v as a uvarint (as binary.AppendUvarint).
func AppendUvarint(dst []byte, v uint64) []byte { return binary.AppendUvarint(dst, v) }

// AppendVarint appends v as a varint (as binary.AppendVarint).
func AppendVarint(dst []byte, v int64) []byte { return binary.AppendVarint(dst, v) }

// AppendBool appends v as one byte, 1 for true.
func AppendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// AppendTime appends t's instant as varint Unix seconds and uvarint
// nanoseconds.
func AppendTime(dst []byte, t time.Time) []byte {
	dst = binary.AppendVarint(dst, t.Unix())
	return binary.AppendUvarint(dst, uint64(t.Nanosecond()))
}

// AppendDecimal appends d in its one canonical form: the coefficient in
// the zigzag form when it has at most 18 digits, in bytes otherwise.
// Reader.Decimal reads it.
func AppendDecimal(dst []byte, d decimal.Decimal) []byte {
	dst = binary.AppendVarint(dst, int64(d.Exponent()))
	if d.NumDigits() <= 18 {
		return appendSmall(dst, d.CoefficientInt64())
	}
	return appendBig(dst, d.Coefficient())
}

// AppendDecimalBelow appends d with the coefficient in the zigzag form
// when its magnitude is below bound, in bytes otherwise. bound must be at
// most 1<<62. Only AppendDecimal's bound gives values Reader.Decimal
// accepts; Reader.AnyDecimal reads them all.
func AppendDecimalBelow(dst []byte, d decimal.Decimal, bound int64) []byte {
	if bound > maxBound {
		panic("binenc: decimal bound above 1<<62")
	}
	dst = binary.AppendVarint(dst, int64(d.Exponent()))
	if d.NumDigits() <= 18 {
		if c := d.CoefficientInt64(); c > -bound && c < bound {
			return appendSmall(dst, c)
		}
		return appendBig(dst, d.Coefficient())
	}
	c := d.Coefficient()
	if v := c.Int64(); c.IsInt64() && v > -bound && v < bound {
		return appendSmall(dst, v)
	}
	return appendBig(dst, c)
}

// AppendDecimalWords appends c × 10^exp as AppendDecimal appends the
// decimal of that value and exponent. |c| must be below SmallBound.
func AppendDecimalWords(dst []byte, c int64, exp int32) []byte {
	if c <= -SmallBound || c >= SmallBound {
		panic("binenc: coefficient not below SmallBound")
	}
	dst = binary.AppendVarint(dst, int64(exp))
	return appendSmall(dst, c)
}

func appendSmall(dst []byte, c int64) []byte {
	return binary.AppendUvarint(dst, uint64(c<<1^c>>63)<<1)
}

func appendBig(dst []byte, c *big.Int) []byte {
	mag := c.Bytes()
	dst = binary.AppendUvarint(dst, uint64(len(mag))<<1|1)
	dst = AppendBool(dst, c.Sign() < 0)
	return append(dst, mag...)
}

// Reader takes values off an encoding in the order they were appended.
// The first problem sticks: Err reports it, and every read after it
// returns a zero value, so a decoder reads a whole value and checks once.
// A Reader is not safe for concurrent use.
type Reader struct {
	b   []byte
	s   string // b as a string, made once: the strings read are pieces of it
	at  int
	err error
}

// NewReader returns a Reader over b. Strings read share one copy of b;
// b itself is not kept past the reads and may be reused after them.
func NewReader(b []byte) Reader {
	return Reader{b: b, s: string(b)}
}

// Err is the first problem met, nil if none: a malformed or truncated
// value, "at byte" its offset in the bytes NewReader was given.
func (r *Reader) Err() error { return r.err }

// Offset is how many bytes were read.
func (r *Reader) Offset() int { return r.at }

// Done is Err, or an error when bytes are left after the last read.
func (r *Reader) Done() error {
	if r.err == nil && r.at != len(r.b) {
		r.Fail("trailing bytes")
	}
	return r.err
}

// Fail records a problem with what is being read, unless one is already
// recorded.
func (r *Reader) Fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("malformed %s at byte %d", what, r.at)
	}
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.err != nil {
		return 0
	}
	if r.at >= len(r.b) {
		r.Fail("byte")
		return 0
	}
	r.at++
	return r.b[r.at-1]
}

// Uvarint reads a uvarint.
func (r *Reader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.at:])
	if n <= 0 {
		r.Fail("number")
		return 0
	}
	r.at += n
	return v
}

// Varint reads a varint.
func (r *Reader) Varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.at:])
	if n <= 0 {
		r.Fail("number")
		return 0
	}
	r.at += n
	return v
}

// Int reads a varint that must fit an int32.
func (r *Reader) Int() int {
	v := r.Varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		r.Fail("integer")
		return 0
	}
	return int(v)
}

// Bool reads a byte that must be 0 or 1.
func (r *Reader) Bool() bool {
	if r.err != nil {
		return false
	}
	if r.at >= len(r.b) || r.b[r.at] > 1 {
		r.Fail("boolean")
		return false
	}
	r.at++
	return r.b[r.at-1] == 1
}

// Count reads a list's length, which cannot exceed the bytes left (every
// item takes one at least), so a damaged count cannot make a caller
// allocate more than the value's size.
func (r *Reader) Count() int {
	n := r.Uvarint()
	if n > uint64(len(r.b)-r.at) {
		r.Fail("count")
		return 0
	}
	return int(n)
}

// Str reads a string. (Not String: a Reader is no fmt.Stringer.)
func (r *Reader) Str() string {
	n := r.Uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)-r.at) {
		r.Fail("string")
		return ""
	}
	s := r.s[r.at : r.at+int(n)]
	r.at += int(n)
	return s
}

// Strings reads a list of strings; an empty list reads as nil.
func (r *Reader) Strings() []string {
	n := r.Count()
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		out = append(out, r.Str())
	}
	return out
}

// Time reads a time, in UTC.
func (r *Reader) Time() time.Time {
	sec, nsec := r.Varint(), r.Uvarint()
	if nsec >= 1e9 {
		r.Fail("time")
		return time.Time{}
	}
	if r.err != nil {
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// Decimal reads a decimal written by AppendDecimal, and refuses every
// other way of writing the same value (a small coefficient in bytes, a
// large one in the zigzag form, a magnitude with a leading zero).
func (r *Reader) Decimal() decimal.Decimal {
	c, e, d, small := r.DecimalWords()
	if small {
		return decimal.New(c, e)
	}
	return d
}

// DecimalWords reads what Decimal reads, without making a decimal of a
// small one: c × 10^exp when small, else the decimal d. It refuses what
// Decimal refuses.
func (r *Reader) DecimalWords() (c int64, exp int32, d decimal.Decimal, small bool) {
	// The exponent and header are read here, not through a helper: this is
	// the hot path of a changelog's decoding.
	e := r.Varint()
	if e < math.MinInt32 || e > math.MaxInt32 {
		r.Fail("exponent")
		return 0, 0, decimal.Decimal{}, false
	}
	h := r.Uvarint()
	if r.err != nil {
		return 0, 0, decimal.Decimal{}, false
	}
	if h&1 == 0 {
		v := unzigzag(h >> 1)
		if v <= -SmallBound || v >= SmallBound {
			r.Fail("decimal") // a larger one is written as bytes
			return 0, 0, decimal.Decimal{}, false
		}
		return v, int32(e), decimal.Decimal{}, true
	}
	neg, mag := r.magnitude(h >> 1)
	if r.err != nil {
		return 0, 0, decimal.Decimal{}, false
	}
	v := new(big.Int).SetBytes(mag)
	if v.IsInt64() && v.Int64() < SmallBound || len(mag) > 0 && mag[0] == 0 {
		r.Fail("decimal") // one way only to write each value
		return 0, 0, decimal.Decimal{}, false
	}
	if neg {
		v.Neg(v)
	}
	return 0, int32(e), decimal.NewFromBigInt(v, int32(e)), false
}

// AnyDecimal reads a decimal in either form, whatever bound wrote it.
func (r *Reader) AnyDecimal() decimal.Decimal {
	e, h := r.decimalHead()
	if r.err != nil {
		return decimal.Decimal{}
	}
	if h&1 == 0 {
		return decimal.New(unzigzag(h>>1), e)
	}
	neg, mag := r.magnitude(h >> 1)
	if r.err != nil {
		return decimal.Decimal{}
	}
	v := new(big.Int).SetBytes(mag)
	if neg {
		v.Neg(v)
	}
	return decimal.NewFromBigInt(v, e)
}

func (r *Reader) decimalHead() (int32, uint64) {
	e := r.Varint()
	if e < math.MinInt32 || e > math.MaxInt32 {
		r.Fail("exponent")
		return 0, 0
	}
	return int32(e), r.Uvarint()
}

// magnitude reads the sign byte and n bytes of magnitude.
func (r *Reader) magnitude(n uint64) (bool, []byte) {
	if r.at >= len(r.b) || r.b[r.at] > 1 || n > uint64(len(r.b)-r.at-1) {
		r.Fail("decimal")
		return false, nil
	}
	neg := r.b[r.at] == 1
	mag := r.b[r.at+1 : r.at+1+int(n)]
	r.at += 1 + int(n)
	return neg, mag
}

func unzigzag(z uint64) int64 { return int64(z>>1) ^ -int64(z&1) }
