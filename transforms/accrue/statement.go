package accrue

import (
	"slices"
	"strings"

	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/shopspring/decimal"
)

// figures are a period's exact figures under the version governing it.
type figures struct {
	v          *version
	qf         *quotaFigs
	commission fig
	spiff      fig
	capped     bool
	// earned is reported: round(min(commission + spiff, cap) + override).
	earned decimal.Decimal
	r      rounder
}

func (e *Engine) figures(f *family, ps *PeriodState, scratch []bandPay) (figures, []bandPay) {
	v := f.governing(ps.Period)
	fg := figures{v: v, qf: e.quota(f, v, ps.RepID, ps.Period)}
	fg.commission, scratch = commission(&v.Tiers, ps.Measure.fig(), fg.qf, scratch)
	fg.spiff = zeroFig
	for _, a := range ps.Spiffs {
		fg.spiff = figAdd(fg.spiff, capSpiff(v, a))
	}
	pay := figAdd(fg.commission, fg.spiff)
	if v.Cap != nil && figCmp(pay, v.cap) > 0 {
		pay, fg.capped = v.cap, true
	}
	fg.r.minor = f.minor
	fg.earned = fg.r.round(figAdd(pay, ps.Override.fig()))
	return fg, scratch
}

// rounder rounds to a currency's minor unit, remembering its last few
// results: a statement rounds one figure more than once (earned is the
// commission where nothing else is earned, the override for a manager).
type rounder struct {
	minor int32
	n     int
	in    [4]fig
	out   [4]decimal.Decimal
}

func (r *rounder) round(f fig) decimal.Decimal {
	for i := range r.n {
		if same(r.in[i], f) {
			return r.out[i]
		}
	}
	o := figRound(f, r.minor)
	if r.n < len(r.in) {
		r.in[r.n], r.out[r.n] = f, o
		r.n++
	}
	return o
}

// capSpiff is a spiff's period total after its max_per_period cap (§4.4):
// a fixed spiff pays at most MaxPerPeriod × Fixed. A spiff the governing
// version no longer has keeps its total.
func capSpiff(v *version, a Amount) fig {
	for i := range v.Spiffs {
		if v.Spiffs[i].ID != a.ID {
			continue
		}
		if limit := v.spiffCaps[i]; limit.Valid && figCmp(a.Amount.fig(), figOf(limit.Decimal)) > 0 {
			return figOf(limit.Decimal)
		}
		break
	}
	return a.Amount.fig()
}

// quota is the figures of rep's quota in a period (§4.3): by_rep, else
// by_role with the rep's role on the period's last day, else the default
// (whose quota is not Valid when none applies).
func (e *Engine) quota(f *family, v *version, repID, label string) *quotaFigs {
	if v.Quota == nil {
		return &v.def
	}
	if qf, ok := v.byRep[repID]; ok {
		return qf
	}
	if len(v.byRole) > 0 {
		if r, ok := e.tables.Rep(repID, f.lastDay(label)); ok {
			if qf, ok := v.byRole[r.Role]; ok {
				return qf
			}
		}
	}
	return &v.def
}

func (e *Engine) statement(f *family, ps *PeriodState, fg *figures) Statement {
	s := Statement{
		ProgramID: f.id, ProgramVersion: fg.v.Version, Period: ps.Period, RepID: ps.RepID,
		Currency: f.currency, MeasureKind: f.measure, Quota: fg.qf.q,
		Commission: fg.r.round(fg.commission),
		Spiff:      fg.r.round(fg.spiff),
		Override:   fg.r.round(ps.Override.fig()),
		Earned:     fg.earned, Capped: fg.capped, MinorUnits: f.minor,
	}
	if s.MeasureKind == program.Amount || s.MeasureKind == program.Margin {
		s.Measure = fg.r.round(ps.Measure.fig())
	} else {
		s.Measure = ps.Measure.Decimal()
	}
	if fg.qf.q.Valid {
		s.Attainment = decimal.NewNullDecimal(divAttainment(ps.Measure.Decimal(), fg.qf.q.Decimal))
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
func divAttainment(m, q decimal.Decimal) decimal.Decimal { return divHalfEven(m, q, 4) }
