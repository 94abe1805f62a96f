package wallet

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/currency"
	"github.com/shopspring/decimal"
)

// digest identifies what a request asks for, to tell a retry of it from
// another request that reuses its key.
func digest(r *Request) string {
	h := sha256.New()
	for _, p := range []string{r.Type, r.Amount.String(), strconv.FormatBool(r.All), r.Currency,
		r.ItemID, r.Face.String(), r.FaceCurrency} {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (s *State) outcome(red *Redemption, replayed bool) Outcome {
	return Outcome{
		Key: red.Key, RepID: s.RepID, Type: red.Type, Status: red.Status, Reason: red.Reason,
		Amount: red.Amount, Fee: red.Fee, Currency: red.Currency, Available: s.Ledger[AccountPayable],
		Replayed: replayed, At: red.At,
	}
}

// request decides a redemption request: accepted (reserved, with a payout
// instruction) or refused with a reason. Either way the outcome is kept
// under the request's key, and the same key again answers it.
func (w *Wallet) request(s *State, r *Request, out *Output) (bool, error) {
	if r.Key == "" {
		return false, pipeline.Rejectf(ReasonInvalidInput, "key", "request without idempotency key")
	}
	if r.Type != RequestBankTransfer && r.Type != RequestCatalogue {
		return false, pipeline.Rejectf(ReasonInvalidInput, "type", "request type %q is neither %s nor %s", r.Type, RequestBankTransfer, RequestCatalogue)
	}
	d := digest(r)
	if prev, ok := s.Requests[r.Key]; ok {
		o := s.outcome(prev, true)
		if prev.Digest != d {
			// The first request keeps its outcome; this one is refused
			// without being remembered.
			o.Type, o.Status, o.Reason = r.Type, OutcomeRefused, ReasonIdempotencyConflict
			o.Amount, o.Fee, o.Replayed = decimal.Zero, decimal.Zero, false
		}
		out.Outcomes = append(out.Outcomes, o)
		return false, nil
	}
	w.expire(s, r.At, out)
	red := &Redemption{Key: r.Key, Digest: d, Type: r.Type, Currency: r.Currency, At: r.At}
	if s.Requests == nil {
		s.Requests = map[string]*Redemption{}
	}
	s.Requests[r.Key] = red
	reason, inst := w.decide(s, r, red)
	if reason != "" {
		red.Status, red.Reason, red.Amount, red.Fee = OutcomeRefused, reason, decimal.Zero, decimal.Zero
		out.Outcomes = append(out.Outcomes, s.outcome(red, false))
		return true, nil
	}
	red.Status = OutcomeAccepted
	tx := post(s, KindReserve, r.Key, r.At)
	total := red.Amount.Add(red.Fee)
	tx.debit(AccountPayable, total)
	tx.credit(AccountReserved, total)
	out.Transactions = append(out.Transactions, tx.tx)
	out.Outcomes = append(out.Outcomes, s.outcome(red, false))
	out.Instructions = append(out.Instructions, inst)
	return true, nil
}

// decide checks r against the wallet and fills red's amount and fee; it
// returns the reason of a refusal, or the payout instruction.
func (w *Wallet) decide(s *State, r *Request, red *Redemption) (string, PayoutInstruction) {
	var none PayoutInstruction
	cur := s.Currency
	if cur == "" || r.Currency != cur {
		// A wallet without a currency has never been credited.
		if cur == "" {
			return ReasonInsufficientBalance, none
		}
		return ReasonCurrencyMismatch, none
	}
	avail := s.Ledger[AccountPayable]
	inst := PayoutInstruction{IdempotencyKey: r.Key, RepID: s.RepID, Type: r.Type, Currency: cur, At: r.At}
	switch r.Type {
	case RequestBankTransfer:
		if !r.All && (r.Amount.Sign() <= 0 || !currency.Round(r.Amount, cur).Equal(r.Amount)) {
			return ReasonInvalidAmount, none
		}
		a := s.Account
		if a == nil || a.Status != StatusVerified {
			return ReasonAccountNotVerified, none
		}
		if a.Currency != cur {
			return ReasonCurrencyMismatch, none
		}
		fee := w.cfg.TransferFees[cur]
		red.Amount = r.Amount
		if r.All {
			red.Amount = allOf(avail, fee, cur)
			if red.Amount.Sign() <= 0 {
				return ReasonInsufficientBalance, none
			}
		}
		red.Fee = fee.Of(red.Amount, cur)
		red.RegistrationID = a.RegistrationID
		inst.RegistrationID, inst.Holder, inst.BankCode, inst.Country = a.RegistrationID, a.Holder, a.BankCode, a.Country
		inst.AccountMask, inst.KeyID, inst.SealedAccount = a.Mask, a.KeyID, slices.Clone(a.Sealed)
	case RequestCatalogue:
		var it Item
		ok := w.cfg.Catalogue != nil
		if ok {
			it, ok = w.cfg.Catalogue.Item(r.ItemID)
		}
		if !ok || it.Withdrawn || !slices.Contains(it.Countries, r.Country) {
			return ReasonItemUnavailable, none
		}
		price, ok := it.price(r.Face, r.FaceCurrency, cur)
		if !ok {
			return ReasonDenominationUnavailable, none
		}
		red.Amount = price
		red.Fee = w.cfg.CatalogueFees[cur].Of(price, cur)
		red.ItemID, red.Face, red.FaceCurrency = it.ID, r.Face, r.FaceCurrency
		inst.ItemID, inst.ItemName, inst.Face, inst.FaceCurrency = it.ID, it.Name, r.Face, r.FaceCurrency
	}
	if red.Amount.Add(red.Fee).GreaterThan(avail) {
		return ReasonInsufficientBalance, none
	}
	inst.Amount, inst.Fee = red.Amount, red.Fee
	return "", inst
}

// allOf returns the largest amount a, in whole minor units of cur, with a
// plus its fee within avail; zero or less when none is.
func allOf(avail decimal.Decimal, fee Fee, cur string) decimal.Decimal {
	places, _ := currency.MinorUnits(cur)
	unit := decimal.New(1, -places)
	hundred := decimal.NewFromInt(100)
	a := avail.Sub(fee.Fixed).Mul(hundred).Div(hundred.Add(fee.Percent)).RoundFloor(places)
	fits := func(a decimal.Decimal) bool { return !a.Add(fee.Of(a, cur)).GreaterThan(avail) }
	for a.Sign() > 0 && !fits(a) {
		a = a.Sub(unit)
	}
	for fits(a.Add(unit)) {
		a = a.Add(unit)
	}
	return a
}

// result applies a payout service's result to an accepted request: paid
// settles the reservation, failed releases it, returned reverses a
// settlement. A result id seen before changes nothing.
func (w *Wallet) result(s *State, r *PayoutResult, out *Output) (bool, error) {
	if r.ID == "" {
		return false, pipeline.Rejectf(ReasonInvalidInput, "id", "payout result without id")
	}
	if r.Status != ResultPaid && r.Status != ResultFailed && r.Status != ResultReturned {
		return false, pipeline.Rejectf(ReasonInvalidInput, "status", "payout result status %q", r.Status)
	}
	red := s.Requests[r.IdempotencyKey]
	if red == nil || red.Status == OutcomeRefused {
		return false, pipeline.Rejectf(ReasonUnknownPayout, "idempotency_key", "no accepted request %q", r.IdempotencyKey)
	}
	if slices.Contains(red.Results, r.ID) {
		return false, nil
	}
	total := red.Amount.Add(red.Fee)
	var tx *posting
	switch {
	case red.Status == OutcomeAccepted && r.Status == ResultPaid:
		tx = post(s, KindSettle, r.ID, r.At)
		tx.debit(AccountReserved, total)
		tx.credit(AccountPaid, red.Amount)
		tx.credit(AccountFees, red.Fee)
		red.Status = OutcomePaid
	case red.Status == OutcomeAccepted && r.Status == ResultFailed:
		tx = post(s, KindRelease, r.ID, r.At)
		tx.debit(AccountReserved, total)
		tx.toPayable(total)
		red.Status, red.Reason = OutcomeReleased, r.Reason
	case red.Status == OutcomePaid && r.Status == ResultReturned:
		tx = post(s, KindReturn, r.ID, r.At)
		tx.debit(AccountPaid, red.Amount)
		tx.debit(AccountFees, red.Fee)
		tx.toPayable(total)
		red.Status, red.Reason = OutcomeReturned, r.Reason
	case red.Status == OutcomePaid && r.Status == ResultPaid,
		red.Status == OutcomeReleased && r.Status == ResultFailed,
		red.Status == OutcomeReturned && r.Status == ResultReturned:
		// The same news under another result id: remembered, not posted.
		red.Results = append(red.Results, r.ID)
		return true, nil
	default:
		return false, pipeline.Rejectf(ReasonPayoutConflict, "status", "result %s %q for request %s that is %s", r.ID, r.Status, red.Key, red.Status)
	}
	red.Results = append(red.Results, r.ID)
	out.Transactions = append(out.Transactions, tx.tx)
	o := s.outcome(red, false)
	o.At = r.At
	out.Outcomes = append(out.Outcomes, o)
	return true, nil
}
