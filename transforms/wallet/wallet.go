package wallet

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/currency"
	"github.com/shopspring/decimal"
)

// Policy says when a program's earnings become payable.
type Policy string

const (
	// PolicyOnAccrual: every accrual is payable at once (the default).
	PolicyOnAccrual Policy = "on_accrual"
	// PolicyPeriodClose: accruals wait in the period's earned account
	// until the period closes (PeriodClose); accruals of a period already
	// closed are payable at once.
	PolicyPeriodClose Policy = "period_close"
)

// Fee is a convenience fee: Fixed (in the wallet's currency) plus Percent
// of the amount, the sum rounded half-even to the currency's minor unit.
type Fee struct {
	Fixed   decimal.Decimal
	Percent decimal.Decimal // 1.5 is 1.5 %
}

// Of returns the fee on amount in cur.
func (f Fee) Of(amount decimal.Decimal, cur string) decimal.Decimal {
	fee := f.Fixed.Add(amount.Mul(f.Percent).Div(decimal.NewFromInt(100)))
	return currency.Round(fee, cur)
}

// Config configures a Wallet.
type Config struct {
	// Key is the AES-256 key (32 bytes) that seals bank account numbers;
	// the fingerprint and nonce keys are derived from it. KeyID names it in
	// what it seals, so that keys can be rotated.
	Key   []byte
	KeyID string
	// Policies gives a program's payability policy by program id;
	// DefaultPolicy (PolicyOnAccrual when empty) applies to the others.
	Policies      map[string]Policy
	DefaultPolicy Policy
	// TransferFees is the convenience fee of a bank transfer, by the
	// wallet's currency; a currency not listed pays none. CatalogueFees is
	// the same for catalogue items.
	TransferFees  map[string]Fee
	CatalogueFees map[string]Fee
	// PennyDropTTL is how long a penny drop may take from registration to
	// verification (default 72h); PennyDropAttempts how many wrong amounts
	// a rep may confirm before the account locks (default 3).
	PennyDropTTL      time.Duration
	PennyDropAttempts int
	// Catalogue answers which items exist; nil means none.
	Catalogue Catalogue
}

// Wallet applies inputs to wallets. It holds no state of its own beyond its
// configuration: safe for concurrent use.
type Wallet struct {
	cfg    Config
	aead   cipher.AEAD
	nonceK []byte
	printK []byte
}

// New checks cfg and returns a Wallet.
func New(cfg Config) (*Wallet, error) {
	if len(cfg.Key) != 32 {
		return nil, fmt.Errorf("wallet: key must be 32 bytes (AES-256), got %d", len(cfg.Key))
	}
	if cfg.KeyID == "" {
		return nil, errors.New("wallet: key id is empty")
	}
	if cfg.DefaultPolicy == "" {
		cfg.DefaultPolicy = PolicyOnAccrual
	}
	for id, p := range cfg.Policies {
		if p != PolicyOnAccrual && p != PolicyPeriodClose {
			return nil, fmt.Errorf("wallet: program %s: unknown payability policy %q", id, p)
		}
	}
	if cfg.DefaultPolicy != PolicyOnAccrual && cfg.DefaultPolicy != PolicyPeriodClose {
		return nil, fmt.Errorf("wallet: unknown default payability policy %q", cfg.DefaultPolicy)
	}
	for _, fees := range []map[string]Fee{cfg.TransferFees, cfg.CatalogueFees} {
		for cur, f := range fees {
			if _, ok := currency.MinorUnits(cur); !ok {
				return nil, fmt.Errorf("wallet: fee in %q: not a currency with a minor unit", cur)
			}
			if f.Fixed.Sign() < 0 || f.Percent.Sign() < 0 || f.Percent.GreaterThanOrEqual(decimal.NewFromInt(100)) {
				return nil, fmt.Errorf("wallet: fee in %s: fixed and percent must be ≥ 0, percent below 100", cur)
			}
		}
	}
	if cfg.PennyDropTTL <= 0 {
		cfg.PennyDropTTL = 72 * time.Hour
	}
	if cfg.PennyDropAttempts <= 0 {
		cfg.PennyDropAttempts = 3
	}
	derive := func(info string) []byte {
		k, err := hkdf.Key(sha256.New, cfg.Key, nil, "accrue wallet "+info, 32)
		if err != nil {
			panic(err) // only for lengths hkdf cannot give
		}
		return k
	}
	block, err := aes.NewCipher(derive("seal"))
	if err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	return &Wallet{cfg: cfg, aead: aead, nonceK: derive("nonce"), printK: derive("fingerprint")}, nil
}

// Reason codes of inputs Apply refuses (a *pipeline.Reject: the stage
// dead-letters the record) and of requests it refuses (an Outcome).
const (
	// Inputs.
	ReasonWrongRep            = "wrong_rep"            // the input names another rep than the wallet's
	ReasonInvalidInput        = "invalid_input"        // a field is missing or malformed
	ReasonCurrencyMismatch    = "currency_mismatch"    // not the wallet's currency
	ReasonInvalidAccount      = "invalid_account"      // a registration's number or details are not valid
	ReasonRegistrationChanged = "registration_changed" // a registration id reused for other details
	ReasonUnknownRegistration = "unknown_registration" // not the rep's current registration
	ReasonUnknownPayout       = "unknown_payout"       // a result for a request that was not accepted
	ReasonPayoutConflict      = "payout_conflict"      // a result that contradicts an earlier one
	ReasonAccountLocked       = "account_locked"       // re-registering a locked account as it was

	// Requests.
	ReasonInsufficientBalance     = "insufficient_balance"
	ReasonAccountNotVerified      = "account_not_verified"
	ReasonItemUnavailable         = "item_unavailable"
	ReasonDenominationUnavailable = "denomination_unavailable"
	ReasonInvalidAmount           = "invalid_amount"
	ReasonIdempotencyConflict     = "idempotency_conflict"
)

