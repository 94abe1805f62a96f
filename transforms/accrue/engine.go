package accrue

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/currency"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/shopspring/decimal"
)

// Reason codes of the engine's rejects (pipeline.Reject.Reason).
const (
	// ReasonFXRateMissing: no rate converts the event's currency into a
	// program's currency on the event's date (§2).
	ReasonFXRateMissing = "fx_rate_missing"
	// ReasonReturnExceedsOriginal: the returns of a sale would add up to
	// more than its amount (§4.2).
	ReasonReturnExceedsOriginal = "return_exceeds_original"
	// ReasonAlreadyCancelled: a return or cancel of a sale that was
	// cancelled before (§4.2).
	ReasonAlreadyCancelled = "already_cancelled"
	// ReasonUnknownOriginal: a return or cancel of a sale the engine never
	// credited to the recipient (§4.2).
	ReasonUnknownOriginal = link.ReasonUnknownOriginal
	// ReasonUnknownRep: the recipient is not in the reference data on the
	// event's date (§4.2).
	ReasonUnknownRep = link.ReasonUnknownRep
	// ReasonReturnCurrency: a return in another currency than its sale.
	ReasonReturnCurrency = "return_currency_mismatch"
	// ReasonExpressionFailed: a program's credit.filter or a spiff's when
	// could not be evaluated on the event.
	ReasonExpressionFailed = "expression_failed"
	// ReasonUnknownProgram: an override record names a program the engine
	// does not hold.
	ReasonUnknownProgram = "unknown_program"
	// ReasonInvalidInput: an input the engine cannot read (no event, a
	// share that is not positive).
	ReasonInvalidInput = "invalid_input"
)

// ClawbackWindowExpired is the count kept for a return or cancel that came
// later than its program's clawback window and so changed nothing there
// (Output.Expired); it is not a reject.
const ClawbackWindowExpired = "clawback_window_expired"

// Engine computes accruals (PROGRAMS.md §4) for a set of programs against
// reference data. It holds no state of its own: every figure lives in the
// Store passed to each call, so one Engine serves every partition of a
// stage, and simulate runs the very same code against a MemoryStore.
//
// An Engine is safe for concurrent use as long as each Store is used by one
// goroutine at a time.
type Engine struct {
	tables   *reference.Tables
	families []*family // by program id
	byID     map[string]*family
	// fields are the maps expressions see of reference rows.
	fields rowFields
	// deferStatements leaves each snapshot's statement to be computed
	// when it is written (Snapshot.resolve): the stage writes only the
	// last of a batch.
	deferStatements bool
	// timers is true when some program has time-based nudges.
	timers bool
}

// family is the versions of one program id.
type family struct {
	id       string
	versions []*program.Program // by version
	// derived holds what the engine derives from each of versions, in
	// the same order.
	derived  []*version
	loc      *time.Location
	period   program.Period
	currency string
	minor    int32
	measure  program.Measure
	// bands is the most bands a version has.
	bands int
	// exprs is true when some version has a filter or a spiff condition,
	// so events need an expression environment.
	exprs bool
	// inactivity is true when some version has inactivity nudges, so
	// periods keep their last sale; timers when some version has a
	// time-based nudge (timers.go).
	inactivity, timers bool
}

// version is one version of a program with what the engine derives from
// it once rather than for every input: everything that depends only on
// the program and a quota.
type version struct {
	*program.Program
	// window is the clawback window in days, -1 without one.
	window int
	// pays is true when the version pays overrides (§4.6); top is the
	// highest level it pays.
	pays bool
	top  int
	// bandKeys are the bands' lower bounds as fired near_next_tier
	// nudges are recorded (Decimal.String).
	bandKeys []string
	// thresholds are the attainment_crossed thresholds in ascending
	// order, the order in which one event fires several.
	thresholds []threshold
	// spiffCaps are each spiff's max_per_period × fixed, by index; not
	// Valid without a cap.
	spiffCaps []decimal.NullDecimal
	// cap is the program's cap, when it has one.
	cap fig
	// def holds the figures of the default quota (none, where there is
	// no quota section or default); byRep and byRole those of the
	// program's other quotas.
	def    quotaFigs
	byRep  map[string]*quotaFigs
	byRole map[string]*quotaFigs
}

// threshold is an attainment_crossed threshold and the key it is recorded
// under once fired (Decimal.String).
type threshold struct {
	value decimal.Decimal
	key   string
}

