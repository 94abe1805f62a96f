// Package canonical is the canonical sale event of the calculation contract
// (PROGRAMS.md §1): the one shape every connector produces and every stage
// after ingest reads. Money is decimal with a currency, never float; on the
// wire (JSON, one object a line in files) every decimal is a string.
package canonical

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Type is what an event does to the sales it belongs to.
type Type string

// The event types.
const (
	// Sale is a new sale.
	Sale Type = "sale"
	// Return gives back part of an earlier sale (RefTxnID): Amount and
	// Quantity are the returned part, positive.
	Return Type = "return"
	// Cancel voids the whole earlier sale named by RefTxnID.
	Cancel Type = "cancel"
	// Adjustment is a signed manual correction of Amount (and Margin,
	// where given) for RepID.
	Adjustment Type = "adjustment"
)

// Valid reports whether t is one of the four types.
func (t Type) Valid() bool {
	switch t {
	case Sale, Return, Cancel, Adjustment:
		return true
	}
	return false
}

// Money is an amount in a currency (ISO 4217 code).
type Money struct {
	Value    decimal.Decimal
	Currency string
}

// Split gives Share of an event's credit to RepID.
type Split struct {
	RepID string
	Share decimal.Decimal
}

// Event is one canonical sale event. (Source, TxnID, Type) identifies it;
// EventID defaults to "source:txn_id:type".
type Event struct {
	EventID   string
	Source    string
	TxnID     string
	Type      Type
	RefTxnID  string // for Return and Cancel: the original's TxnID, same Source
	EventTime time.Time
	RepID     string
	AccountID string // optional
	ProductID string // optional
	// Quantity is optional; Valid false when absent.
	Quantity decimal.NullDecimal
	Amount   Money
	// Margin is optional; nil when absent.
	Margin     *Money
	Splits     []Split           // optional; shares positive, summing to exactly 1
	Attributes map[string]string // optional
}

// DefaultEventID is the event id when the source gives none.
func DefaultEventID(source, txnID string, t Type) string {
	return source + ":" + txnID + ":" + string(t)
}

// Key is the deduplication identity of an event, (source, txn_id, type).
func (e *Event) Key() string { return DefaultEventID(e.Source, e.TxnID, e.Type) }

// FieldError is a problem with one field of an event. Field is the JSON
// path of the field ("amount.value", "splits[1].share").
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// ErrMissing is wrapped by the FieldError of a required field that is absent
// or empty.
var ErrMissing = errors.New("required field is missing")

// Validate checks the contract of §1 that holds for every event whatever its
// source: identity, type, time, rep, amount, splits. It returns the first
// problem as a *FieldError. Checks that depend on configuration (currency
// lists, bounds, time windows) belong to the gatekeepers.
func (e *Event) Validate() error {
	switch {
	case e.Source == "":
		return &FieldError{"source", ErrMissing}
	case e.TxnID == "":
		return &FieldError{"txn_id", ErrMissing}
	case e.Type == "":
		return &FieldError{"type", ErrMissing}
	case !e.Type.Valid():
		return fieldErr("type", "%q is not one of sale, return, cancel, adjustment", e.Type)
	case e.EventTime.IsZero():
		return &FieldError{"event_time", ErrMissing}
	}
	if (e.Type == Return || e.Type == Cancel) && e.RefTxnID == "" {
		return &FieldError{"ref_txn_id", fmt.Errorf("%w: a %s names its original sale", ErrMissing, e.Type)}
	}
	// A sale or adjustment names who is credited: a rep, splits, or an
	// account whose owner is credited. Returns and cancels are credited
	// to whoever their original was.
	if e.RepID == "" && len(e.Splits) == 0 && e.AccountID == "" && e.Type != Return && e.Type != Cancel {
		return &FieldError{"rep_id", ErrMissing}
	}
	if err := e.validateText(); err != nil {
		return err
	}
	if e.Amount.Currency == "" {
		return &FieldError{"amount.currency", ErrMissing}
	}
	if e.Type != Adjustment && e.Amount.Value.IsNegative() {
		return fieldErr("amount.value", "%s is negative; only an adjustment is signed", e.Amount.Value)
	}
	if e.Margin != nil && e.Margin.Currency == "" {
		return &FieldError{"margin.currency", ErrMissing}
	}
	if e.Quantity.Valid && e.Type != Adjustment && e.Quantity.Decimal.IsNegative() {
		return fieldErr("quantity", "%s is negative", e.Quantity.Decimal)
	}
	if len(e.Splits) > 0 {
		sum := decimal.Zero
		for i, s := range e.Splits {
			if s.RepID == "" {
				return &FieldError{fmt.Sprintf("splits[%d].rep_id", i), ErrMissing}
			}
			if !s.Share.IsPositive() {
				return fieldErr(fmt.Sprintf("splits[%d].share", i), "%s is not positive", s.Share)
			}
			sum = sum.Add(s.Share)
		}
		if !sum.Equal(decimal.NewFromInt(1)) {
			return fieldErr("splits", "shares sum to %s, not exactly 1", sum)
		}
	}
	return nil
}

