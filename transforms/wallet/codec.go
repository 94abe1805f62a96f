package wallet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"time"

	"github.com/accrue/accrue/pipeline"
	"github.com/shopspring/decimal"
)

// Codec stores a *State in the wallet stage's changelog, binary and
// without reflection:
//
//   - a version byte (1);
//   - the fields in declaration order: strings and byte strings as a
//     uvarint length and the bytes, integers as varints, booleans as a
//     byte, maps and sets as a uvarint count and their entries in key order
//     (so equal states encode alike), the account as a presence byte and
//     its fields;
//   - a decimal as its varint exponent, then a coefficient that fits an
//     int64 as a uvarint of its zigzag form shifted left by one, a larger
//     one as a uvarint of its magnitude's length shifted left by one, plus
//     one, a sign byte and the big-endian magnitude;
//   - a time as varint Unix seconds and uvarint nanoseconds, read back in
//     UTC.
//
// The account number is only in it sealed.
type Codec struct{}

var _ pipeline.Codec[*State] = Codec{}

const codecVersion = 1

// Encode implements pipeline.Codec.
func (Codec) Encode(dst []byte, s *State) []byte {
	dst = append(dst, codecVersion)
	dst = appendStr(dst, s.RepID)
	dst = appendStr(dst, s.Currency)
	keys := slices.Sorted(maps.Keys(s.Ledger))
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		dst = appendStr(dst, k)
		dst = appendDec(dst, s.Ledger[k])
	}
	dst = appendSet(dst, s.Accruals)
	dst = appendSet(dst, s.Closed)
	keys = slices.Sorted(maps.Keys(s.Requests))
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		r := s.Requests[k]
		for _, v := range []string{r.Key, r.Digest, r.Type, r.Status, r.Reason} {
			dst = appendStr(dst, v)
		}
		dst = appendDec(dst, r.Amount)
		dst = appendDec(dst, r.Fee)
		dst = appendStr(dst, r.Currency)
		dst = appendStr(dst, r.RegistrationID)
		dst = appendStr(dst, r.ItemID)
		dst = appendDec(dst, r.Face)
		dst = appendStr(dst, r.FaceCurrency)
		dst = appendTime(dst, r.At)
		dst = appendStrs(dst, r.Results)
	}
	a := s.Account
	if a == nil {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	for _, v := range []string{a.RegistrationID, a.Holder, a.BankCode, a.Country, a.Currency, a.Mask, a.Fingerprint, a.KeyID} {
		dst = appendStr(dst, v)
	}
	dst = appendStr(dst, string(a.Sealed))
	dst = appendStr(dst, a.Status)
	dst = appendDec(dst, a.Token)
	dst = appendBool(dst, a.BankConfirmed)
	dst = appendBool(dst, a.RepConfirmed)
	dst = binary.AppendVarint(dst, int64(a.Attempts))
	dst = appendStrs(dst, a.Confirmations)
	dst = appendStr(dst, a.Reason)
	dst = appendTime(dst, a.RegisteredAt)
	return appendTime(dst, a.ExpiresAt)
}

