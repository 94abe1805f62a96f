package accrue

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/accrue/accrue/internal/binenc"
	"github.com/accrue/accrue/pipeline"
)

// Codec stores a State in the stage's changelog: the accrual stage is
// pipeline.NewStage[accrue.State](cfg, accrue.Codec{}, ...). Every key an
// input changes is encoded, so the encoding is binary and written without
// reflection:
//
//   - a tag byte, 'P' for a PeriodState, 'S' for a SaleState;
//   - then the fields in declaration order, each in the encoding of
//     internal/binenc: strings as a uvarint length and the bytes, integers
//     as varints, booleans as a byte, lists as a uvarint count and the
//     items, a decimal as its exponent and coefficient (so "10.50" stays
//     "10.50"; binenc.AppendDecimal, one encoding per value), a time as
//     Unix seconds and nanoseconds, read back in UTC;
//   - a PeriodState whose timer fields are set (a program with time-based
//     nudges) ends with them: LastSale, Idle, Ending. Without them it ends
//     after Badges, as values did before timers existed.
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
		dst = binenc.AppendString(dst, p.ProgramID)
		dst = binenc.AppendString(dst, p.Period)
		dst = binenc.AppendString(dst, p.RepID)
		dst = appendNum(dst, p.Measure)
		dst = appendNum(dst, p.Count)
		dst = appendAmounts(dst, p.Spiffs)
		dst = appendNum(dst, p.Override)
		dst = appendNum(dst, p.Earned)
		dst = binenc.AppendVarint(dst, p.Version)
		dst = binenc.AppendStrings(dst, p.Crossed)
		dst = binenc.AppendStrings(dst, p.Near)
		dst = binenc.AppendStrings(dst, p.Badges)
		if p.timersSet() {
			// Timer fields, only where a program has timers: values
			// without them are encoded as before they existed.
			dst = binenc.AppendTime(dst, p.LastSale)
			dst = binenc.AppendTime(dst, p.Idle)
			dst = binenc.AppendBool(dst, p.Ending)
		}
		return dst
	case v.Sale != nil:
		s := v.Sale
		dst = slices.Grow(dst, 96+len(s.RepID)+len(s.Source)+len(s.TxnID)+len(s.EventID)+96*len(s.Programs))
		dst = append(dst, tagSale)
		dst = binenc.AppendString(dst, s.RepID)
		dst = binenc.AppendString(dst, s.Source)
		dst = binenc.AppendString(dst, s.TxnID)
		dst = binenc.AppendString(dst, s.EventID)
		dst = binenc.AppendTime(dst, s.EventTime)
		dst = appendNum(dst, s.Share)
		dst = appendNum(dst, s.Amount)
		dst = binenc.AppendString(dst, s.Currency)
		dst = appendNum(dst, s.Returned)
		dst = binenc.AppendBool(dst, s.Cancelled)
		dst = binenc.AppendUvarint(dst, uint64(len(s.Programs)))
		for i := range s.Programs {
			p := &s.Programs[i]
			dst = binenc.AppendString(dst, p.ProgramID)
			dst = binenc.AppendVarint(dst, int64(p.Version))
			dst = binenc.AppendString(dst, p.Period)
			dst = binenc.AppendVarint(dst, int64(p.WindowDays))
			dst = appendNum(dst, p.Rate)
			dst = appendNum(dst, p.Contribution)
			dst = appendNum(dst, p.Reversed)
			dst = appendNum(dst, p.Returned)
			dst = appendAmounts(dst, p.Spiffs)
			dst = binenc.AppendUvarint(dst, uint64(len(p.Overrides)))
			for _, m := range p.Overrides {
				dst = binenc.AppendString(dst, m.RepID)
				dst = binenc.AppendVarint(dst, int64(m.Level))
				dst = appendNum(dst, m.Rate)
			}
		}
		return dst
	}
	// The engine never puts an empty State; Decode refuses what this is.
	return append(dst, '{', '}')
}

func appendAmounts(dst []byte, as []Amount) []byte {
	dst = binenc.AppendUvarint(dst, uint64(len(as)))
	for _, a := range as {
		dst = binenc.AppendString(dst, a.ID)
		dst = appendNum(dst, a.Amount)
	}
	return dst
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
	r := stateReader{binenc.NewReader(b)}
	var v State
	switch r.Byte() {
	case tagPeriod:
		p := &PeriodState{ProgramID: r.Str(), Period: r.Str(), RepID: r.Str(), Measure: r.num(), Count: r.num()}
		p.Spiffs = r.amounts()
		p.Override, p.Earned, p.Version = r.num(), r.num(), r.Varint()
		p.Crossed, p.Near, p.Badges = r.Strings(), r.Strings(), r.Strings()
		if r.Err() == nil && r.Offset() < len(b) {
			p.LastSale, p.Idle, p.Ending = r.Time(), r.Time(), r.Bool()
			if p.LastSale.Unix() == zeroUnix {
				p.LastSale = time.Time{}
			}
			if p.Idle.Unix() == zeroUnix {
				p.Idle = time.Time{}
			}
		}
		v.Period = p
	case tagSale:
		s := &SaleState{RepID: r.Str(), Source: r.Str(), TxnID: r.Str(), EventID: r.Str()}
		s.EventTime = r.Time()
		s.Share, s.Amount, s.Currency, s.Returned = r.num(), r.num(), r.Str(), r.num()
		s.Cancelled = r.Bool()
		if n := r.Count(); n > 0 {
			s.Programs = make([]SaleProgram, 0, n)
			for range n {
				p := SaleProgram{ProgramID: r.Str(), Version: r.Int(), Period: r.Str(), WindowDays: r.Int(),
					Rate: r.num(), Contribution: r.num(), Reversed: r.num(), Returned: r.num()}
				p.Spiffs = r.amounts()
				if n := r.Count(); n > 0 {
					p.Overrides = make([]Manager, 0, n)
					for range n {
						p.Overrides = append(p.Overrides, Manager{RepID: r.Str(), Level: r.Int(), Rate: r.num()})
					}
				}
				s.Programs = append(s.Programs, p)
			}
		}
		v.Sale = s
	default:
		return State{}, fmt.Errorf("accrue state: unknown tag %q", b[0])
	}
	if err := r.Done(); err != nil {
		return State{}, fmt.Errorf("accrue state: %w", err)
	}
	return v, nil
}

// zeroUnix is the Unix time of the zero time.Time.
var zeroUnix = time.Time{}.Unix()

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

// stateReader reads the binary encoding into the state's figures.
type stateReader struct{ binenc.Reader }

// num reads a figure written by appendNum (binenc.AppendDecimal's
// encoding).
func (r *stateReader) num() Num {
	c, e, d, small := r.DecimalWords()
	if small {
		return Num{c: c, e: e}
	}
	return NumOf(d)
}

// appendNum appends n as binenc.AppendDecimal appends the decimal of the
// same coefficient and exponent.
func appendNum(dst []byte, n Num) []byte {
	if n.d != nil {
		return binenc.AppendDecimal(dst, *n.d)
	}
	return binenc.AppendDecimalWords(dst, n.c, n.e)
}

func (r *stateReader) amounts() []Amount {
	n := r.Count()
	if n == 0 {
		return nil
	}
	out := make([]Amount, 0, n)
	for range n {
		out = append(out, Amount{ID: r.Str(), Amount: r.num()})
	}
	return out
}
