package payoutfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/transforms/currency"
)

// Payable is the part of a payouts.payable record that the files use: the
// change of what RepID is owed under ProgramID in Period, in Currency,
// negative for a clawback.
type Payable struct {
	IdempotencyKey string          `json:"idempotency_key"`
	ProgramID      string          `json:"program_id"`
	Period         string          `json:"period"`
	RepID          string          `json:"rep_id"`
	Currency       string          `json:"currency"`
	Amount         decimal.Decimal `json:"amount"`
}

// DecodePayable reads one payouts.payable record value. It refuses a
// record without a rep, period or amount, and one whose currency is not an
// ISO 4217 code with a minor unit.
func DecodePayable(value []byte) (Payable, error) {
	var p struct {
		Payable
		Amount *decimal.Decimal `json:"amount"`
	}
	if err := json.Unmarshal(value, &p); err != nil {
		return Payable{}, fmt.Errorf("not a payable record: %w", err)
	}
	switch {
	case p.RepID == "":
		return Payable{}, errors.New("payable record without rep_id")
	case p.Period == "":
		return Payable{}, errors.New("payable record without period")
	case p.Amount == nil:
		return Payable{}, errors.New("payable record without amount")
	}
	if _, ok := currency.MinorUnits(p.Currency); !ok {
		return Payable{}, fmt.Errorf("payable record with currency %q: not an ISO 4217 code with a minor unit", p.Currency)
	}
	p.Payable.Amount = *p.Amount
	return p.Payable, nil
}

// Line is one rep's net in one currency for the period.
type Line struct {
	RepID    string
	Currency string
	Amount   decimal.Decimal
}

// Totals are a period's payable amounts, summed per rep and currency.
// The zero value is empty and ready; it is not safe for concurrent use.
type Totals struct {
	Period string
	sums   map[lineKey]decimal.Decimal
}

type lineKey struct{ rep, currency string }

// Add adds p to the totals; it is false (and adds nothing) when p belongs
// to another period.
func (t *Totals) Add(p Payable) bool {
	if p.Period != t.Period {
		return false
	}
	if t.sums == nil {
		t.sums = map[lineKey]decimal.Decimal{}
	}
	k := lineKey{p.RepID, p.Currency}
	t.sums[k] = t.sums[k].Add(p.Amount)
	return true
}

// Lines returns every rep's net, zero and negative ones included, ordered
// by currency and then rep.
func (t *Totals) Lines() []Line {
	out := make([]Line, 0, len(t.sums))
	for k, v := range t.sums {
		out = append(out, Line{RepID: k.rep, Currency: k.currency, Amount: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Currency != out[j].Currency {
			return out[i].Currency < out[j].Currency
		}
		return out[i].RepID < out[j].RepID
	})
	return out
}

// CurrencyTotal is the sum of a currency's lines.
type CurrencyTotal struct {
	Currency string          `json:"currency"`
	Reps     int             `json:"reps"`
	Amount   decimal.Decimal `json:"amount"`
}

// ByCurrency sums lines per currency, in currency order.
func ByCurrency(lines []Line) []CurrencyTotal {
	idx := map[string]int{}
	var out []CurrencyTotal
	for _, l := range lines {
		i, ok := idx[l.Currency]
		if !ok {
			i = len(out)
			idx[l.Currency] = i
			out = append(out, CurrencyTotal{Currency: l.Currency})
		}
		out[i].Reps++
		out[i].Amount = out[i].Amount.Add(l.Amount)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	return out
}

// MarshalJSON writes the amount with its currency's minor unit, as a
// string.
func (c CurrencyTotal) MarshalJSON() ([]byte, error) {
	type plain CurrencyTotal
	return json.Marshal(struct {
		plain
		Amount string `json:"amount"`
	}{plain(c), FormatAmount(c.Amount, c.Currency)})
}

// FormatAmount writes d with its currency's minor unit: amounts on the
// topic never carry more, so this only pads; one that did would be written
// with every digit rather than rounded.
func FormatAmount(d decimal.Decimal, code string) string {
	return format(d, code)
}

func format(d decimal.Decimal, code string) string {
	n, ok := currency.MinorUnits(code)
	if !ok || d.Exponent() < -n {
		return d.String()
	}
	return d.StringFixed(n)
}
