package wallet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/currency"
	"github.com/shopspring/decimal"
)

// The records of the wallet stage's input topics are JSON objects, one
// per Kafka record, keyed by the rep's id. A record that cannot be read,
// misses a field or names another rep than its key is refused with
// ReasonInvalidInput and the field; the stage dead-letters it.

// RequestRecord is a redemption request as the rep-facing app (or the
// HTTP endpoint) writes it to wallet.redemptions:
//
//	{"idempotency_key":"click-7","rep_id":"R-17","type":"bank_transfer","amount":"100.00","currency":"EUR"}
//	{"idempotency_key":"click-8","rep_id":"R-17","type":"bank_transfer","all":true,"currency":"EUR"}
//	{"idempotency_key":"click-9","rep_id":"R-17","type":"catalogue","item_id":"spa","face":"80","face_currency":"EUR","currency":"EUR"}
type RequestRecord struct {
	IdempotencyKey string           `json:"idempotency_key"`
	RequestID      string           `json:"request_id,omitempty"`
	RepID          string           `json:"rep_id"`
	Type           string           `json:"type"`
	Amount         *decimal.Decimal `json:"amount,omitempty"`
	All            bool             `json:"all,omitempty"`
	Currency       string           `json:"currency"`
	ItemID         string           `json:"item_id,omitempty"`
	Face           *decimal.Decimal `json:"face,omitempty"`
	FaceCurrency   string           `json:"face_currency,omitempty"`
	RequestedAt    time.Time        `json:"requested_at,omitzero"`
}

// MaxKeyLen bounds an idempotency key, a request's and every other id.
const MaxKeyLen = 200

// checkID reports whether id is a usable identifier: not empty, at most
// MaxKeyLen bytes, printable without spaces.
func checkID(field, id string) error {
	switch {
	case id == "":
		return pipeline.Rejectf(ReasonInvalidInput, field, "%s is missing", field)
	case len(id) > MaxKeyLen:
		return pipeline.Rejectf(ReasonInvalidInput, field, "%s is longer than %d bytes", field, MaxKeyLen)
	}
	for _, r := range id {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return pipeline.Rejectf(ReasonInvalidInput, field, "%s holds a space or a control character", field)
		}
	}
	return nil
}

func checkCurrency(field, cur string) error {
	if cur == "" {
		return pipeline.Rejectf(ReasonInvalidInput, field, "%s is missing", field)
	}
	if _, ok := currency.MinorUnits(cur); !ok {
		return pipeline.Rejectf(ReasonInvalidInput, field, "%q is not an ISO 4217 currency with a minor unit", cur)
	}
	return nil
}

// Validate checks r as the HTTP endpoint and the stage both do, and
// returns a *pipeline.Reject naming the first bad field, or nil. The
// wallet decides the rest (balance, account, catalogue).
func (r *RequestRecord) Validate() error {
	if err := checkID("idempotency_key", r.IdempotencyKey); err != nil {
		return err
	}
	if err := checkID("rep_id", r.RepID); err != nil {
		return err
	}
	if err := checkCurrency("currency", r.Currency); err != nil {
		return err
	}
	switch r.Type {
	case RequestBankTransfer:
		switch {
		case r.All && r.Amount != nil:
			return pipeline.Rejectf(ReasonInvalidAmount, "amount", "give an amount or \"all\": true, not both")
		case !r.All && r.Amount == nil:
			return pipeline.Rejectf(ReasonInvalidAmount, "amount", "a bank transfer needs an amount or \"all\": true")
		case r.Amount != nil && r.Amount.Sign() <= 0:
			return pipeline.Rejectf(ReasonInvalidAmount, "amount", "amount %s is not positive", r.Amount)
		case r.Amount != nil && !currency.Round(*r.Amount, r.Currency).Equal(*r.Amount):
			return pipeline.Rejectf(ReasonInvalidAmount, "amount", "amount %s is finer than %s's minor unit", r.Amount, r.Currency)
		case r.ItemID != "" || r.Face != nil:
			return pipeline.Rejectf(ReasonInvalidInput, "item_id", "a bank transfer names no catalogue item")
		}
	case RequestCatalogue:
		switch {
		case r.Amount != nil || r.All:
			return pipeline.Rejectf(ReasonInvalidInput, "amount", "a catalogue request is priced by its item: give item_id, face and face_currency")
		case r.Face == nil:
			return pipeline.Rejectf(ReasonInvalidInput, "face", "face is missing")
		case r.Face.Sign() <= 0:
			return pipeline.Rejectf(ReasonInvalidAmount, "face", "face %s is not positive", r.Face)
		}
		if err := checkID("item_id", r.ItemID); err != nil {
			return err
		}
		if err := checkCurrency("face_currency", r.FaceCurrency); err != nil {
			return err
		}
	case "":
		return pipeline.Rejectf(ReasonInvalidInput, "type", "type is missing (%s or %s)", RequestBankTransfer, RequestCatalogue)
	default:
		return pipeline.Rejectf(ReasonInvalidInput, "type", "type %q is neither %s nor %s", r.Type, RequestBankTransfer, RequestCatalogue)
	}
	return nil
}

