// Package sanitize holds the gatekeepers of ingest: the checks that stop a
// bad canonical event (PROGRAMS.md §1) with a stable reason code before it
// reaches the calculation, and the deduplication of (source, txn_id, type).
//
// A Gate is compiled once from a Config (YAML through ParseConfig, or built
// in Go) and checks one event at a time with Check. Deduplication needs the
// stage's keyed state, so it is apart: see Deduper.
//
// # Order of checks
//
// Check takes the policy of the event's source (as the event names it,
// before normalization; the defaults when the source has none), then:
//
//  1. normalize: trim, then upper, then lower case, in place;
//  2. canonical.Event.Validate: missing_field or invalid_field, with the
//     field Validate names;
//  3. required fields: missing_field, in the order the policy lists them;
//  4. currencies, amount's then margin's: unknown_currency (not an active
//     ISO 4217 code with a minor unit), then currency_not_allowed;
//  5. amount bounds: amount_below_min, amount_above_max (field
//     amount.value; the absolute value for an adjustment);
//  6. event time: event_time_in_future, event_time_too_old;
//  7. rules, in order: the first rule whose condition holds rejects with
//     its reason ("rule:<name>" by default), field empty;
//
// and, where the caller runs a Deduper after an accepted Check,
//
//  8. duplicate (field txn_id).
//
// The first failed check decides the reason; later checks do not run.
package sanitize

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/currency"
)

// Reason codes of the gatekeepers' rejects.
const (
	ReasonMissingField       = "missing_field"
	ReasonInvalidField       = "invalid_field"
	ReasonUnknownCurrency    = "unknown_currency"
	ReasonCurrencyNotAllowed = "currency_not_allowed"
	ReasonAmountBelowMin     = "amount_below_min"
	ReasonAmountAboveMax     = "amount_above_max"
	ReasonEventTimeInFuture  = "event_time_in_future"
	ReasonEventTimeTooOld    = "event_time_too_old"
	ReasonDuplicate          = "duplicate"
	// ReasonRulePrefix prefixes the name of a rule without its own reason:
	// "rule:no_test_accounts".
	ReasonRulePrefix = "rule:"
)

// Gate checks canonical events against a compiled Config. It is safe for
// concurrent use.
type Gate struct {
	defaults *policy
	sources  map[string]*policy
	scratch  sync.Pool // *scratch
}

// scratch is what one rule evaluation needs, reused to spare allocations.
type scratch struct {
	vm  vm.VM
	env env
}

// policy is a compiled, merged Policy.
type policy struct {
	required []required
	// allowed is nil when every ISO 4217 code is allowed.
	allowed  map[string]bool
	min, max bound
	// future and horizon are negative when off.
	future, horizon time.Duration
	trim            bool
	upper, lower    []string
	// norm is trim, upper and lower resolved to the fields they touch,
	// in that order.
	norm  []normOp
	rules []rule
	// window is the dedupe window; 0 is no limit.
	window time.Duration
}

type required struct {
	name    string
	present func(*canonical.Event) bool
}

// Compile checks cfg and builds its Gate. Every problem found is reported,
// as a *ConfigError; positions are given for a cfg read by ParseConfig.
func Compile(cfg *Config) (*Gate, error) {
	c := compiler{cfg: cfg}
	def := c.layer(cfg.Defaults, "defaults")
	srcs := map[string]layer{}
	for name, p := range cfg.Sources {
		path := "sources." + name
		if name == "" || strings.TrimSpace(name) != name {
			c.problem(path, fmt.Errorf("source name %q is empty or has surrounding space", name))
		}
		srcs[name] = c.layer(p, path)
	}
	if len(c.problems) > 0 {
		sortProblems(c.problems)
		return nil, &ConfigError{Problems: c.problems}
	}
	g := &Gate{defaults: merge(layer{}, def), sources: make(map[string]*policy, len(srcs))}
	for name, l := range srcs {
		g.sources[name] = merge(def, l)
	}
	g.scratch.New = func() any { return new(scratch) }
	return g, nil
}

// MustCompile is Compile for configurations known to be good (tests,
// examples); it panics on a bad one.
func MustCompile(cfg *Config) *Gate {
	g, err := Compile(cfg)
	if err != nil {
		panic(err)
	}
	return g
}

