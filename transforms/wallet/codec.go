package wallet

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/accrue/accrue/internal/binenc"
	"github.com/accrue/accrue/pipeline"
	"github.com/shopspring/decimal"
)

// Codec stores a *State in the wallet stage's changelog, binary and
// without reflection:
//
//   - a version byte (1);
//   - the fields in declaration order, each in the encoding of
//     internal/binenc: strings and byte strings as a uvarint length and
//     the bytes, integers as varints, booleans as a byte, maps and sets as
//     a uvarint count and their entries in key order (so equal states
//     encode alike), the account as a presence byte and its fields;
//   - a decimal as its exponent and coefficient, the coefficient in the
//     zigzag form when below 2^61 (binenc.AppendDecimalBelow);
//   - a time as Unix seconds and nanoseconds, read back in UTC.
//
// The account number is only in it sealed.
type Codec struct{}

var _ pipeline.Codec[*State] = Codec{}

const codecVersion = 1

// Encode implements pipeline.Codec.
func (Codec) Encode(dst []byte, s *State) []byte {
	dst = append(dst, codecVersion)
	dst = binenc.AppendString(dst, s.RepID)
	dst = binenc.AppendString(dst, s.Currency)
	keys := slices.Sorted(maps.Keys(s.Ledger))
	dst = binenc.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		dst = binenc.AppendString(dst, k)
		dst = appendDec(dst, s.Ledger[k])
	}
	dst = appendSet(dst, s.Accruals)
	dst = appendSet(dst, s.Closed)
	keys = slices.Sorted(maps.Keys(s.Requests))
	dst = binenc.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		r := s.Requests[k]
		for _, v := range []string{r.Key, r.Digest, r.Type, r.Status, r.Reason} {
			dst = binenc.AppendString(dst, v)
		}
		dst = appendDec(dst, r.Amount)
		dst = appendDec(dst, r.Fee)
		dst = binenc.AppendString(dst, r.Currency)
		dst = binenc.AppendString(dst, r.RegistrationID)
		dst = binenc.AppendString(dst, r.ItemID)
		dst = appendDec(dst, r.Face)
		dst = binenc.AppendString(dst, r.FaceCurrency)
		dst = binenc.AppendTime(dst, r.At)
		dst = binenc.AppendStrings(dst, r.Results)
	}
	a := s.Account
	if a == nil {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	for _, v := range []string{a.RegistrationID, a.Holder, a.BankCode, a.Country, a.Currency, a.Mask, a.Fingerprint, a.KeyID} {
		dst = binenc.AppendString(dst, v)
	}
	dst = binenc.AppendString(dst, string(a.Sealed))
	dst = binenc.AppendString(dst, a.Status)
	dst = appendDec(dst, a.Token)
	dst = binenc.AppendBool(dst, a.BankConfirmed)
	dst = binenc.AppendBool(dst, a.RepConfirmed)
	dst = binenc.AppendVarint(dst, int64(a.Attempts))
	dst = binenc.AppendStrings(dst, a.Confirmations)
	dst = binenc.AppendString(dst, a.Reason)
	dst = binenc.AppendTime(dst, a.RegisteredAt)
	return binenc.AppendTime(dst, a.ExpiresAt)
}

// Decode implements pipeline.Codec.
func (Codec) Decode(b []byte) (*State, error) {
	if len(b) == 0 || b[0] != codecVersion {
		return nil, errors.New("wallet state: not a version 1 encoding")
	}
	r := binenc.NewReader(b)
	r.Byte()
	s := &State{RepID: r.Str(), Currency: r.Str()}
	if n := r.Count(); n > 0 {
		s.Ledger = make(map[string]decimal.Decimal, n)
		for range n {
			k := r.Str()
			s.Ledger[k] = r.AnyDecimal()
		}
	}
	s.Accruals, s.Closed = readSet(&r), readSet(&r)
	if n := r.Count(); n > 0 {
		s.Requests = make(map[string]*Redemption, n)
		for range n {
			red := &Redemption{Key: r.Str(), Digest: r.Str(), Type: r.Str(), Status: r.Str(), Reason: r.Str()}
			red.Amount, red.Fee = r.AnyDecimal(), r.AnyDecimal()
			red.Currency, red.RegistrationID, red.ItemID = r.Str(), r.Str(), r.Str()
			red.Face, red.FaceCurrency = r.AnyDecimal(), r.Str()
			red.At, red.Results = r.Time(), r.Strings()
			s.Requests[red.Key] = red
		}
	}
	if r.Bool() {
		a := &BankAccount{RegistrationID: r.Str(), Holder: r.Str(), BankCode: r.Str(), Country: r.Str(),
			Currency: r.Str(), Mask: r.Str(), Fingerprint: r.Str(), KeyID: r.Str()}
		if sealed := r.Str(); sealed != "" {
			a.Sealed = []byte(sealed)
		}
		a.Status, a.Token = r.Str(), r.AnyDecimal()
		a.BankConfirmed, a.RepConfirmed = r.Bool(), r.Bool()
		a.Attempts = int(r.Varint())
		a.Confirmations, a.Reason = r.Strings(), r.Str()
		a.RegisteredAt, a.ExpiresAt = r.Time(), r.Time()
		s.Account = a
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("wallet state: %w", err)
	}
	return s, nil
}

func appendSet(dst []byte, set map[string]struct{}) []byte {
	return binenc.AppendStrings(dst, slices.Sorted(maps.Keys(set)))
}

// appendDec writes the zigzag form for every coefficient below 2^61, as
// the changelog always has; a strict reader would refuse those of 10^18
// and more, so Decode reads with AnyDecimal.
func appendDec(dst []byte, d decimal.Decimal) []byte {
	return binenc.AppendDecimalBelow(dst, d, 1<<61)
}

func readSet(r *binenc.Reader) map[string]struct{} {
	ss := r.Strings()
	if len(ss) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(ss))
	for _, s := range ss {
		m[s] = struct{}{}
	}
	return m
}