// Input returns the wallet's Request for r, at the given time (the
// record's timestamp), for a rep in country.
func (r *RequestRecord) Input(at time.Time, country string) *Request {
	in := &Request{Key: r.IdempotencyKey, RepID: r.RepID, Type: r.Type, All: r.All, Currency: r.Currency,
		ItemID: r.ItemID, FaceCurrency: r.FaceCurrency, Country: country, At: at}
	if r.Amount != nil {
		in.Amount = *r.Amount
	}
	if r.Face != nil {
		in.Face = *r.Face
	}
	return in
}

// AccountRecord is a record of the rep-facing app's bank-account topic
// (wallet.registrations): a registration, which carries the account
// number in clear, or the rep's confirmation of the penny-drop amount.
//
//	{"type":"register","registration_id":"reg-1","rep_id":"R-17","holder":"Ada Rep","bank_code":"COBADEFFXXX","country":"DE","currency":"EUR","number":"DE89370400440532013000"}
//	{"type":"confirm","id":"conf-1","registration_id":"reg-1","rep_id":"R-17","amount":"0.42"}
type AccountRecord struct {
	Type           string           `json:"type"`
	ID             string           `json:"id,omitempty"`
	RegistrationID string           `json:"registration_id"`
	RepID          string           `json:"rep_id"`
	Holder         string           `json:"holder,omitempty"`
	BankCode       string           `json:"bank_code,omitempty"`
	Country        string           `json:"country,omitempty"`
	Currency       string           `json:"currency,omitempty"`
	Number         string           `json:"number,omitempty"`
	Amount         *decimal.Decimal `json:"amount,omitempty"`
}

// Account record types.
const (
	AccountRegister = "register"
	AccountConfirm  = "confirm"
)

