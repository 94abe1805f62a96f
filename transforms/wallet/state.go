package wallet

import (
	"maps"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// State is one rep's wallet: the ledger's balances, what has been applied,
// the bank account and the redemption requests. A stage keeps it under the
// rep's id and stores it with Codec. Apply never modifies a State it is
// given.
type State struct {
	RepID string
	// Currency is the wallet's currency, set by the first payable amount.
	Currency string
	// Ledger is each account's balance, credits minus debits; accounts
	// at zero are dropped.
	Ledger map[string]decimal.Decimal
	// Accruals holds the idempotency keys of the payable records applied.
	Accruals map[string]struct{}
	// Closed holds the periods closed for the rep, "program/period": later
	// accruals of a closed period are payable at once.
	Closed map[string]struct{}
	// Requests holds every redemption request by its idempotency key, with
	// its outcome.
	Requests map[string]*Redemption
	// Account is the rep's current bank account, nil before the first
	// registration.
	Account *BankAccount
}

// Redemption is a request as the wallet remembers it: enough to answer the
// same key again with the same outcome, and to settle or release it.
type Redemption struct {
	Key string
	// Digest identifies the request's content, to tell a retry from a
	// different request reusing the key.
	Digest string
	Type   string // RequestBankTransfer or RequestCatalogue
	Status string // OutcomeAccepted, OutcomeRefused, OutcomePaid, OutcomeReleased, OutcomeReturned
	Reason string // the reason code of a refusal or a failed payout
	// Amount is what the payout delivers (for a catalogue item, its price
	// in the wallet's currency), Fee the convenience fee on top.
	Amount   decimal.Decimal
	Fee      decimal.Decimal
	Currency string
	// RegistrationID is the bank account paid (bank transfers).
	RegistrationID string
	// ItemID, Face and FaceCurrency name the catalogue item and
	// denomination.
	ItemID       string
	Face         decimal.Decimal
	FaceCurrency string
	At           time.Time
	// Results holds the ids of the payout results applied.
	Results []string
}

// Penny-drop statuses of a bank account.
const (
	// StatusPending: the penny drop is out; verified once the bank's
	// deposit result and the rep's correct amount are both in.
	StatusPending = "pending"
	// StatusVerified: payouts may go to the account.
	StatusVerified = "verified"
	// StatusWrongAmount: the rep confirmed a wrong amount and has attempts
	// left; the next correct confirmation counts.
	StatusWrongAmount = "wrong_amount"
	// StatusLocked: the attempts ran out; only another account starts over.
	StatusLocked = "locked"
	// StatusFailed: the bank could not deposit the penny drop.
	StatusFailed = "failed"
	// StatusExpired: the penny drop was not completed in time.
	StatusExpired = "expired"
)

// BankAccount is a registered bank account and the state of its penny
// drop. The number is only held sealed.
type BankAccount struct {
	RegistrationID string
	Holder         string
	BankCode       string
	Country        string
	Currency       string
	// Mask is the number as shown: its last four characters after "****".
	Mask string
	// Fingerprint is a keyed hash of the country, bank code and number: the
	// same account has the same fingerprint, and it cannot be reversed
	// without the key.
	Fingerprint string
	// KeyID names the key Sealed is sealed with; Sealed is the nonce and
	// the AES-256-GCM ciphertext of the number.
	KeyID  string
	Sealed []byte

	Status string
	// Token is the penny-drop amount, in Currency.
	Token decimal.Decimal
	// BankConfirmed: the bank reported the penny drop deposited.
	// RepConfirmed: the rep confirmed the right amount.
	BankConfirmed bool
	RepConfirmed  bool
	// Attempts counts the wrong amounts confirmed.
	Attempts int
	// Confirmations holds the ids of the rep's confirmations applied.
	Confirmations []string
	// Reason is why the account failed, when it did.
	Reason       string
	RegisteredAt time.Time
	ExpiresAt    time.Time
}

// Clone returns a deep copy of s.
func (s *State) Clone() *State {
	c := *s
	c.Ledger = maps.Clone(s.Ledger)
	c.Accruals = maps.Clone(s.Accruals)
	c.Closed = maps.Clone(s.Closed)
	if s.Requests != nil {
		c.Requests = make(map[string]*Redemption, len(s.Requests))
		for k, r := range s.Requests {
			c.Requests[k] = r.clone()
		}
	}
	if s.Account != nil {
		a := *s.Account
		a.Sealed = slices.Clone(a.Sealed)
		a.Confirmations = slices.Clone(a.Confirmations)
		c.Account = &a
	}
	return &c
}

func (r *Redemption) clone() *Redemption {
	c := *r
	c.Results = slices.Clone(r.Results)
	return &c
}

// tidy drops the ledger's zero balances, so that equal wallets encode alike.
func (s *State) tidy() {
	for k, v := range s.Ledger {
		if v.IsZero() {
			delete(s.Ledger, k)
		}
	}
}
