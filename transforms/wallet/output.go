package wallet

import (
	"encoding/json"
	"time"

	"github.com/accrue/accrue/transforms/currency"
	"github.com/shopspring/decimal"
)

// Output is what one Apply produced, in order within each kind. Every
// item has a deterministic id (or idempotency key) derived from its cause.
type Output struct {
	// Transactions are the ledger postings, each balanced.
	Transactions []Transaction
	// Outcomes answer redemption requests: accepted or refused, or the
	// status a payout result moved them to.
	Outcomes []Outcome
	// Instructions are payouts to make.
	Instructions []PayoutInstruction
	// PennyDrops are token deposits to make to a registered account.
	PennyDrops []PennyDrop
	// AccountEvents report a bank account's verification status.
	AccountEvents []AccountEvent
}

// Empty reports whether o holds nothing.
func (o *Output) Empty() bool {
	return len(o.Transactions) == 0 && len(o.Outcomes) == 0 && len(o.Instructions) == 0 &&
		len(o.PennyDrops) == 0 && len(o.AccountEvents) == 0
}

// Request outcomes.
const (
	OutcomeAccepted = "accepted" // reserved; an instruction was emitted
	OutcomeRefused  = "refused"  // refused with a reason; nothing reserved
	OutcomePaid     = "paid"     // the payout was made
	OutcomeReleased = "released" // the payout failed; the reservation went back to payable
	OutcomeReturned = "returned" // the payout came back; back to payable
)

// Outcome is the answer to a request (or its later status). Replayed is
// set when it repeats the outcome of a key seen before.
type Outcome struct {
	Key       string
	RepID     string
	Type      string
	Status    string
	Reason    string
	Amount    decimal.Decimal
	Fee       decimal.Decimal
	Currency  string
	Available decimal.Decimal // the available balance after it
	Replayed  bool
	At        time.Time
}

// PayoutInstruction asks a payout service to pay a request. IdempotencyKey
// is the request's: a service that has seen it has paid it.
type PayoutInstruction struct {
	IdempotencyKey string
	RepID          string
	Type           string
	Amount         decimal.Decimal
	Fee            decimal.Decimal
	Currency       string
	// The bank account of a transfer: sealed number, mask and details.
	RegistrationID string
	Holder         string
	BankCode       string
	Country        string
	AccountMask    string
	KeyID          string
	SealedAccount  []byte
	// The catalogue item's denomination.
	ItemID       string
	ItemName     string
	Face         decimal.Decimal
	FaceCurrency string
	At           time.Time
}

// PennyDrop asks a payout service to deposit Amount into a registered
// account; its ID is the registration's.
type PennyDrop struct {
	ID             string
	RepID          string
	RegistrationID string
	Amount         decimal.Decimal
	Currency       string
	Holder         string
	BankCode       string
	Country        string
	AccountMask    string
	KeyID          string
	SealedAccount  []byte
	ExpiresAt      time.Time
}

// AccountEvent reports a bank account's status after an input changed it.
// Its ID is the registration id and the status it reached.
type AccountEvent struct {
	ID             string
	RepID          string
	RegistrationID string
	Status         string
	Reason         string
	AccountMask    string
	AttemptsLeft   int
	BankConfirmed  bool
	RepConfirmed   bool
	At             time.Time
}

// money formats d with the minor units of cur ("150.00"); a currency
// without minor units keeps d as it is.
func money(d decimal.Decimal, cur string) string {
	if n, ok := currency.MinorUnits(cur); ok {
		return d.StringFixedBank(n)
	}
	return d.String()
}

// MarshalJSON writes the ledger topic's record of t, amounts with the
// currency's minor units.
func (t Transaction) MarshalJSON() ([]byte, error) {
	type leg struct {
		Account string `json:"account"`
		Debit   string `json:"debit,omitempty"`
		Credit  string `json:"credit,omitempty"`
	}
	legs := make([]leg, len(t.Legs))
	for i, l := range t.Legs {
		legs[i].Account = l.Account
		if !l.Debit.IsZero() {
			legs[i].Debit = money(l.Debit, t.Currency)
		}
		if !l.Credit.IsZero() {
			legs[i].Credit = money(l.Credit, t.Currency)
		}
	}
	return json.Marshal(struct {
		ID       string    `json:"id"`
		Kind     string    `json:"kind"`
		RepID    string    `json:"rep_id"`
		Currency string    `json:"currency"`
		Cause    string    `json:"cause"`
		At       time.Time `json:"at"`
		Legs     []leg     `json:"legs"`
	}{t.ID, t.Kind, t.RepID, t.Currency, t.Cause, t.At, legs})
}