// quotaFigs are the figures of a version under one quota Q (or none).
type quotaFigs struct {
	q decimal.NullDecimal
	// ok is false when the bands are in fractions of quota and there is
	// none: they pay nothing and have no bounds.
	ok bool
	// lower are the bands' lower bounds L in the measure's unit (§4.3),
	// rates their rates.
	lower, rates []fig
	// full is what marginal band i pays once M is above the next band's
	// bound, and below the total of the bands under band i so paid.
	full, below []fig
	// crossAt are the thresholds × Q, in thresholds order.
	crossAt []decimal.Decimal
	// near is the gap to the next band within which near_next_tier
	// fires, in the measure's unit; not Valid when not configured.
	near decimal.NullDecimal
	// badgeAt are attainment badges' at_least × Q, by badge index.
	badgeAt []decimal.Decimal
}

func newVersion(p *program.Program) *version {
	v := &version{Program: p, window: -1}
	if p.Clawback != nil {
		v.window = p.Clawback.WindowDays
	}
	for _, o := range p.Overrides {
		v.top = max(v.top, o.Level)
	}
	v.pays = len(p.Overrides) > 0 && (p.Credit.Measure == program.Amount || p.Credit.Measure == program.Margin)
	for _, b := range p.Tiers.Bands {
		v.bandKeys = append(v.bandKeys, b.From.String())
	}
	ts := slices.Clone(p.Nudges.AttainmentCrossed)
	slices.SortFunc(ts, decimal.Decimal.Cmp)
	for _, th := range ts {
		v.thresholds = append(v.thresholds, threshold{value: th, key: th.String()})
	}
	for _, sp := range p.Spiffs {
		var c decimal.NullDecimal
		if sp.Fixed.Valid && sp.MaxPerPeriod > 0 {
			c = decimal.NewNullDecimal(sp.Fixed.Decimal.Mul(decimal.NewFromInt(int64(sp.MaxPerPeriod))))
		}
		v.spiffCaps = append(v.spiffCaps, c)
	}
	if p.Cap != nil {
		v.cap = figOf(*p.Cap)
	}
	if q := p.Quota; q != nil {
		v.def = v.figs(q.Default)
		v.byRep = make(map[string]*quotaFigs, len(q.ByRep))
		for rep, d := range q.ByRep {
			f := v.figs(decimal.NewNullDecimal(d))
			v.byRep[rep] = &f
		}
		v.byRole = make(map[string]*quotaFigs, len(q.ByRole))
		for role, d := range q.ByRole {
			f := v.figs(decimal.NewNullDecimal(d))
			v.byRole[role] = &f
		}
	} else {
		v.def = v.figs(decimal.NullDecimal{})
	}
	return v
}

// figs computes the version's figures under quota q, with the very
// operations the contract's formulas name, so that they are the figures
// computing them for each input would give.
func (v *version) figs(q decimal.NullDecimal) quotaFigs {
	t := &v.Tiers
	f := quotaFigs{q: q, ok: t.Basis == program.MeasureBase || q.Valid}
	if f.ok {
		var lower []decimal.Decimal
		for _, b := range t.Bands {
			l := b.From
			if t.Basis != program.MeasureBase {
				l = b.From.Mul(q.Decimal)
			}
			lower = append(lower, l)
			f.lower = append(f.lower, figOf(l))
			f.rates = append(f.rates, figOf(b.Rate))
		}
		total := decimal.Zero
		for i, b := range t.Bands {
			f.below = append(f.below, figOf(total))
			if i+1 < len(t.Bands) {
				pay := lower[i+1].Sub(lower[i]).Mul(b.Rate)
				f.full = append(f.full, figOf(pay))
				total = total.Add(pay)
			}
		}
	}
	if q.Valid {
		for _, th := range v.thresholds {
			f.crossAt = append(f.crossAt, th.value.Mul(q.Decimal))
		}
		for _, b := range v.Badges {
			var at decimal.Decimal
			if b.Metric == program.MetricAttainment {
				at = b.AtLeast.Mul(q.Decimal)
			}
			f.badgeAt = append(f.badgeAt, at)
		}
	}
	if w := v.Nudges.NearNextTierWithin; w.Valid && f.ok {
		f.near = w
		if t.Basis != program.MeasureBase {
			f.near = decimal.NewNullDecimal(w.Decimal.Mul(q.Decimal))
		}
	}
	return f
}

// ErrPrograms wraps the problems New finds in a set of programs.
var ErrPrograms = errors.New("accrue: invalid program set")

