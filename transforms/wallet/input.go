package wallet

import (
	"time"

	"github.com/shopspring/decimal"
)

// Input is one record for Apply: *Payable, *PeriodClose, *Register,
// *BankResult, *Confirm, *Request, *PayoutResult or *Tick.
type Input interface {
	// Rep is the id of the rep whose wallet the input belongs to: the
	// stage's key.
	Rep() string
}

// Payable is a payouts.payable record: the change of what the rep is owed
// under one program in one period, negative for a clawback.
type Payable struct {
	// IdempotencyKey is the accrual's id.
	IdempotencyKey string          `json:"idempotency_key"`
	ProgramID      string          `json:"program_id"`
	ProgramVersion int             `json:"program_version"`
	Period         string          `json:"period"`
	RepID          string          `json:"rep_id"`
	Currency       string          `json:"currency"`
	Amount         decimal.Decimal `json:"amount"`
	EventID        string          `json:"event_id"`
	// At is when it was accrued (the record's timestamp).
	At time.Time `json:"-"`
}

// PeriodClose tells a rep's wallet that a program's period has closed:
// under PolicyPeriodClose its earnings become payable.
type PeriodClose struct {
	RepID     string
	ProgramID string
	Period    string
	At        time.Time
}

// Register registers a bank account for a rep, or changes it. Number is
// the account number (an IBAN or a domestic number) in clear: it is sealed
// at once and never stored or returned as it is.
type Register struct {
	RegistrationID string
	RepID          string
	Holder         string
	BankCode       string
	Country        string
	Currency       string
	Number         string
	At             time.Time
}

// BankResult is the bank's (or the payout service's) result of a penny
// drop: deposited, or failed with a reason.
type BankResult struct {
	RegistrationID string
	RepID          string
	Deposited      bool
	Reason         string
	At             time.Time
}

// Confirm is the rep's confirmation of the penny-drop amount they saw on
// their statement. ID makes a repeated confirmation harmless.
type Confirm struct {
	ID             string
	RegistrationID string
	RepID          string
	Amount         decimal.Decimal
	At             time.Time
}

// Request types.
const (
	RequestBankTransfer = "bank_transfer"
	RequestCatalogue    = "catalogue"
)

// Request is a redemption request from the rep. Key is its idempotency
// key: the same key again yields the first outcome and pays once.
type Request struct {
	Key   string
	RepID string
	Type  string // RequestBankTransfer or RequestCatalogue
	// Amount is what to transfer, in Currency (the wallet's); All asks for
	// the whole available balance less the fee instead.
	Amount   decimal.Decimal
	All      bool
	Currency string
	// ItemID, Face and FaceCurrency choose a catalogue item's denomination.
	ItemID       string
	Face         decimal.Decimal
	FaceCurrency string
	// Country is the rep's country (ISO 3166-1 alpha-2), which the stage
	// takes from the reference data, not from the app.
	Country string
	At      time.Time
}

// Payout result statuses.
const (
	ResultPaid     = "paid"     // the payout was made
	ResultFailed   = "failed"   // it could not be made: the reservation is released
	ResultReturned = "returned" // it was made and came back
)

// PayoutResult is a payout service's result of a PayoutInstruction. ID
// identifies the result itself, IdempotencyKey the request it answers.
type PayoutResult struct {
	ID             string
	RepID          string
	IdempotencyKey string
	Status         string
	Reason         string
	At             time.Time
}

// Tick is the stage's clock reaching At for the rep: penny drops past
// their expiry expire.
type Tick struct {
	RepID string
	At    time.Time
}

// Rep implements Input.
func (p *Payable) Rep() string { return p.RepID }

// Rep implements Input.
func (p *PeriodClose) Rep() string { return p.RepID }

// Rep implements Input.
func (r *Register) Rep() string { return r.RepID }

// Rep implements Input.
func (r *BankResult) Rep() string { return r.RepID }

// Rep implements Input.
func (c *Confirm) Rep() string { return c.RepID }

// Rep implements Input.
func (r *Request) Rep() string { return r.RepID }

// Rep implements Input.
func (r *PayoutResult) Rep() string { return r.RepID }

// Rep implements Input.
func (t *Tick) Rep() string { return t.RepID }
