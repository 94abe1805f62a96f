package accrue

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"time"

	"github.com/accrue/accrue/pipeline"
	"github.com/shopspring/decimal"
)

// Codec stores a State in the stage's changelog: the accrual stage is
// pipeline.NewStage[accrue.State](cfg, accrue.Codec{}, ...). Every key an
// input changes is encoded, so the encoding is binary and written without
// reflection:
//
//   - a tag byte, 'P' for a PeriodState, 'S' for a SaleState;
//   - then the fields in declaration order: strings as a uvarint length
//     and the bytes, integers as varints, booleans as a byte, lists as a
//     uvarint count and the items;
//   - a decimal as the varint exponent, then its coefficient: below 10^18
//     as a uvarint of its zigzag form shifted left by one; larger, a uvarint
//     of the magnitude's byte length shifted left by one, plus one, a sign
//     byte (0 or 1) and the big-endian magnitude. A decimal comes back
//     with its exponent, so "10.50" stays "10.50";
//   - a time as varint Unix seconds and uvarint nanoseconds, read back in
//     UTC.
//
// Decode also reads the JSON that earlier versions wrote (a value starting
// with '{').
type Codec struct{}

var _ pipeline.Codec[State] = Codec{}

const (
	tagPeriod = 'P'
	tagSale   = 'S'
)

// Encode implements pipeline.Codec.
func (Codec) Encode(dst []byte, v State) []byte {
	switch {
	case v.Period != nil:
		p := v.Period
		dst = slices.Grow(dst, 64+len(p.ProgramID)+len(p.Period)+len(p.RepID)+24*len(p.Spiffs)+
			8*(len(p.Crossed)+len(p.Near)+len(p.Badges)))
		dst = append(dst, tagPeriod)
		dst = appendStr(dst, p.ProgramID)
		dst = appendStr(dst, p.Period)
		dst = appendStr(dst, p.RepID)
		dst = appendDec(dst, p.Measure)
		dst = appendDec(dst, p.Count)
		dst = appendAmounts(dst, p.Spiffs)
		dst = appendDec(dst, p.Override)
		dst = appendDec(dst, p.Earned)
		dst = binary.AppendVarint(dst, p.Version)
		dst = appendStrs(dst, p.Crossed)
		dst = appendStrs(dst, p.Near)
		return appendStrs(dst, p.Badges)
	case v.Sale != nil:
		s := v.Sale
		dst = slices.Grow(dst, 96+len(s.RepID)+len(s.Source)+len(s.TxnID)+len(s.EventID)+96*len(s.Programs))
		dst = append(dst, tagSale)
		dst = appendStr(dst, s.RepID)
		dst = appendStr(dst, s.Source)
		dst = appendStr(dst, s.TxnID)
		dst = appendStr(dst, s.EventID)
		dst = binary.AppendVarint(dst, s.EventTime.Unix())
		dst = binary.AppendUvarint(dst, uint64(s.EventTime.Nanosecond()))
		dst = appendDec(dst, s.Share)
		dst = appendDec(dst, s.Amount)
		dst = appendStr(dst, s.Currency)
		dst = appendDec(dst, s.Returned)
		dst = appendBool(dst, s.Cancelled)
		dst = binary.AppendUvarint(dst, uint64(len(s.Programs)))
		for i := range s.Programs {
			p := &s.Programs[i]
			dst = appendStr(dst, p.ProgramID)
			dst = binary.AppendVarint(dst, int64(p.Version))
			dst = appendStr(dst, p.Period)
			dst = binary.AppendVarint(dst, int64(p.WindowDays))
			dst = appendDec(dst, p.Rate)
			dst = appendDec(dst, p.Contribution)
			dst = appendDec(dst, p.Reversed)
			dst = appendDec(dst, p.Returned)
			dst = appendAmounts(dst, p.Spiffs)
			dst = binary.AppendUvarint(dst, uint64(len(p.Overrides)))
			for _, m := range p.Overrides {
				dst = appendStr(dst, m.RepID)
				dst = binary.AppendVarint(dst, int64(m.Level))
				dst = appendDec(dst, m.Rate)
			}
		}
		return dst
	}
	// The engine never puts an empty State; Decode refuses what this is.
	return append(dst, '{', '}')
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendStrs(dst []byte, ss []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ss)))
	for _, s := range ss {
		dst = appendStr(dst, s)
	}
	return dst
}

func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func appendAmounts(dst []byte, as []Amount) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(as)))
	for _, a := range as {
		dst = appendStr(dst, a.ID)
		dst = appendDec(dst, a.Amount)
	}
	return dst
}