// ResultRecord is a record of payouts.results, written by payout services:
// the result of a payout instruction (kind "payout", the default) or of a
// penny drop (kind "penny_drop").
//
//	{"kind":"payout","id":"bank-ref-9","rep_id":"R-17","idempotency_key":"click-7","status":"paid"}
//	{"kind":"penny_drop","id":"pd-1","rep_id":"R-17","registration_id":"reg-1","status":"deposited"}
//	{"kind":"penny_drop","id":"pd-2","rep_id":"R-17","registration_id":"reg-1","status":"failed","reason":"account_closed"}
type ResultRecord struct {
	Kind           string `json:"kind,omitempty"`
	ID             string `json:"id"`
	RepID          string `json:"rep_id"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	RegistrationID string `json:"registration_id,omitempty"`
	Status         string `json:"status"`
	Reason         string `json:"reason,omitempty"`
}

// Result kinds and penny-drop statuses of a ResultRecord.
const (
	ResultKindPayout    = "payout"
	ResultKindPennyDrop = "penny_drop"
	PennyDropDeposited  = "deposited"
	PennyDropFailed     = "failed"
)

// unmarshal reads one JSON object into v, refusing trailing data; the
// error names the field where encoding/json knows it and never quotes
// the record's values.
func unmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON object")
	}
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// Embedded structs prefix the field with their type's name.
		field := te.Field
		for {
			head, rest, ok := strings.Cut(field, ".")
			if !ok || head == "" || !unicode.IsUpper(rune(head[0])) {
				break
			}
			field = rest
		}
		return pipeline.Rejectf(ReasonInvalidInput, field, "a JSON %s where %s is expected", te.Value, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return pipeline.Rejectf(ReasonInvalidInput, "", "not a JSON object: %s at byte %d", se.Error(), se.Offset)
	}
	return pipeline.Rejectf(ReasonInvalidInput, "", "not a valid record")
}

// decimalField reads the decimal of field from raw (a JSON string or
// number); nil when raw is absent or null. Its error names the field and
// does not quote the value.
func decimalField(field string, raw json.RawMessage) (*decimal.Decimal, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var d decimal.Decimal
	if err := d.UnmarshalJSON(raw); err != nil {
		return nil, pipeline.Rejectf(ReasonInvalidInput, field, "%s is not a decimal number", field)
	}
	return &d, nil
}

// DecodePayable reads a payouts.payable record (the accrual stage's
// AppendPayable); at is the record's timestamp.
func DecodePayable(b []byte, at time.Time) (*Payable, error) {
	var raw struct {
		Payable
		Amount json.RawMessage `json:"amount"`
	}
	if err := unmarshal(b, &raw); err != nil {
		return nil, err
	}
	amount, err := decimalField("amount", raw.Amount)
	if err != nil {
		return nil, err
	}
	p := raw.Payable
	for _, f := range []struct{ name, v string }{{"idempotency_key", p.IdempotencyKey}, {"program_id", p.ProgramID},
		{"period", p.Period}, {"rep_id", p.RepID}} {
		if f.v == "" {
			return nil, pipeline.Rejectf(ReasonInvalidInput, f.name, "%s is missing", f.name)
		}
	}
	if err := checkCurrency("currency", p.Currency); err != nil {
		return nil, err
	}
	if amount == nil {
		return nil, pipeline.Rejectf(ReasonInvalidInput, "amount", "amount is missing")
	}
	p.Amount, p.At = *amount, at
	return &p, nil
}

// DecodeRequest reads a wallet.redemptions record and checks it
// (RequestRecord.Validate).
func DecodeRequest(b []byte) (*RequestRecord, error) {
	var raw struct {
		RequestRecord
		Amount json.RawMessage `json:"amount"`
		Face   json.RawMessage `json:"face"`
	}
	if err := unmarshal(b, &raw); err != nil {
		return nil, err
	}
	r := raw.RequestRecord
	var err error
	if r.Amount, err = decimalField("amount", raw.Amount); err != nil {
		return nil, err
	}
	if r.Face, err = decimalField("face", raw.Face); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// DecodeAccount reads a wallet.registrations record into a *Register or
// a *Confirm at the record's timestamp. Its errors never quote the
// account number.
func DecodeAccount(b []byte, at time.Time) (Input, error) {
	var raw struct {
		AccountRecord
		Amount json.RawMessage `json:"amount"`
	}
	if err := unmarshal(b, &raw); err != nil {
		return nil, err
	}
	r := raw.AccountRecord
	var err error
	if r.Amount, err = decimalField("amount", raw.Amount); err != nil {
		return nil, err
	}
	if err := checkID("rep_id", r.RepID); err != nil {
		return nil, err
	}
	if err := checkID("registration_id", r.RegistrationID); err != nil {
		return nil, err
	}
	switch r.Type {
	case AccountRegister:
		return &Register{RegistrationID: r.RegistrationID, RepID: r.RepID, Holder: r.Holder, BankCode: r.BankCode,
			Country: r.Country, Currency: r.Currency, Number: r.Number, At: at}, nil
	case AccountConfirm:
		if err := checkID("id", r.ID); err != nil {
			return nil, err
		}
		if r.Amount == nil {
			return nil, pipeline.Rejectf(ReasonInvalidInput, "amount", "amount is missing")
		}
		return &Confirm{ID: r.ID, RegistrationID: r.RegistrationID, RepID: r.RepID, Amount: *r.Amount, At: at}, nil
	}
	return nil, pipeline.Rejectf(ReasonInvalidInput, "type", "type %q is neither %s nor %s", r.Type, AccountRegister, AccountConfirm)
}

// DecodeResult reads a payouts.results record into a *PayoutResult or a
// *BankResult at the record's timestamp.
func DecodeResult(b []byte, at time.Time) (Input, error) {
	var r ResultRecord
	if err := unmarshal(b, &r); err != nil {
		return nil, err
	}
	if err := checkID("id", r.ID); err != nil {
		return nil, err
	}
	if err := checkID("rep_id", r.RepID); err != nil {
		return nil, err
	}
	switch r.Kind {
	case ResultKindPayout, "":
		if err := checkID("idempotency_key", r.IdempotencyKey); err != nil {
			return nil, err
		}
		return &PayoutResult{ID: r.ID, RepID: r.RepID, IdempotencyKey: r.IdempotencyKey, Status: r.Status, Reason: r.Reason, At: at}, nil
	case ResultKindPennyDrop:
		if err := checkID("registration_id", r.RegistrationID); err != nil {
			return nil, err
		}
		if r.Status != PennyDropDeposited && r.Status != PennyDropFailed {
			return nil, pipeline.Rejectf(ReasonInvalidInput, "status", "penny-drop status %q is neither %s nor %s", r.Status, PennyDropDeposited, PennyDropFailed)
		}
		return &BankResult{RegistrationID: r.RegistrationID, RepID: r.RepID, Deposited: r.Status == PennyDropDeposited,
			Reason: r.Reason, At: at}, nil
	}
	return nil, pipeline.Rejectf(ReasonInvalidInput, "kind", "kind %q is neither %s nor %s", r.Kind, ResultKindPayout, ResultKindPennyDrop)
}

// RedactAccount returns a wallet.registrations record fit for a
// dead-letter topic: the account number replaced by its mask. A record
// that is not a JSON object is withheld whole (it may hold a number
// anywhere): the dead letter then says how long it was, and the record
// is found on its source topic by the dead letter's position headers.
func RedactAccount(b []byte) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return []byte(`{"redacted":"not a JSON object; withheld as it may hold an account number","bytes":` + strconv.Itoa(len(b)) + `}`)
	}
	if raw, ok := m["number"]; ok {
		var n string
		if json.Unmarshal(raw, &n) != nil {
			n = ""
		}
		masked, _ := json.Marshal(Mask(n))
		if n == "" {
			masked = []byte(`"****"`)
		}
		m["number"] = masked
	}
	out, err := json.Marshal(m)
	if err != nil {
		return []byte(`{"redacted":"unreadable"}`)
	}
	return out
}

// ItemRecord is a record of the catalogue topic (compacted, keyed by the
// item's id; a tombstone removes the item):
//
//	{"id":"spa","kind":"experience","name":"Thermal spa day","category":"wellness","countries":["DE","AT"],
//	 "denominations":[{"currency":"EUR","face":"80","prices":{"EUR":"80.00","USD":"92.40"}}]}
type ItemRecord struct {
	ID            string   `json:"id"`
	Kind          string   `json:"kind"`
	Name          string   `json:"name"`
	Category      string   `json:"category"`
	Countries     []string `json:"countries"`
	Denominations []struct {
		Currency string                     `json:"currency"`
		Face     decimal.Decimal            `json:"face"`
		Prices   map[string]decimal.Decimal `json:"prices"`
	} `json:"denominations"`
	Withdrawn bool `json:"withdrawn,omitempty"`
}

// DecodeItem reads a catalogue record and checks the item (Item.Validate).
func DecodeItem(b []byte) (Item, error) {
	var r ItemRecord
	if err := unmarshal(b, &r); err != nil {
		return Item{}, err
	}
	it := Item{ID: r.ID, Kind: r.Kind, Name: r.Name, Category: r.Category, Countries: r.Countries, Withdrawn: r.Withdrawn}
	for _, d := range r.Denominations {
		it.Denominations = append(it.Denominations, Denomination{Currency: d.Currency, Face: d.Face, Prices: d.Prices})
	}
	if err := it.Validate(); err != nil {
		return Item{}, err
	}
	return it, nil
}

// CloseRecord is a record of the period-close topic (compacted, keyed by
// program_id/period): the program's period is closed for every rep.
//
//	{"program_id":"quarterly","period":"2026-Q4"}
type CloseRecord struct {
	ProgramID string `json:"program_id"`
	Period    string `json:"period"`
}

// DecodeClose reads a period-close record.
func DecodeClose(b []byte) (CloseRecord, error) {
	var r CloseRecord
	if err := unmarshal(b, &r); err != nil {
		return r, err
	}
	if r.ProgramID == "" || r.Period == "" {
		return r, fmt.Errorf("period close without program_id or period")
	}
	return r, nil
}