// DedupeWindow is the dedupe window of source; 0 is no limit.
func (g *Gate) DedupeWindow(source string) time.Duration { return g.policy(source).window }

func (g *Gate) policy(source string) *policy {
	if p, ok := g.sources[source]; ok {
		return p
	}
	return g.defaults
}

// Check normalizes e in place and checks it with the policy of its source,
// in the order of the package documentation. It returns nil for an event
// that passes, else a Reject with a Reason above and the offending Field.
// now is the clock the event-time bounds are measured from.
func (g *Gate) Check(e *canonical.Event, now time.Time) *pipeline.Reject {
	p := g.policy(e.Source)
	p.normalize(e)

	if err := e.Validate(); err != nil {
		var fe *canonical.FieldError
		if errors.As(err, &fe) {
			reason := ReasonInvalidField
			if errors.Is(fe.Err, canonical.ErrMissing) {
				reason = ReasonMissingField
			}
			return &pipeline.Reject{Reason: reason, Field: fe.Field, Err: fe.Err}
		}
		return &pipeline.Reject{Reason: ReasonInvalidField, Err: err}
	}
	for _, r := range p.required {
		if !r.present(e) {
			return &pipeline.Reject{Reason: ReasonMissingField, Field: r.name, Err: canonical.ErrMissing}
		}
	}
	if rj := p.checkCurrency(e.Amount.Currency, "amount.currency"); rj != nil {
		return rj
	}
	if e.Margin != nil {
		if rj := p.checkCurrency(e.Margin.Currency, "margin.currency"); rj != nil {
			return rj
		}
	}
	if p.min.Valid || p.max.Valid {
		v := e.Amount.Value
		if e.Type == canonical.Adjustment {
			v = v.Abs()
		}
		if p.min.Valid && p.min.cmp(v) > 0 {
			return pipeline.Rejectf(ReasonAmountBelowMin, "amount.value", "%s is below the minimum %s", e.Amount.Value, p.min.Decimal)
		}
		if p.max.Valid && p.max.cmp(v) < 0 {
			return pipeline.Rejectf(ReasonAmountAboveMax, "amount.value", "%s is above the maximum %s", e.Amount.Value, p.max.Decimal)
		}
	}
	if p.future >= 0 && e.EventTime.After(now.Add(p.future)) {
		return pipeline.Rejectf(ReasonEventTimeInFuture, "event_time", "%s is more than %s after %s",
			e.EventTime.UTC().Format(time.RFC3339), p.future, now.UTC().Format(time.RFC3339))
	}
	if p.horizon >= 0 && e.EventTime.Before(now.Add(-p.horizon)) {
		return pipeline.Rejectf(ReasonEventTimeTooOld, "event_time", "%s is more than %s before %s",
			e.EventTime.UTC().Format(time.RFC3339), p.horizon, now.UTC().Format(time.RFC3339))
	}
	if len(p.rules) > 0 {
		return g.runRules(p, e)
	}
	return nil
}

func (g *Gate) runRules(p *policy, e *canonical.Event) *pipeline.Reject {
	s := g.scratch.Get().(*scratch)
	defer g.scratch.Put(s)
	s.env.fill(e)
	defer func() { s.env.Attributes = nil }()
	for _, r := range p.rules {
		out, err := s.vm.Run(r.prog, &s.env)
		if err != nil {
			// A runtime error (a failed conversion, say) refuses the
			// event too: the rule could not clear it.
			return pipeline.Rejectf(r.reason, "", "rule %s failed: %v", r.name, err)
		}
		if hit, _ := out.(bool); hit {
			return pipeline.Rejectf(r.reason, "", "rule %s", r.name)
		}
	}
	return nil
}

func (p *policy) checkCurrency(code, field string) *pipeline.Reject {
	if _, ok := currency.MinorUnits(code); !ok {
		return pipeline.Rejectf(ReasonUnknownCurrency, field, "%q is not an active ISO 4217 currency", code)
	}
	if p.allowed != nil && !p.allowed[code] {
		return pipeline.Rejectf(ReasonCurrencyNotAllowed, field, "%s is not allowed for this source", code)
	}
	return nil
}

func (p *policy) normalize(e *canonical.Event) {
	for _, op := range p.norm {
		op.apply(e)
	}
}
