package accrue

import (
	"slices"
	"strings"

	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/currency"
	"github.com/shopspring/decimal"
)

// figures are a period's exact figures under the version governing it.
type figures struct {
	v          *program.Program
	quota      decimal.NullDecimal
	commission decimal.Decimal
	spiff      decimal.Decimal
	capped     bool
	// earned is reported: round(min(commission + spiff, cap) + override).
	earned decimal.Decimal
}

func (e *Engine) figures(f *family, ps *PeriodState, scratch []bandPay) (figures, []bandPay) {
	v := f.governing(ps.Period)
	fg := figures{v: v, quota: e.quota(f, v, ps.RepID, ps.Period)}
	fg.commission, scratch = commission(&v.Tiers, ps.Measure, fg.quota, scratch)
	fg.spiff = decimal.Zero
	for _, a := range ps.Spiffs {
		fg.spiff = fg.spiff.Add(capSpiff(v, a))
	}
	pay := fg.commission.Add(fg.spiff)
	if v.Cap != nil && pay.Cmp(*v.Cap) > 0 {
		pay, fg.capped = *v.Cap, true
	}
	fg.earned = currency.Round(pay.Add(ps.Override), f.currency)
	return fg, scratch
}

// capSpiff is a spiff's period total after its max_per_period cap (§4.4):
// a fixed spiff pays at most MaxPerPeriod × Fixed. A spiff the governing
// version no longer has keeps its total.
func capSpiff(v *program.Program, a Amount) decimal.Decimal {
	for i := range v.Spiffs {
		sp := &v.Spiffs[i]
		if sp.ID != a.ID {
			continue
		}
		if sp.Fixed.Valid && sp.MaxPerPeriod > 0 {
			limit := sp.Fixed.Decimal.Mul(decimal.NewFromInt(int64(sp.MaxPerPeriod)))
			if a.Amount.Cmp(limit) > 0 {
				return limit
			}
		}
		break
	}
	return a.Amount
}

// quota is rep's quota in a period (§4.3): by_rep, else by_role with the
// rep's role on the period's last day, else the default; not Valid when
// none applies.
func (e *Engine) quota(f *family, v *program.Program, repID, label string) decimal.NullDecimal {
	q := v.Quota
	if q == nil {
		return decimal.NullDecimal{}
	}
	if d, ok := q.ByRep[repID]; ok {
		return decimal.NewNullDecimal(d)
	}
	if len(q.ByRole) > 0 {
		if r, ok := e.tables.Rep(repID, f.lastDay(label)); ok {
			if d, ok := q.ByRole[r.Role]; ok {
				return decimal.NewNullDecimal(d)
			}
		}
	}
	return q.Default
}

func (e *Engine) statement(f *family, ps *PeriodState, fg *figures) Statement {
	s := Statement{
		ProgramID: f.id, ProgramVersion: fg.v.Version, Period: ps.Period, RepID: ps.RepID,
		Currency: f.currency, MeasureKind: f.measure(), Measure: ps.Measure, Quota: fg.quota,
		Commission: currency.Round(fg.commission, f.currency),
		Spiff:      currency.Round(fg.spiff, f.currency),
		Override:   currency.Round(ps.Override, f.currency),
		Earned:     fg.earned, Capped: fg.capped, MinorUnits: f.minor,
	}
	if s.MeasureKind == program.Amount || s.MeasureKind == program.Margin {
		s.Measure = currency.Round(ps.Measure, f.currency)
	}
	if fg.quota.Valid {
		s.Attainment = decimal.NewNullDecimal(divAttainment(ps.Measure, fg.quota.Decimal))
	}
	return s
}

// Statement is the reported statement of ps (§5), computed now: quota from
// the reference data as of the period's last day. It is false when ps
// belongs to a program the engine does not hold.
func (e *Engine) Statement(ps *PeriodState) (Statement, bool) {
	f := e.byID[ps.ProgramID]
	if f == nil {
		return Statement{}, false
	}
	fg, _ := e.figures(f, ps, nil)
	return e.statement(f, ps, &fg), true
}

// Scanner is a Store whose values can be listed: *pipeline.Context[State],
// MemoryStore.
type Scanner interface {
	Scan(fn func(key string, v State) bool)
}

// Scan implements Scanner, in no particular order.
func (m MemoryStore) Scan(fn func(key string, v State) bool) {
	for k, v := range m {
		if !fn(k, v) {
			return
		}
	}
}

// Statements are the statements of every (program, period, rep) s holds,
// sorted by program id, period and rep id: the output of `accrue simulate`.
func (e *Engine) Statements(s Scanner) []Statement {
	var out []Statement
	s.Scan(func(_ string, v State) bool {
		if v.Period != nil {
			if st, ok := e.Statement(v.Period); ok {
				out = append(out, st)
			}
		}
		return true
	})
	slices.SortFunc(out, func(a, b Statement) int {
		if c := strings.Compare(a.ProgramID, b.ProgramID); c != 0 {
			return c
		}
		if c := strings.Compare(a.Period, b.Period); c != 0 {
			return c
		}
		return strings.Compare(a.RepID, b.RepID)
	})
	return out
}

// divAttainment is M / Q reported to 4 places, half-even (§4.7).
func divAttainment(m, q decimal.Decimal) decimal.Decimal { return currency.DivHalfEven(m, q, 4) }