// Decode implements pipeline.Codec.
func (Codec) Decode(b []byte) (*State, error) {
	if len(b) == 0 || b[0] != codecVersion {
		return nil, errors.New("wallet state: not a version 1 encoding")
	}
	r := reader{b: b, at: 1}
	s := &State{RepID: r.str(), Currency: r.str()}
	if n := r.count(); n > 0 {
		s.Ledger = make(map[string]decimal.Decimal, n)
		for range n {
			k := r.str()
			s.Ledger[k] = r.dec()
		}
	}
	s.Accruals, s.Closed = r.set(), r.set()
	if n := r.count(); n > 0 {
		s.Requests = make(map[string]*Redemption, n)
		for range n {
			red := &Redemption{Key: r.str(), Digest: r.str(), Type: r.str(), Status: r.str(), Reason: r.str()}
			red.Amount, red.Fee = r.dec(), r.dec()
			red.Currency, red.RegistrationID, red.ItemID = r.str(), r.str(), r.str()
			red.Face, red.FaceCurrency = r.dec(), r.str()
			red.At, red.Results = r.time(), r.strs()
			s.Requests[red.Key] = red
		}
	}
	if r.bool() {
		a := &BankAccount{RegistrationID: r.str(), Holder: r.str(), BankCode: r.str(), Country: r.str(),
			Currency: r.str(), Mask: r.str(), Fingerprint: r.str(), KeyID: r.str()}
		if sealed := r.str(); sealed != "" {
			a.Sealed = []byte(sealed)
		}
		a.Status, a.Token = r.str(), r.dec()
		a.BankConfirmed, a.RepConfirmed = r.bool(), r.bool()
		a.Attempts = int(r.varint())
		a.Confirmations, a.Reason = r.strs(), r.str()
		a.RegisteredAt, a.ExpiresAt = r.time(), r.time()
		s.Account = a
	}
	if r.err == nil && r.at != len(r.b) {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return nil, fmt.Errorf("wallet state: %w", r.err)
	}
	return s, nil
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

func appendSet(dst []byte, set map[string]struct{}) []byte {
	return appendStrs(dst, slices.Sorted(maps.Keys(set)))
}

func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = binary.AppendVarint(dst, t.Unix())
	return binary.AppendUvarint(dst, uint64(t.Nanosecond()))
}

func appendDec(dst []byte, d decimal.Decimal) []byte {
	dst = binary.AppendVarint(dst, int64(d.Exponent()))
	c := d.Coefficient()
	if v := c.Int64(); c.IsInt64() && v > -1<<61 && v < 1<<61 {
		return binary.AppendUvarint(dst, uint64(v<<1^v>>63)<<1)
	}
	mag := c.Bytes()
	dst = binary.AppendUvarint(dst, uint64(len(mag))<<1|1)
	dst = appendBool(dst, c.Sign() < 0)
	return append(dst, mag...)
}

// reader reads what Encode wrote; the first problem sticks in err and
// every later read returns a zero value.
type reader struct {
	b   []byte
	at  int
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s at byte %d", what, r.at)
	}
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.at:])
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.at += n
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.at:])
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.at += n
	return v
}

// count reads a length that must fit in what is left.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)-r.at) {
		r.fail("count beyond the value")
		return 0
	}
	return int(n)
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b)-r.at {
		r.fail("short value")
		return nil
	}
	b := r.b[r.at : r.at+n]
	r.at += n
	return b
}

func (r *reader) str() string { return string(r.bytes(r.count())) }

func (r *reader) strs() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	ss := make([]string, 0, n)
	for range n {
		ss = append(ss, r.str())
	}
	return ss
}

func (r *reader) set() map[string]struct{} {
	ss := r.strs()
	if len(ss) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(ss))
	for _, s := range ss {
		m[s] = struct{}{}
	}
	return m
}

func (r *reader) bool() bool {
	b := r.bytes(1)
	if len(b) == 0 {
		return false
	}
	if b[0] > 1 {
		r.fail("bad boolean")
	}
	return b[0] == 1
}

func (r *reader) time() time.Time {
	sec, nsec := r.varint(), r.uvarint()
	if nsec >= 1e9 {
		r.fail("bad nanoseconds")
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (r *reader) dec() decimal.Decimal {
	exp := r.varint()
	if exp < -1<<31 || exp > 1<<31-1 {
		r.fail("decimal exponent out of range")
		return decimal.Decimal{}
	}
	h := r.uvarint()
	if r.err != nil {
		return decimal.Decimal{}
	}
	if h&1 == 0 {
		z := h >> 1
		return decimal.New(int64(z>>1)^-int64(z&1), int32(exp))
	}
	neg := r.bool()
	mag := r.bytes(int(min(h>>1, uint64(len(r.b)))))
	c := new(big.Int).SetBytes(mag)
	if neg {
		c.Neg(c)
	}
	return decimal.NewFromBigInt(c, int32(exp))
}
