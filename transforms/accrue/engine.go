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
}

// family is the versions of one program id.
type family struct {
	id       string
	versions []*program.Program // by version
	loc      *time.Location
	period   program.Period
	currency string
	minor    int32
	// exprs is true when some version has a filter or a spiff condition,
	// so events need an expression environment.
	exprs bool
	// sorted holds each version's attainment_crossed thresholds in
	// ascending order, the order in which one event fires several.
	sorted map[*program.Program][]decimal.Decimal
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
			f = &family{id: p.ID, loc: loc, period: p.Period, currency: p.Currency, minor: minor}
			e.byID[p.ID] = f
			e.families = append(e.families, f)
		} else {
			switch {
			case p.Currency != f.currency:
				problems = append(problems, fmt.Sprintf("%s v%d: currency %s differs from another version's %s", p.ID, p.Version, p.Currency, f.currency))
			case p.Period != f.period:
				problems = append(problems, fmt.Sprintf("%s v%d: period %s differs from another version's %s", p.ID, p.Version, p.Period, f.period))
			case p.Credit.Measure != f.versions[0].Credit.Measure:
				problems = append(problems, fmt.Sprintf("%s v%d: measure %s differs from another version's %s", p.ID, p.Version, p.Credit.Measure, f.versions[0].Credit.Measure))
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
		f.sorted = make(map[*program.Program][]decimal.Decimal, len(f.versions))
		for _, v := range f.versions {
			ts := slices.Clone(v.Nudges.AttainmentCrossed)
			slices.SortFunc(ts, decimal.Decimal.Cmp)
			f.sorted[v] = ts
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
func (f *family) inForce(day reference.Date) *program.Program {
	for i := len(f.versions) - 1; i >= 0; i-- {
		if v := f.versions[i]; v.InEffect(day) {
			return v
		}
	}
	return nil
}

// governing is the version whose tiers, quota, cap, nudges and badges a
// period's figures are computed with: the version in force on the last day
// of the period on which some version is in force. Versions usually change
// at period boundaries, where this is simply the period's own version.
func (f *family) governing(label string) *program.Program {
	if len(f.versions) == 1 {
		return f.versions[0]
	}
	first, last, err := periodBounds(f.period, label)
	if err != nil {
		return f.versions[len(f.versions)-1]
	}
	var best *program.Program
	var bestDay reference.Date
	for _, v := range f.versions {
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
		return f.versions[len(f.versions)-1]
	}
	return best
}

// thresholds are v's attainment_crossed thresholds, ascending.
func (f *family) thresholds(v *program.Program) []decimal.Decimal { return f.sorted[v] }

// lastDay is the last local date of the period labelled label.
func (f *family) lastDay(label string) reference.Date {
	_, last, err := periodBounds(f.period, label)
	if err != nil {
		return reference.Forever
	}
	return last
}
