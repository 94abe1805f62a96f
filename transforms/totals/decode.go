package totals

import (
	"encoding/json"
	"errors"

	"github.com/accrue/accrue/connectors/canonical"
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
	// ReasonInvalidAmount: amount.value is not a decimal number
	// (canonical.ParseDecimal), or is negative; Field is "amount.value".
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

// Decode reads a canonical sale event (canonical.Event's JSON) and checks
// what totals needs of it: the event contract (canonical.Event.Validate), a
// sale, a rep_id (totals credits the whole amount to it, not to splits) and
// a currency of three capital letters. A non-nil error is always a
// *pipeline.Reject with one of this package's reason codes; a record with
// several faults always gets the same one.
func Decode(b []byte) (canonical.Event, error) {
	var e canonical.Event
	if err := json.Unmarshal(b, &e); err != nil {
		return canonical.Event{}, jsonReject(err)
	}
	if e.Type.Valid() && e.Type != canonical.Sale {
		return canonical.Event{}, pipeline.Rejectf(ReasonUnsupportedType, "type", "type %q: totals counts sales only", e.Type)
	}
	if err := e.Validate(); err != nil {
		return canonical.Event{}, jsonReject(err)
	}
	switch {
	case e.RepID == "":
		return canonical.Event{}, pipeline.Rejectf(ReasonMissingField, "rep_id", "rep_id is missing: totals does not read splits")
	case !currencyCode(e.Amount.Currency):
		return canonical.Event{}, pipeline.Rejectf(ReasonInvalidField, "amount.currency", "%q is not an ISO 4217 code", e.Amount.Currency)
	}
	return e, nil
}

// jsonReject classifies an error of json.Unmarshal into a canonical.Event
// or of its Validate: a field's fault is missing_field or invalid_field
// (invalid_amount for amount.value); anything else makes the whole value
// malformed.
func jsonReject(err error) *pipeline.Reject {
	var fe *canonical.FieldError
	if errors.As(err, &fe) {
		switch {
		case errors.Is(fe.Err, canonical.ErrMissing):
			return &pipeline.Reject{Reason: ReasonMissingField, Field: fe.Field, Err: err}
		case fe.Field == "amount.value":
			return &pipeline.Reject{Reason: ReasonInvalidAmount, Field: fe.Field, Err: err}
		}
		return &pipeline.Reject{Reason: ReasonInvalidField, Field: fe.Field, Err: err}
	}
	return &pipeline.Reject{Reason: ReasonMalformedJSON, Err: err}
}

func currencyCode(s string) bool {
	return len(s) == 3 && isUpper(s[0]) && isUpper(s[1]) && isUpper(s[2])
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