// New builds an Engine for programs, reading reps, products and FX rates
// from tables (which may change while the Engine is in use: lookups are as
// of each event). Several versions of one program id may be given; for
// each event the version in force on its local date applies (the highest
// version where effective dates overlap). Versions of one id must share
// currency, time zone, period kind and measure, since they add up into
// the same periods. New does not modify the programs.
func New(programs []*program.Program, tables *reference.Tables) (*Engine, error) {
	if tables == nil {
		tables = &reference.Tables{}
	}
	e := &Engine{tables: tables, byID: map[string]*family{}}
	var problems []string
	for _, p := range programs {
		if p == nil {
			continue
		}
		f := e.byID[p.ID]
		if f == nil {
			minor, ok := currency.MinorUnits(p.Currency)
			if !ok {
				problems = append(problems, fmt.Sprintf("%s v%d: currency %q has no minor unit", p.ID, p.Version, p.Currency))
				continue
			}
			loc := p.Location
			if loc == nil {
				loc = time.UTC
			}
			f = &family{id: p.ID, loc: loc, period: p.Period, currency: p.Currency, minor: minor, measure: p.Credit.Measure}
			e.byID[p.ID] = f
			e.families = append(e.families, f)
		} else {
			switch {
			case p.Currency != f.currency:
				problems = append(problems, fmt.Sprintf("%s v%d: currency %s differs from another version's %s", p.ID, p.Version, p.Currency, f.currency))
			case p.Period != f.period:
				problems = append(problems, fmt.Sprintf("%s v%d: period %s differs from another version's %s", p.ID, p.Version, p.Period, f.period))
			case p.Credit.Measure != f.measure:
				problems = append(problems, fmt.Sprintf("%s v%d: measure %s differs from another version's %s", p.ID, p.Version, p.Credit.Measure, f.measure))
			case locName(p.Location) != f.loc.String():
				problems = append(problems, fmt.Sprintf("%s v%d: timezone %s differs from another version's %s", p.ID, p.Version, locName(p.Location), f.loc))
			}
		}
		for _, v := range f.versions {
			if v.Version == p.Version {
				problems = append(problems, fmt.Sprintf("%s v%d: given twice", p.ID, p.Version))
			}
		}
		switch p.Period {
		case program.Month, program.Quarter, program.Year:
		default:
			problems = append(problems, fmt.Sprintf("%s v%d: period %q", p.ID, p.Version, p.Period))
		}
		f.versions = append(f.versions, p)
		f.bands = max(f.bands, len(p.Tiers.Bands))
		if p.Nudges.InactivityDays > 0 {
			f.inactivity, f.timers, e.timers = true, true, true
		}
		if p.Nudges.PeriodEndingDaysBefore > 0 {
			f.timers, e.timers = true, true
		}
		if p.Credit.Filter != nil {
			f.exprs = true
		}
		for _, s := range p.Spiffs {
			if s.When != nil {
				f.exprs = true
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrPrograms, strings.Join(problems, "; "))
	}
	for _, f := range e.families {
		slices.SortFunc(f.versions, func(a, b *program.Program) int { return a.Version - b.Version })
		for _, v := range f.versions {
			f.derived = append(f.derived, newVersion(v))
		}
	}
	slices.SortFunc(e.families, func(a, b *family) int { return strings.Compare(a.id, b.id) })
	return e, nil
}

func locName(l *time.Location) string {
	if l == nil {
		return time.UTC.String()
	}
	return l.String()
}

// Programs lists the program ids the engine computes, in order.
func (e *Engine) Programs() []string {
	ids := make([]string, len(e.families))
	for i, f := range e.families {
		ids[i] = f.id
	}
	return ids
}

// inForce is the version in force on the local date day: the highest
// version whose effective dates hold it (as program.Catalog decides), or
// nil.
func (f *family) inForce(day reference.Date) *version {
	for i := len(f.derived) - 1; i >= 0; i-- {
		if v := f.derived[i]; v.InEffect(day) {
			return v
		}
	}
	return nil
}

// governing is the version whose tiers, quota, cap, nudges and badges a
// period's figures are computed with: the version in force on the last day
// of the period on which some version is in force. Versions usually change
// at period boundaries, where this is simply the period's own version.
func (f *family) governing(label string) *version {
	if len(f.derived) == 1 {
		return f.derived[0]
	}
	first, last, err := periodBounds(f.period, label)
	if err != nil {
		return f.derived[len(f.derived)-1]
	}
	var best *version
	var bestDay reference.Date
	for _, v := range f.derived {
		start, end := max(v.EffectiveFrom, first), last
		if v.HasEnd {
			end = min(v.EffectiveTo, last)
		}
		if start > end {
			continue
		}
		if best == nil || end > bestDay || (end == bestDay && v.Version > best.Version) {
			best, bestDay = v, end
		}
	}
	if best == nil {
		return f.derived[len(f.derived)-1]
	}
	return best
}

// lastDay is the last local date of the period labelled label.
func (f *family) lastDay(label string) reference.Date {
	_, last, err := periodBounds(f.period, label)
	if err != nil {
		return reference.Forever
	}
	return last
}