// MarshalJSON writes o for the app.
func (o Outcome) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Key       string    `json:"idempotency_key"`
		RepID     string    `json:"rep_id"`
		Type      string    `json:"type"`
		Status    string    `json:"status"`
		Reason    string    `json:"reason,omitempty"`
		Amount    string    `json:"amount"`
		Fee       string    `json:"fee"`
		Currency  string    `json:"currency"`
		Available string    `json:"available"`
		Replayed  bool      `json:"replayed,omitempty"`
		At        time.Time `json:"at"`
	}{o.Key, o.RepID, o.Type, o.Status, o.Reason, money(o.Amount, o.Currency), money(o.Fee, o.Currency),
		o.Currency, money(o.Available, o.Currency), o.Replayed, o.At})
}

// MarshalJSON writes the payouts.instructions record of p.
func (p PayoutInstruction) MarshalJSON() ([]byte, error) {
	var face string
	if p.ItemID != "" {
		face = money(p.Face, p.FaceCurrency)
	}
	return json.Marshal(struct {
		Key            string    `json:"idempotency_key"`
		RepID          string    `json:"rep_id"`
		Type           string    `json:"type"`
		Amount         string    `json:"amount"`
		Fee            string    `json:"fee"`
		Currency       string    `json:"currency"`
		RegistrationID string    `json:"registration_id,omitempty"`
		Holder         string    `json:"holder,omitempty"`
		BankCode       string    `json:"bank_code,omitempty"`
		Country        string    `json:"country,omitempty"`
		AccountMask    string    `json:"account_mask,omitempty"`
		KeyID          string    `json:"key_id,omitempty"`
		SealedAccount  []byte    `json:"sealed_account,omitempty"`
		ItemID         string    `json:"item_id,omitempty"`
		ItemName       string    `json:"item_name,omitempty"`
		Face           string    `json:"face,omitempty"`
		FaceCurrency   string    `json:"face_currency,omitempty"`
		At             time.Time `json:"at"`
	}{p.IdempotencyKey, p.RepID, p.Type, money(p.Amount, p.Currency), money(p.Fee, p.Currency), p.Currency,
		p.RegistrationID, p.Holder, p.BankCode, p.Country, p.AccountMask, p.KeyID, p.SealedAccount,
		p.ItemID, p.ItemName, face, p.FaceCurrency, p.At})
}

// MarshalJSON writes the penny-drop instruction.
func (p PennyDrop) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID             string    `json:"id"`
		RepID          string    `json:"rep_id"`
		RegistrationID string    `json:"registration_id"`
		Amount         string    `json:"amount"`
		Currency       string    `json:"currency"`
		Holder         string    `json:"holder"`
		BankCode       string    `json:"bank_code"`
		Country        string    `json:"country"`
		AccountMask    string    `json:"account_mask"`
		KeyID          string    `json:"key_id"`
		SealedAccount  []byte    `json:"sealed_account"`
		ExpiresAt      time.Time `json:"expires_at"`
	}{p.ID, p.RepID, p.RegistrationID, money(p.Amount, p.Currency), p.Currency, p.Holder, p.BankCode,
		p.Country, p.AccountMask, p.KeyID, p.SealedAccount, p.ExpiresAt})
}

// MarshalJSON writes the account event.
func (e AccountEvent) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID             string    `json:"id"`
		RepID          string    `json:"rep_id"`
		RegistrationID string    `json:"registration_id"`
		Status         string    `json:"status"`
		Reason         string    `json:"reason,omitempty"`
		AccountMask    string    `json:"account_mask"`
		AttemptsLeft   int       `json:"attempts_left"`
		BankConfirmed  bool      `json:"bank_confirmed"`
		RepConfirmed   bool      `json:"rep_confirmed"`
		At             time.Time `json:"at"`
	}{e.ID, e.RepID, e.RegistrationID, e.Status, e.Reason, e.AccountMask, e.AttemptsLeft,
		e.BankConfirmed, e.RepConfirmed, e.At})
}
