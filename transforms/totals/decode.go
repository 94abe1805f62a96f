package totals

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/pipeline"
)

// Reason codes of the records Decode and the Processor refuse. They are
// stable: dashboards and replays select dead letters by them.
const (
	// ReasonMalformedJSON: the value is not a JSON object.
	ReasonMalformedJSON = "malformed_json"
	// ReasonMissingField: a required field is absent or empty; Field names
	// it ("rep_id", "amount.value", ...).
	ReasonMissingField = "missing_field"
	// ReasonInvalidAmount: amount.value is not a plain, non-negative
	// decimal number ("1250.00"); Field is "amount.value".
	ReasonInvalidAmount = "invalid_amount"
	// ReasonInvalidField: another field has the wrong JSON type or shape (a
	// time that is not RFC 3339, a currency that is not three capital
	// letters, a quantity that is not a decimal); Field names it.
	ReasonInvalidField = "invalid_field"
	// ReasonUnsupportedType: the event is not a sale (returns, cancels and
	// adjustments belong to the accrual stage); Field is "type".
	ReasonUnsupportedType = "unsupported_type"
	// ReasonKeyMismatch: the record's key is not the event's rep_id, so the
	// record sits in another partition than the rep's totals; Field is
	// "key".
	ReasonKeyMismatch = "key_mismatch"
)

// Reasons lists every reason code of this package.
var Reasons = []string{
	ReasonMalformedJSON, ReasonMissingField, ReasonInvalidAmount,
	ReasonInvalidField, ReasonUnsupportedType, ReasonKeyMismatch,
}

// maxDecimalLen bounds the length of a decimal string: more digits than any
// money amount has are a broken record, not a sale to add up.
const maxDecimalLen = 40

// Sale is the part of a canonical sale event (PROGRAMS.md §1) that totals
// reads. Splits, margin and attributes are not read: the whole amount is
// credited to RepID.
type Sale struct {
	EventID   string
	Source    string
	TxnID     string
	EventTime time.Time
	RepID     string
	// Quantity is zero when the event gives none.
	Quantity decimal.Decimal
	Amount   decimal.Decimal
	Currency string
}

// wireSale is the JSON shape of the event. Money and quantity are strings:
// a JSON number there is refused, never read through a float.
type wireSale struct {
	EventID   string `json:"event_id"`
	Source    string `json:"source"`
	TxnID     string `json:"txn_id"`
	Type      string `json:"type"`
	EventTime string `json:"event_time"`
	RepID     string `json:"rep_id"`
	Quantity  string `json:"quantity"`
	Amount    *struct {
		Value    string `json:"value"`
		Currency string `json:"currency"`
	} `json:"amount"`
}

// Decode parses a canonical sale event. A non-nil error is always a
// *pipeline.Reject with one of this package's reason codes; fields are
// checked in a fixed order (JSON, then identity, rep, time, amount), so a
// record with several faults always gets the same reason. event_id defaults
// to source:txn_id:type.
func Decode(b []byte) (Sale, error) {
	var w wireSale
	if err := json.Unmarshal(b, &w); err != nil {
		return Sale{}, jsonReject(err)
	}
	for _, f := range [...]struct{ name, v string }{
		{"source", w.Source}, {"txn_id", w.TxnID}, {"type", w.Type}, {"rep_id", w.RepID}, {"event_time", w.EventTime},
	} {
		if f.v == "" {
			return Sale{}, pipeline.Rejectf(ReasonMissingField, f.name, "%s is missing", f.name)
		}
	}
	if w.Type != "sale" {
		return Sale{}, pipeline.Rejectf(ReasonUnsupportedType, "type", "type %q: totals counts sales only", w.Type)
	}
	s := Sale{EventID: w.EventID, Source: w.Source, TxnID: w.TxnID, RepID: w.RepID}
	if s.EventID == "" {
		s.EventID = w.Source + ":" + w.TxnID + ":" + w.Type
	}
	var err error
	if s.EventTime, err = time.Parse(time.RFC3339, w.EventTime); err != nil {
		return Sale{}, &pipeline.Reject{Reason: ReasonInvalidField, Field: "event_time", Err: err}
	}
	if w.Amount == nil || w.Amount.Value == "" {
		return Sale{}, pipeline.Rejectf(ReasonMissingField, "amount.value", "amount.value is missing")
	}
	if w.Amount.Currency == "" {
		return Sale{}, pipeline.Rejectf(ReasonMissingField, "amount.currency", "amount.currency is missing")
	}
	if !plainDecimal(w.Amount.Value) {
		return Sale{}, pipeline.Rejectf(ReasonInvalidAmount, "amount.value", "%q is not a plain decimal number", w.Amount.Value)
	}
	if w.Amount.Value[0] == '-' {
		return Sale{}, pipeline.Rejectf(ReasonInvalidAmount, "amount.value", "%q: a sale's amount is not negative", w.Amount.Value)
	}
	if s.Amount, err = decimal.NewFromString(w.Amount.Value); err != nil {
		return Sale{}, &pipeline.Reject{Reason: ReasonInvalidAmount, Field: "amount.value", Err: err}
	}
	if !currencyCode(w.Amount.Currency) {
		return Sale{}, pipeline.Rejectf(ReasonInvalidField, "amount.currency", "%q is not an ISO 4217 code", w.Amount.Currency)
	}
	s.Currency = w.Amount.Currency
	if w.Quantity != "" {
		if !plainDecimal(w.Quantity) {
			return Sale{}, pipeline.Rejectf(ReasonInvalidField, "quantity", "%q is not a plain decimal number", w.Quantity)
		}
		if s.Quantity, err = decimal.NewFromString(w.Quantity); err != nil {
			return Sale{}, &pipeline.Reject{Reason: ReasonInvalidField, Field: "quantity", Err: err}
		}
	}
	return s, nil
}

// jsonReject classifies an encoding/json error: a wrong type in a field is
// that field's fault (amount.value's being an invalid amount), anything else
// makes the whole value malformed.
func jsonReject(err error) *pipeline.Reject {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		if te.Field == "amount.value" {
			return &pipeline.Reject{Reason: ReasonInvalidAmount, Field: te.Field, Err: err}
		}
		return &pipeline.Reject{Reason: ReasonInvalidField, Field: te.Field, Err: err}
	}
	return &pipeline.Reject{Reason: ReasonMalformedJSON, Err: err}
}

// plainDecimal reports whether s is -?[0-9]+(\.[0-9]+)? and at most
// maxDecimalLen long: no exponent, sign, separator or space that
// decimal.NewFromString would otherwise accept or misread.
func plainDecimal(s string) bool {
	if len(s) == 0 || len(s) > maxDecimalLen {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
	}
	intDigits, fracDigits, dot := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9' && dot:
			fracDigits++
		case c >= '0' && c <= '9':
			intDigits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return intDigits > 0 && (!dot || fracDigits > 0)
}

func currencyCode(s string) bool {
	return len(s) == 3 && isUpper(s[0]) && isUpper(s[1]) && isUpper(s[2])
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