// Apply applies in to s and returns the new state and what it produced.
// s may be nil for a rep without a wallet yet; it is never modified. On
// error (a *pipeline.Reject) the returned state is s and the output empty.
func (w *Wallet) Apply(s *State, in Input) (*State, Output, error) {
	if s == nil {
		s = &State{RepID: in.Rep()}
	}
	if in.Rep() == "" || in.Rep() != s.RepID {
		return s, Output{}, pipeline.Rejectf(ReasonWrongRep, "rep_id", "input for rep %q applied to the wallet of %q", in.Rep(), s.RepID)
	}
	n := s.Clone()
	if n.Ledger == nil {
		n.Ledger = map[string]decimal.Decimal{}
	}
	var out Output
	var changed bool
	var err error
	switch v := in.(type) {
	case *Payable:
		changed, err = w.payable(n, v, &out)
	case *PeriodClose:
		changed, err = w.close(n, v, &out)
	case *Register:
		changed, err = w.register(n, v, &out)
	case *BankResult:
		changed, err = w.bankResult(n, v, &out)
	case *Confirm:
		changed, err = w.confirm(n, v, &out)
	case *Request:
		changed, err = w.request(n, v, &out)
	case *PayoutResult:
		changed, err = w.result(n, v, &out)
	case *Tick:
		changed = w.expire(n, v.At, &out)
	default:
		err = pipeline.Rejectf(ReasonInvalidInput, "", "unknown input %T", in)
	}
	if err != nil {
		return s, Output{}, err
	}
	if !changed {
		// A replay or an input with no effect: the state given back is s
		// itself, so a stage can skip writing it.
		return s, out, nil
	}
	n.tidy()
	return n, out, nil
}

func (w *Wallet) policy(programID string) Policy {
	if p, ok := w.cfg.Policies[programID]; ok {
		return p
	}
	return w.cfg.DefaultPolicy
}

// post starts a transaction on s's ledger.
func post(s *State, kind, cause string, at time.Time) *posting {
	return &posting{bal: s.Ledger, tx: Transaction{
		ID: kind + ":" + s.RepID + ":" + cause, Kind: kind, RepID: s.RepID, Currency: s.Currency, Cause: cause, At: at,
	}}
}

// payable posts an accrual: to payable at once, or to the period's earned
// account under PolicyPeriodClose while the period is open.
func (w *Wallet) payable(s *State, p *Payable, out *Output) (bool, error) {
	if p.IdempotencyKey == "" || p.ProgramID == "" || p.Period == "" {
		return false, pipeline.Rejectf(ReasonInvalidInput, "idempotency_key", "payable record without idempotency key, program or period")
	}
	if _, seen := s.Accruals[p.IdempotencyKey]; seen {
		return false, nil
	}
	if _, ok := currency.MinorUnits(p.Currency); !ok {
		return false, pipeline.Rejectf(ReasonInvalidInput, "currency", "currency %q has no minor unit", p.Currency)
	}
	if s.Currency != "" && p.Currency != s.Currency {
		return false, pipeline.Rejectf(ReasonCurrencyMismatch, "currency", "payable in %s, wallet in %s", p.Currency, s.Currency)
	}
	if !currency.Round(p.Amount, p.Currency).Equal(p.Amount) {
		return false, pipeline.Rejectf(ReasonInvalidInput, "amount", "amount %s is finer than %s's minor unit", p.Amount, p.Currency)
	}
	s.Currency = p.Currency
	if s.Accruals == nil {
		s.Accruals = map[string]struct{}{}
	}
	s.Accruals[p.IdempotencyKey] = struct{}{}
	if p.Amount.IsZero() {
		return true, nil
	}
	tx := post(s, KindAccrual, p.IdempotencyKey, p.At)
	tx.debit(AccountExpense, p.Amount)
	_, closed := s.Closed[p.ProgramID+"/"+p.Period]
	if w.policy(p.ProgramID) == PolicyPeriodClose && !closed {
		tx.credit(EarnedAccount(p.ProgramID, p.Period), p.Amount)
	} else {
		tx.toPayable(p.Amount)
	}
	out.Transactions = append(out.Transactions, tx.tx)
	return true, nil
}

// close makes a period's earnings payable, whatever the program's policy
// (an on-accrual program has none waiting), and marks the period closed.
func (w *Wallet) close(s *State, c *PeriodClose, out *Output) (bool, error) {
	if c.ProgramID == "" || c.Period == "" {
		return false, pipeline.Rejectf(ReasonInvalidInput, "period", "period close without program or period")
	}
	key := c.ProgramID + "/" + c.Period
	if _, done := s.Closed[key]; done {
		return false, nil
	}
	if s.Closed == nil {
		s.Closed = map[string]struct{}{}
	}
	s.Closed[key] = struct{}{}
	acct := EarnedAccount(c.ProgramID, c.Period)
	if amount := s.Ledger[acct]; !amount.IsZero() {
		tx := post(s, KindClose, key, c.At)
		tx.debit(acct, amount)
		tx.toPayable(amount)
		out.Transactions = append(out.Transactions, tx.tx)
	}
	return true, nil
}
