package accrue

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/shopspring/decimal"
)

// Builders of programs, reference data and events for the tests: programs
// as Go values, events as canonical JSON lines.

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// num is s as a state figure.
func num(s string) Num { return NumOf(d(s)) }

func nd(s string) decimal.NullDecimal { return decimal.NewNullDecimal(d(s)) }

func date(s string) reference.Date {
	v, err := reference.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return v
}

// bands parses "from:rate" pairs.
func bands(pairs ...string) []program.Band {
	out := make([]program.Band, len(pairs))
	for i, p := range pairs {
		from, rate, _ := strings.Cut(p, ":")
		out[i] = program.Band{From: d(from), Rate: d(rate)}
	}
	return out
}

// plan is the base program of the tests: "ae", version 1, USD, UTC, monthly
// from 2026-01-01, amount measure, default quota 10000, marginal
// attainment bands 0 → 2%, 0.5 → 5%, 1.0 → 8%. mods change it.
func plan(mods ...func(*program.Program)) *program.Program {
	p := &program.Program{
		ID: "ae", Version: 1, Currency: "USD", Location: time.UTC, TimezoneName: "UTC",
		Period: program.Month, EffectiveFrom: date("2026-01-01"),
		Credit: program.Credit{Measure: program.Amount},
		Quota:  &program.Quota{Default: nd("10000")},
		Tiers: program.Tiers{Basis: program.Attainment, Method: program.Marginal,
			Bands: bands("0:0.02", "0.5:0.05", "1.0:0.08")},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

// measureBands makes p pay measure-basis marginal bands, without quota.
func measureBands(pairs ...string) func(*program.Program) {
	return func(p *program.Program) {
		p.Quota = nil
		p.Tiers = program.Tiers{Basis: program.MeasureBase, Method: program.Marginal, Bands: bands(pairs...)}
	}
}

// defaultReps: are AEs under M-1, who reports to D-1; R-3 is an
// SE without a manager.
const defaultReps = `{"rep_id":"R-1","role":"AE","manager_id":"M-1","valid_from":"2026-01-01"}
{"rep_id":"R-2","role":"AE","manager_id":"M-1","valid_from":"2026-01-01"}
{"rep_id":"R-3","role":"SE","valid_from":"2026-01-01"}
{"rep_id":"M-1","role":"MGR","manager_id":"D-1","valid_from":"2026-01-01"}
{"rep_id":"D-1","role":"DIR","valid_from":"2026-01-01"}`

// defaultFX: EUR→USD 1.1, then 1.2 from 2026-11-15; USD→JPY 150.
const defaultFX = `{"from":"EUR","to":"USD","rate":"1.1","valid_from":"2026-01-01"}
{"from":"EUR","to":"USD","rate":"1.2","valid_from":"2026-11-15"}
{"from":"USD","to":"JPY","rate":"150","valid_from":"2026-01-01"}`

func tables(t testing.TB, reps, products, fx string) *reference.Tables {
	t.Helper()
	var tb reference.Tables
	for _, f := range []struct {
		kind reference.Kind
		rows string
	}{{reference.Reps, reps}, {reference.Products, products}, {reference.FX, fx}} {
		bad, err := tb.Load(f.kind, strings.NewReader(f.rows), reference.JSONL)
		if err != nil || len(bad) > 0 {
			t.Fatalf("%s: %v %v", f.kind, err, bad)
		}
	}
	return &tb
}

// evOpt changes an event.
type evOpt func(*canonical.Event)

func money(s string) canonical.Money {
	v, c, _ := strings.Cut(s, " ")
	return canonical.Money{Value: d(v), Currency: c}
}

func at(s string) time.Time {
	if len(s) == len("2006-01-02") {
		s += "T10:00:00Z"
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// splits gives "R-1:0.6"-style shares.
func splits(pairs ...string) evOpt {
	return func(e *canonical.Event) {
		for _, p := range pairs {
			rep, share, _ := strings.Cut(p, ":")
			e.Splits = append(e.Splits, canonical.Split{RepID: rep, Share: d(share)})
		}
	}
}

func margin(m string) evOpt { return func(e *canonical.Event) { mm := money(m); e.Margin = &mm } }

func qty(q string) evOpt {
	return func(e *canonical.Event) { e.Quantity = decimal.NewNullDecimal(d(q)) }
}

func product(id string) evOpt { return func(e *canonical.Event) { e.ProductID = id } }

func event(typ canonical.Type, txn, ref, when, rep, amount string, opts []evOpt) string {
	e := canonical.Event{Source: "erp", TxnID: txn, Type: typ, RefTxnID: ref, EventTime: at(when),
		RepID: rep, Amount: money(amount)}
	for _, o := range opts {
		o(&e)
	}
	return string(e.AppendJSON(nil))
}

// sale is a sale txn at when ("2026-11-03" is 10:00 UTC) by rep of amount
// ("1000 USD").
func sale(txn, when, rep, amount string, opts ...evOpt) string {
	return event(canonical.Sale, txn, "", when, rep, amount, opts)
}

func adjustment(txn, when, rep, amount string, opts ...evOpt) string {
	return event(canonical.Adjustment, txn, "", when, rep, amount, opts)
}

// ret returns amount of sale ref.
func ret(txn, ref, when, amount string, opts ...evOpt) string {
	return event(canonical.Return, txn, ref, when, "", amount, opts)
}

// cancel cancels sale ref (amount is informative only).
func cancel(txn, ref, when string) string {
	return event(canonical.Cancel, txn, ref, when, "", "0 USD", nil)
}

// result is what a simulation produced, as text lines.
type result struct {
	statements []string
	nudges     []string
	awards     []string
	accruals   []string // "rep period delta"
	summary    Summary
}

func simulate(t testing.TB, progs []*program.Program, tb *reference.Tables, events []string) result {
	t.Helper()
	e, err := New(progs, tb)
	if err != nil {
		t.Fatal(err)
	}
	var r result
	s := NewSimulation(e, tb)
	s.OnNudge = func(n *Nudge) { r.nudges = append(r.nudges, string(n.AppendJSON(nil))) }
	s.OnAward = func(a *Award) { r.awards = append(r.awards, string(a.AppendJSON(nil))) }
	s.OnOutput = func(o *Output) {
		for _, a := range o.Accruals {
			r.accruals = append(r.accruals, fmt.Sprintf("%s %s %s %s", a.ProgramID, a.RepID, a.Period, a.Delta.StringFixed(a.MinorUnits)))
		}
	}
	if err := s.Run(strings.NewReader(strings.Join(events, "\n"))); err != nil {
		t.Fatal(err)
	}
	for _, st := range s.Statements() {
		r.statements = append(r.statements, string(st.AppendJSON(nil)))
	}
	r.summary = s.Summary()
	return r
}

// credit is rep's whole credit of the event line, without linking.
func credit(t testing.TB, _ *reference.Tables, line, rep string) *link.Credit {
	t.Helper()
	var e canonical.Event
	if err := e.UnmarshalJSON([]byte(line)); err != nil {
		t.Fatal(err)
	}
	return &link.Credit{Event: &e, RepID: rep, Share: decimal.NewFromInt(1), Via: link.ViaRep}
}
