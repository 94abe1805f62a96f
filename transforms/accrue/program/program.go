// Package program is the incentive program (plan) document of PROGRAMS.md §3:
// its typed form, strict parsing with every problem's line and column, and
// its compiled expressions.
//
// A Program is immutable once parsed; the accrual engine and `accrue
// simulate` share it, and it is safe for concurrent use.
package program

import (
	"time"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/expr-lang/expr/vm"
	"github.com/shopspring/decimal"
)

// Period is how a program cuts time: month, quarter or year.
type Period string

// The periods.
const (
	Month   Period = "month"
	Quarter Period = "quarter"
	Year    Period = "year"
)

// Measure is what a program counts.
type Measure string

// The measures.
const (
	Amount   Measure = "amount"
	Margin   Measure = "margin"
	Quantity Measure = "quantity"
	Count    Measure = "count"
)

// Basis is what tier bands are written in: fractions of quota (attainment)
// or the measure itself.
type Basis string

// The bases.
const (
	Attainment  Basis = "attainment"
	MeasureBase Basis = "measure"
)

// Method is how tiers pay: each band its own slice (marginal), or the whole
// measure at the highest band reached (retroactive).
type Method string

// The methods.
const (
	Marginal    Method = "marginal"
	Retroactive Method = "retroactive"
)

// Program is one version of an incentive program.
type Program struct {
	ID       string
	Version  int
	Name     string
	Currency string // payout currency, ISO 4217
	// Location is the time zone periods and effective dates are cut in;
	// TimezoneName is its name as written.
	Location     *time.Location
	TimezoneName string
	Period       Period
	// EffectiveFrom and EffectiveTo are inclusive local dates in Location
	// (days since 1970-01-01 of the local calendar). HasEnd is false
	// when the program has no effective_to.
	EffectiveFrom reference.Date
	EffectiveTo   reference.Date
	HasEnd        bool

	Participants Participants
	Credit       Credit
	Quota        *Quota // nil without a quota section
	Tiers        Tiers
	Cap          *decimal.Decimal // nil without a cap
	Spiffs       []Spiff
	Clawback     *Clawback // nil: every return and cancel reverses
	Overrides    []Override
	Nudges       Nudges
	Badges       []Badge

	// Document is the document as written; Digest is the hex SHA-256 of
	// it, which tells two publications of one id and version apart.
	Document []byte
	Digest   string
}

// Participants filters who earns; both lists are filters, AND-ed, and an
// empty list lets everyone through.
type Participants struct {
	Roles []string
	Reps  []string
}

// Credit is what counts: events that pass Filter (nil: all), measured by
// Measure.
type Credit struct {
	Filter  *Expr
	Measure Measure
}

// Quota is the quota of a rep: ByRep, else ByRole with the rep's role on the
// period's last day, else Default (Valid false: none).
type Quota struct {
	Default decimal.NullDecimal
	ByRole  map[string]decimal.Decimal
	ByRep   map[string]decimal.Decimal
}

// Tiers are the commission bands; Bands start at 0 and rise strictly.
type Tiers struct {
	Basis  Basis
	Method Method
	Bands  []Band
}

// Band pays Rate from its lower bound From (a fraction of quota, or a
// measure value) up to the next band's.
type Band struct {
	From decimal.Decimal
	Rate decimal.Decimal
}

// Spiff is a bonus on each credited sale matching When: Fixed × share, or
// Rate × credited amount (exactly one of them is set).
type Spiff struct {
	ID    string
	When  *Expr
	Fixed decimal.NullDecimal
	Rate  decimal.NullDecimal
	// MaxPerPeriod caps a fixed spiff's period total at MaxPerPeriod ×
	// Fixed; 0 means no cap.
	MaxPerPeriod int
}

// Clawback bounds how late a return or cancel still reverses its original.
type Clawback struct {
	WindowDays int
}

// Override pays a rep's manager at Level (1: the manager, 2: theirs, ...)
// Rate of the rep's measure contributions.
type Override struct {
	Level int
	Rate  decimal.Decimal
}

// Nudges configures the nudges of §4.9.
type Nudges struct {
	// AttainmentCrossed are the thresholds, in fractions of quota.
	AttainmentCrossed []decimal.Decimal
	// NearNextTierWithin is the gap to the next band that triggers a
	// near_next_tier nudge (fractions of quota for attainment basis,
	// absolute for measure basis); Valid false when not configured.
	NearNextTierWithin decimal.NullDecimal
	// InactivityDays is the days without a credited sale, in event time,
	// after which a rep gets an inactivity nudge; 0 when not configured.
	InactivityDays int
	// PeriodEndingDaysBefore is how many days before a period closes the
	// period_ending nudge is checked; 0 when not configured.
	PeriodEndingDaysBefore int
	// PeriodEndingWithin is the gap to the next band within which the
	// period_ending nudge fires, in near_next_tier's unit; Valid when
	// PeriodEndingDaysBefore is set.
	PeriodEndingWithin decimal.NullDecimal
}

// MaxNudgeDays bounds nudges.inactivity.days and
// nudges.period_ending.days_before: no period is longer.
const MaxNudgeDays = 366

// Badge metrics.
const (
	MetricCount      = "count"
	MetricMeasure    = "measure"
	MetricAttainment = "attainment"
	MetricEarned     = "earned"
)

// Badge is awarded the first time Metric reaches AtLeast in a period.
type Badge struct {
	ID      string
	Metric  string
	AtLeast decimal.Decimal
}

// Env is what program expressions (credit.filter, spiffs[].when) see.
// Numbers are float64, for comparisons only; money is never computed in an
// expression.
type Env struct {
	Type       string            `expr:"type"`
	Source     string            `expr:"source"`
	TxnID      string            `expr:"txn_id"`
	RepID      string            `expr:"rep_id"`
	AccountID  string            `expr:"account_id"`
	ProductID  string            `expr:"product_id"`
	Quantity   float64           `expr:"quantity"`
	Amount     float64           `expr:"amount"`
	Currency   string            `expr:"currency"`
	Attributes map[string]string `expr:"attributes"`
	// Rep is the row in force for the event's rep_id (or the first split
	// rep); Product the product row. Empty maps when there is none.
	Rep     map[string]any `expr:"rep"`
	Product map[string]any `expr:"product"`
}

// NewEnv fills an expression environment for e; rep and product are the
// rows in force for the event (nil when there is none).
func NewEnv(e *canonical.Event, rep *reference.Rep, product *reference.Product) *Env {
	v := &Env{
		Type: string(e.Type), Source: e.Source, TxnID: e.TxnID, RepID: e.RepID,
		AccountID: e.AccountID, ProductID: e.ProductID,
		Amount: e.Amount.Value.InexactFloat64(), Currency: e.Amount.Currency,
		Attributes: e.Attributes, Rep: map[string]any{}, Product: map[string]any{},
	}
	if v.Attributes == nil {
		v.Attributes = map[string]string{}
	}
	if e.Quantity.Valid {
		v.Quantity = e.Quantity.Decimal.InexactFloat64()
	}
	if rep != nil {
		v.Rep = rep.Fields()
	}
	if product != nil {
		v.Product = product.Fields()
	}
	return v
}

// Expr is a compiled boolean expression of a program document.
type Expr struct {
	Source string
	prog   *vm.Program
}

// Match evaluates x on env. A nil Expr matches everything. An error is an
// evaluation failure on this event (a missing map key compared to a
// number, say); the engine rejects the event for this program.
func (x *Expr) Match(env *Env) (bool, error) {
	if x == nil {
		return true, nil
	}
	out, err := vm.Run(x.prog, env)
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}