// Limits on an event's text: an identifier names one thing and is short;
// an attribute is a label, not a document. A record over them is refused
// (invalid_field) rather than carried through every stage, topic and
// table.
const (
	MaxIDBytes             = 256
	MaxAttributes          = 64
	MaxAttributeValueBytes = 1024
)

// validateText checks that the identifiers and attributes are valid UTF-8
// (a JSON writer would replace what is not, silently changing the key
// that dedupe, returns and the reports go by), free of control characters
// where they name something, and within the limits above.
func (e *Event) validateText() error {
	for _, f := range [...]struct{ name, v string }{
		{"source", e.Source}, {"txn_id", e.TxnID}, {"ref_txn_id", e.RefTxnID},
		{"rep_id", e.RepID}, {"account_id", e.AccountID}, {"product_id", e.ProductID},
		{"amount.currency", e.Amount.Currency},
		{"event_id", e.EventID}, // last: it is made of source and txn_id when not given
	} {
		if msg := textProblem(f.v, MaxIDBytes, true); msg != "" {
			return fieldErr(f.name, "%s", msg)
		}
	}
	if e.Margin != nil {
		if msg := textProblem(e.Margin.Currency, MaxIDBytes, true); msg != "" {
			return fieldErr("margin.currency", "%s", msg)
		}
	}
	for i, s := range e.Splits {
		if msg := textProblem(s.RepID, MaxIDBytes, true); msg != "" {
			return fieldErr(fmt.Sprintf("splits[%d].rep_id", i), "%s", msg)
		}
	}
	if len(e.Attributes) > MaxAttributes {
		return fieldErr("attributes", "%d attributes, more than %d", len(e.Attributes), MaxAttributes)
	}
	for k, v := range e.Attributes {
		if msg := textProblem(k, MaxIDBytes, true); msg != "" {
			return fieldErr("attributes", "a key: %s", msg)
		}
		if msg := textProblem(v, MaxAttributeValueBytes, false); msg != "" {
			return fieldErr("attributes."+k, "%s", msg)
		}
	}
	return nil
}

// textProblem says what is wrong with a text field, "" when nothing: more
// than max bytes, invalid UTF-8, or, where it names something (name), a
// control character.
func textProblem(s string, max int, name bool) string {
	if len(s) > max {
		return fmt.Sprintf("%d bytes, more than %d", len(s), max)
	}
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !realRuneError(s, i):
			return fmt.Sprintf("not valid UTF-8 at byte %d", i)
		case name && (r < 0x20 || r == 0x7f):
			return fmt.Sprintf("control character %U at byte %d", r, i)
		}
	}
	return ""
}

// realRuneError reports whether s holds an encoded U+FFFD at i, rather than
// an invalid byte that decodes as one.
func realRuneError(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size == 3
}