func appendDec(dst []byte, d decimal.Decimal) []byte {
	dst = binary.AppendVarint(dst, int64(d.Exponent()))
	if c, ok := small(d); ok {
		return binary.AppendUvarint(dst, uint64(c<<1^c>>63)<<1)
	}
	c := d.Coefficient()
	mag := c.Bytes()
	dst = binary.AppendUvarint(dst, uint64(len(mag))<<1|1)
	if c.Sign() < 0 {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	return append(dst, mag...)
}

// Decode implements pipeline.Codec.
func (Codec) Decode(b []byte) (State, error) {
	if len(b) > 0 && b[0] == '{' {
		return decodeJSON(b)
	}
	if len(b) == 0 {
		return State{}, errors.New("accrue state: empty value")
	}
	// Every string of the value is a piece of one copy of it.
	r := stateReader{b: b[1:], s: string(b[1:])}
	var v State
	switch b[0] {
	case tagPeriod:
		p := &PeriodState{ProgramID: r.str(), Period: r.str(), RepID: r.str(), Measure: r.dec(), Count: r.dec()}
		p.Spiffs = r.amounts()
		p.Override, p.Earned, p.Version = r.dec(), r.dec(), r.varint()
		p.Crossed, p.Near, p.Badges = r.strs(), r.strs(), r.strs()
		v.Period = p
	case tagSale:
		s := &SaleState{RepID: r.str(), Source: r.str(), TxnID: r.str(), EventID: r.str()}
		sec, nsec := r.varint(), r.uvarint()
		if nsec >= 1e9 {
			r.fail("event time")
		}
		s.EventTime = time.Unix(sec, int64(nsec)).UTC()
		s.Share, s.Amount, s.Currency, s.Returned = r.dec(), r.dec(), r.str(), r.dec()
		s.Cancelled = r.bool()
		if n := r.count(); n > 0 {
			s.Programs = make([]SaleProgram, 0, n)
			for range n {
				p := SaleProgram{ProgramID: r.str(), Version: r.int(), Period: r.str(), WindowDays: r.int(),
					Rate: r.dec(), Contribution: r.dec(), Reversed: r.dec(), Returned: r.dec()}
				p.Spiffs = r.amounts()
				if n := r.count(); n > 0 {
					p.Overrides = make([]Manager, 0, n)
					for range n {
						p.Overrides = append(p.Overrides, Manager{RepID: r.str(), Level: r.int(), Rate: r.dec()})
					}
				}
				s.Programs = append(s.Programs, p)
			}
		}
		v.Sale = s
	default:
		return State{}, fmt.Errorf("accrue state: unknown tag %q", b[0])
	}
	if r.err == nil && r.at != len(r.b) {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return State{}, fmt.Errorf("accrue state: %w", r.err)
	}
	return v, nil
}

// decodeJSON reads the JSON encoding of State.
func decodeJSON(b []byte) (State, error) {
	var v State
	if err := json.Unmarshal(b, &v); err != nil {
		return State{}, fmt.Errorf("accrue state: %w", err)
	}
	if (v.Period == nil) == (v.Sale == nil) {
		return State{}, fmt.Errorf("accrue state: want exactly one of period and sale")
	}
	return v, nil
}

// stateReader reads the binary encoding; the first problem sticks, and
// every read after it returns a zero value.
type stateReader struct {
	b   []byte
	s   string // b as a string
	at  int
	err error
}

func (r *stateReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("malformed %s at byte %d", what, r.at+1)
	}
}

func (r *stateReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.at:])
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.at += n
	return v
}

func (r *stateReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.at:])
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.at += n
	return v
}

func (r *stateReader) int() int {
	v := r.varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		r.fail("integer")
		return 0
	}
	return int(v)
}

func (r *stateReader) bool() bool {
	if r.err != nil {
		return false
	}
	if r.at >= len(r.b) || r.b[r.at] > 1 {
		r.fail("boolean")
		return false
	}
	r.at++
	return r.b[r.at-1] == 1
}

// count reads a list's length, which cannot exceed the bytes left (every
// item takes one at least).
func (r *stateReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)-r.at) {
		r.fail("count")
		return 0
	}
	return int(n)
}

func (r *stateReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)-r.at) {
		r.fail("string")
		return ""
	}
	s := r.s[r.at : r.at+int(n)]
	r.at += int(n)
	return s
}

func (r *stateReader) strs() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		out = append(out, r.str())
	}
	return out
}

func (r *stateReader) amounts() []Amount {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]Amount, 0, n)
	for range n {
		out = append(out, Amount{ID: r.str(), Amount: r.dec()})
	}
	return out
}

func (r *stateReader) dec() decimal.Decimal {
	e := r.varint()
	if e < math.MinInt32 || e > math.MaxInt32 {
		r.fail("exponent")
		return decimal.Decimal{}
	}
	c := r.uvarint()
	if r.err != nil {
		return decimal.Decimal{}
	}
	if c&1 == 0 {
		z := c >> 1
		v := int64(z>>1) ^ -int64(z&1)
		if v <= -pow10s[maxSmallDigits] || v >= pow10s[maxSmallDigits] {
			r.fail("decimal") // a larger one is written as bytes
			return decimal.Decimal{}
		}
		return newDec(v, int32(e))
	}
	n := c >> 1
	if n > uint64(len(r.b)-r.at-1) || r.at >= len(r.b) || r.b[r.at] > 1 {
		r.fail("decimal")
		return decimal.Decimal{}
	}
	negative := r.b[r.at] == 1
	mag := r.b[r.at+1 : r.at+1+int(n)]
	r.at += 1 + int(n)
	v := new(big.Int).SetBytes(mag)
	if v.IsInt64() && v.Int64() < pow10s[maxSmallDigits] || len(mag) > 0 && mag[0] == 0 {
		r.fail("decimal") // one way only to write each value
		return decimal.Decimal{}
	}
	if negative {
		v.Neg(v)
	}
	return decimal.NewFromBigInt(v, int32(e))
}
