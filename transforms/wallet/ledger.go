package wallet

import (
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// The accounts of a rep's ledger. Balances are kept as credits minus
// debits: the accounts the company owes the rep (earned, payable,
// reserved) and what it has paid out or charged (paid, fees) have credit
// balances; Expense, the company's incentive expense that every earning is
// drawn from, and Receivable, what a clawback left the rep owing, have
// debit balances. The balances of a ledger always add up to zero.
const (
	// AccountExpense is the company's side of every earning and clawback.
	AccountExpense = "expense"
	// AccountEarnedPrefix starts the accounts of earnings not payable yet,
	// one per program and period: "earned/<program>/<period>".
	AccountEarnedPrefix = "earned/"
	// AccountPayable holds what the rep may redeem: the available balance.
	AccountPayable = "payable"
	// AccountReserved holds what accepted requests set aside until their
	// payout result arrives.
	AccountReserved = "reserved"
	// AccountPaid holds what was paid out.
	AccountPaid = "paid"
	// AccountFees holds the convenience fees charged on payouts.
	AccountFees = "fees"
	// AccountReceivable holds what clawbacks took beyond the payable
	// balance: the rep owes it, and later credits to payable repay it first.
	AccountReceivable = "receivable"
)

// EarnedAccount is the account of a program's earnings in a period that are
// not payable yet.
func EarnedAccount(programID, period string) string {
	return AccountEarnedPrefix + programID + "/" + period
}

// Transaction kinds.
const (
	KindAccrual = "accrual" // a payable record: an earning or a clawback
	KindClose   = "close"   // a period's earnings become payable
	KindReserve = "reserve" // an accepted request sets its amount and fee aside
	KindSettle  = "settle"  // a payout was made: reserved → paid and fees
	KindRelease = "release" // a payout failed: reserved → payable
	KindReturn  = "return"  // a paid payout came back: paid and fees → payable
)

// Leg is one line of a transaction: a debit or a credit of one account
// (exactly one of Debit and Credit is not zero, and neither is negative).
type Leg struct {
	Account string
	Debit   decimal.Decimal
	Credit  decimal.Decimal
}

// Transaction is one balanced posting to a rep's ledger: its debits add
// up to its credits. Its ID is derived from its cause, so the same cause
// never posts twice.
type Transaction struct {
	ID       string
	Kind     string
	RepID    string
	Currency string
	// Cause is the idempotency key of what caused it: an accrual's id, a
	// request's key, a payout result's id, or program/period for a close.
	Cause string
	At    time.Time
	Legs  []Leg
}

// Balanced reports whether t's debits add up to its credits, with no
// negative or two-sided leg.
func (t *Transaction) Balanced() bool {
	var d, c decimal.Decimal
	for _, l := range t.Legs {
		if l.Debit.Sign() < 0 || l.Credit.Sign() < 0 || (!l.Debit.IsZero() && !l.Credit.IsZero()) {
			return false
		}
		d, c = d.Add(l.Debit), c.Add(l.Credit)
	}
	return d.Equal(c)
}

// posting builds a transaction and applies it to balances as it goes.
type posting struct {
	tx  Transaction
	bal map[string]decimal.Decimal
}

func (p *posting) debit(account string, amount decimal.Decimal) {
	switch amount.Sign() {
	case 0:
		return
	case -1:
		p.credit(account, amount.Neg())
		return
	}
	p.tx.Legs = append(p.tx.Legs, Leg{Account: account, Debit: amount})
	p.bal[account] = p.bal[account].Sub(amount)
}

func (p *posting) credit(account string, amount decimal.Decimal) {
	switch amount.Sign() {
	case 0:
		return
	case -1:
		p.debit(account, amount.Neg())
		return
	}
	p.tx.Legs = append(p.tx.Legs, Leg{Account: account, Credit: amount})
	p.bal[account] = p.bal[account].Add(amount)
}

// toPayable credits amount to the payable balance, repaying the receivable
// first; a negative amount debits payable down to zero and leaves the rest
// owed on the receivable. It is the only way money reaches or leaves
// payable outside a request, so payable never goes negative.
func (p *posting) toPayable(amount decimal.Decimal) {
	if amount.Sign() >= 0 {
		owed := p.bal[AccountReceivable].Neg()
		repay := decimal.Min(amount, decimal.Max(owed, decimal.Zero))
		p.credit(AccountReceivable, repay)
		p.credit(AccountPayable, amount.Sub(repay))
		return
	}
	take := amount.Neg()
	avail := decimal.Max(p.bal[AccountPayable], decimal.Zero)
	fromPayable := decimal.Min(take, avail)
	p.debit(AccountPayable, fromPayable)
	p.debit(AccountReceivable, take.Sub(fromPayable))
}

// Balances is a summary of a rep's ledger, every figure in the wallet's
// currency and as the rep sees it (what is owed to the rep is positive,
// except Receivable, which the rep owes).
type Balances struct {
	// Earned is what is earned but not payable yet, over every program and
	// period (it can be negative while a period's clawbacks exceed its
	// earnings).
	Earned decimal.Decimal
	// Available is the payable balance: what a request can redeem.
	Available decimal.Decimal
	// Reserved is set aside for accepted requests awaiting their result.
	Reserved decimal.Decimal
	// Paid is what was paid out, fees excluded.
	Paid decimal.Decimal
	// Fees is the convenience fees charged.
	Fees decimal.Decimal
	// Receivable is what clawbacks took beyond the payable balance, to be
	// recovered from later earnings.
	Receivable decimal.Decimal
	// Expense is the company's incentive expense for the rep.
	Expense decimal.Decimal
}

// Balances sums s's ledger.
func (s *State) Balances() Balances {
	var b Balances
	for acct, v := range s.Ledger {
		switch {
		case strings.HasPrefix(acct, AccountEarnedPrefix):
			b.Earned = b.Earned.Add(v)
		case acct == AccountPayable:
			b.Available = v
		case acct == AccountReserved:
			b.Reserved = v
		case acct == AccountPaid:
			b.Paid = v
		case acct == AccountFees:
			b.Fees = v
		case acct == AccountReceivable:
			b.Receivable = v.Neg()
		case acct == AccountExpense:
			b.Expense = v.Neg()
		}
	}
	return b
}