// wire is the JSON form: decimals as strings, optional parts as pointers.
type wire struct {
	EventID    string            `json:"event_id"`
	Source     string            `json:"source"`
	TxnID      string            `json:"txn_id"`
	Type       Type              `json:"type"`
	RefTxnID   *string           `json:"ref_txn_id"`
	EventTime  string            `json:"event_time"`
	RepID      string            `json:"rep_id,omitempty"`
	AccountID  string            `json:"account_id,omitempty"`
	ProductID  string            `json:"product_id,omitempty"`
	Quantity   *string           `json:"quantity,omitempty"`
	Amount     wireMoney         `json:"amount"`
	Margin     *wireMoney        `json:"margin,omitempty"`
	Splits     []wireSplit       `json:"splits,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

type wireMoney struct {
	Value    string `json:"value"`
	Currency string `json:"currency"`
}

type wireSplit struct {
	RepID string `json:"rep_id"`
	Share string `json:"share"`
}

// MarshalJSON writes the event in its wire form: decimals as strings with
// their scale, time in RFC 3339 (UTC), ref_txn_id null when absent.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// UnmarshalJSON reads the wire form. Decimals must be JSON strings (a JSON
// number would pass through a float); a malformed one is a *FieldError
// naming its field. It does not Validate.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return &FieldError{Field: te.Field, Err: fmt.Errorf("want a JSON %s, got %s", te.Type, te.Value)}
		}
		return err
	}
	ev := Event{
		EventID: w.EventID, Source: w.Source, TxnID: w.TxnID, Type: w.Type,
		RepID: w.RepID, AccountID: w.AccountID, ProductID: w.ProductID, Attributes: w.Attributes,
	}
	if w.RefTxnID != nil {
		ev.RefTxnID = *w.RefTxnID
	}
	if w.EventTime != "" {
		t, err := time.Parse(time.RFC3339Nano, w.EventTime)
		if err != nil {
			return fieldErr("event_time", "%q is not an RFC 3339 time", w.EventTime)
		}
		ev.EventTime = t.UTC()
	}
	var err error
	if ev.Amount, err = w.Amount.money("amount"); err != nil {
		return err
	}
	if w.Margin != nil {
		m, err := w.Margin.money("margin")
		if err != nil {
			return err
		}
		ev.Margin = &m
	}
	if w.Quantity != nil {
		q, err := ParseDecimal(*w.Quantity)
		if err != nil {
			return &FieldError{"quantity", err}
		}
		ev.Quantity = decimal.NewNullDecimal(q)
	}
	for i, s := range w.Splits {
		sh, err := ParseDecimal(s.Share)
		if err != nil {
			return &FieldError{fmt.Sprintf("splits[%d].share", i), err}
		}
		ev.Splits = append(ev.Splits, Split{RepID: s.RepID, Share: sh})
	}
	if ev.EventID == "" {
		ev.EventID = DefaultEventID(ev.Source, ev.TxnID, ev.Type)
	}
	*e = ev
	return nil
}

func (w wireMoney) money(field string) (Money, error) {
	if w.Value == "" {
		return Money{}, &FieldError{field + ".value", ErrMissing}
	}
	v, err := ParseDecimal(w.Value)
	if err != nil {
		return Money{}, &FieldError{field + ".value", err}
	}
	return Money{Value: v, Currency: w.Currency}, nil
}

// maxDecimalLen bounds a decimal's text: longer is a broken record, and an
// unbounded exponent would let one record allocate without limit.
const maxDecimalLen = 64

// ParseDecimal reads a plain decimal: an optional sign, digits, an optional
// fraction ("1250.00", "-3", "0.5"). Exponents, thousands separators, "NaN"
// and "Inf" are refused.
func ParseDecimal(s string) (decimal.Decimal, error) {
	if len(s) == 0 || len(s) > maxDecimalLen {
		return decimal.Decimal{}, fmt.Errorf("%q is not a decimal", s)
	}
	i := 0
	if s[0] == '-' || s[0] == '+' {
		i++
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return decimal.Decimal{}, fmt.Errorf("%q is not a plain decimal", s)
		}
	}
	if digits == 0 {
		return decimal.Decimal{}, fmt.Errorf("%q is not a decimal", s)
	}
	if digits > maxInt64Digits {
		return decimal.NewFromString(s)
	}
	// Up to 18 digits fit an int64: read the coefficient here rather than
	// scan the text three more times in NewFromString.
	var coef int64
	var scale int32
	dot = false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '-', '+':
		case '.':
			dot = true
		default:
			coef = coef*10 + int64(c-'0')
			if dot {
				scale++
			}
		}
	}
	if s[0] == '-' {
		coef = -coef
	}
	if scale == 0 && coef >= 0 && coef < int64(len(smallInts)) {
		return smallInts[coef], nil
	}
	return decimal.New(coef, -scale), nil
}

// smallInts are the decimals 0 to 255 without a fraction, shared the way
// decimal.Zero is (a Decimal never changes its coefficient in place): most
// quantities are among them, and each would cost two allocations.
var smallInts = func() (d [256]decimal.Decimal) {
	for i := range d {
		d[i] = decimal.New(int64(i), 0)
	}
	return d
}()

// maxInt64Digits is the most decimal digits that always fit an int64.
const maxInt64Digits = 18

// DecimalString writes d keeping its scale ("1250.00" stays "1250.00";
// decimal.String would write "1250").
func DecimalString(d decimal.Decimal) string {
	if e := d.Exponent(); e < 0 {
		return d.StringFixed(-e)
	}
	return d.String()
}
