package accrue

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/shopspring/decimal"
)

// world is a random but reproducible company and year of sales: reps under
// managers under directors (some changing manager or role mid-year, some
// under a manager the reference data lacks), several programs (amount,
// margin, quantity, count; USD, EUR and JPY; monthly, quarterly, yearly; two
// versions of one), and events: sales with splits, returns, cancels,
// adjustments, in four currencies (GBP has no rate).
type world struct {
	programs []*program.Program
	tables   *reference.Tables
	events   []*canonical.Event
}

func randomWorld(t testing.TB, seed uint64, n int) *world {
	rnd := rand.New(rand.NewPCG(seed, seed^0x5eed))
	var reps strings.Builder
	const nReps = 30
	for i := range 2 {
		fmt.Fprintf(&reps, `{"rep_id":"D-%d","role":"DIR","valid_from":"2026-01-01"}`+"\n", i)
	}
	for i := range 5 {
		fmt.Fprintf(&reps, `{"rep_id":"M-%d","role":"MGR","manager_id":"D-%d","valid_from":"2026-01-01"}`+"\n", i, i%2)
	}
	for i := range nReps {
		role := []string{"AE", "AE", "SE"}[i%3]
		mgr := fmt.Sprintf("M-%d", i%5)
		if i == 7 {
			mgr = "M-404" // not in the reference data: the chain stops
		}
		fmt.Fprintf(&reps, `{"rep_id":"R-%d","role":"%s","manager_id":"%s","valid_from":"2026-01-01"}`+"\n", i, role, mgr)
		if i%4 == 0 { // a move mid-year: new manager, and SEs become AEs
			fmt.Fprintf(&reps, `{"rep_id":"R-%d","role":"AE","manager_id":"M-%d","valid_from":"2026-%02d-15"}`+"\n", i, (i+1)%5, 2+i%10)
		}
	}
	fx := `{"from":"EUR","to":"USD","rate":"1.08","valid_from":"2026-01-01"}
{"from":"EUR","to":"USD","rate":"1.1234","valid_from":"2026-04-01"}
{"from":"EUR","to":"USD","rate":"1.05","valid_from":"2026-09-01"}
{"from":"USD","to":"JPY","rate":"151.37","valid_from":"2026-01-01"}
{"from":"EUR","to":"JPY","rate":"162.9","valid_from":"2026-01-01"}`
	tb := tables(t, reps.String(), "", fx)

	cap := d("300")
	ae1 := plan(func(p *program.Program) {
		p.EffectiveTo, p.HasEnd = date("2026-06-30"), true
		p.Quota = &program.Quota{Default: nd("50000"), ByRole: map[string]decimal.Decimal{"AE": d("60000")},
			ByRep: map[string]decimal.Decimal{"R-3": d("40000")}}
		p.Cap = &cap
		p.Spiffs = []program.Spiff{{ID: "launch", Fixed: nd("50"), MaxPerPeriod: 5}, {ID: "kicker", Rate: nd("0.0125")}}
		p.Clawback = &program.Clawback{WindowDays: 60}
		p.Overrides = []program.Override{{Level: 1, Rate: d("0.02")}, {Level: 2, Rate: d("0.0075")}}
		p.Nudges = program.Nudges{AttainmentCrossed: []decimal.Decimal{d("0.5"), d("1.0")}, NearNextTierWithin: nd("0.1")}
		p.Badges = []program.Badge{{ID: "first", Metric: program.MetricCount, AtLeast: d("1")},
			{ID: "club", Metric: program.MetricAttainment, AtLeast: d("1")},
			{ID: "earner", Metric: program.MetricEarned, AtLeast: d("1000")}}
	})
	ae2 := plan(func(p *program.Program) {
		*p = *ae1
		p.Version, p.EffectiveFrom, p.HasEnd = 2, date("2026-07-01"), false
		p.Tiers = program.Tiers{Basis: program.Attainment, Method: program.Retroactive, Bands: bands("0:0.03", "0.8:0.06", "1.2:0.09")}
	})
	gm := plan(func(p *program.Program) {
		p.ID, p.Currency, p.Credit.Measure = "gm", "EUR", program.Margin
		p.Tiers = program.Tiers{Basis: program.MeasureBase, Method: program.Retroactive, Bands: bands("0:0.05", "5000:0.07", "20000:0.1")}
		p.Quota = &program.Quota{Default: nd("30000")}
		p.Participants.Roles = []string{"AE"}
		p.Overrides = []program.Override{{Level: 1, Rate: d("0.03")}}
		p.Nudges.NearNextTierWithin = nd("1000")
		p.Badges = []program.Badge{{ID: "m", Metric: program.MetricMeasure, AtLeast: d("10000")}}
	})
	units := plan(measureBands("0:2.5", "40:4"), func(p *program.Program) {
		p.ID, p.Period, p.Credit.Measure = "units", program.Quarter, program.Quantity
		p.Overrides = []program.Override{{Level: 1, Rate: d("0.5")}} // never paid: quantity
		p.Clawback = &program.Clawback{WindowDays: 30}
	})
	deals := plan(measureBands("0:1000", "10:2500"), func(p *program.Program) {
		p.ID, p.Period, p.Currency, p.Credit.Measure = "deals", program.Year, "JPY", program.Count
		p.Spiffs = []program.Spiff{{ID: "deal", Fixed: nd("500")}}
	})
	w := &world{programs: []*program.Program{ae1, ae2, gm, units, deals}, tables: tb}

	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var sales []*canonical.Event
	currencies := []string{"USD", "USD", "USD", "EUR", "EUR", "JPY", "GBP"}
	shares := [][]string{{"0.5", "0.5"}, {"0.25", "0.75"}, {"0.3", "0.3", "0.4"}, {"0.6", "0.4"}}
	step := 365 * 24 * time.Hour / time.Duration(n)
	for i := range n {
		when := start.Add(time.Duration(i) * step).Add(time.Duration(rnd.IntN(3600)) * time.Second)
		txn := fmt.Sprintf("T%d", i)
		k := rnd.IntN(100)
		switch {
		case k < 62 || len(sales) == 0:
			cur := currencies[rnd.IntN(len(currencies))]
			amount := decimal.New(int64(100+rnd.IntN(900000)), -2)
			if cur == "JPY" {
				amount = decimal.NewFromInt(int64(1000 + rnd.IntN(2000000)))
			}
			e := &canonical.Event{Source: "erp", TxnID: txn, Type: canonical.Sale, EventTime: when,
				RepID: fmt.Sprintf("R-%d", rnd.IntN(nReps)), Amount: canonical.Money{Value: amount, Currency: cur}}
			if rnd.IntN(3) > 0 {
				e.Margin = &canonical.Money{Value: amount.Mul(d("0.3")).Round(2), Currency: cur}
			}
			if rnd.IntN(2) == 0 {
				e.Quantity = decimal.NewNullDecimal(decimal.NewFromInt(int64(1 + rnd.IntN(5))))
			}
			if rnd.IntN(4) == 0 {
				sh := shares[rnd.IntN(len(shares))]
				first := rnd.IntN(nReps)
				for j, s := range sh {
					e.Splits = append(e.Splits, canonical.Split{RepID: fmt.Sprintf("R-%d", (first+j*7)%nReps), Share: d(s)})
				}
				e.RepID = ""
			}
			sales = append(sales, e)
			w.events = append(w.events, e)
		case k < 80:
			orig := sales[rnd.IntN(len(sales))]
			part := orig.Amount.Value.Mul(decimal.NewFromInt(int64(1 + rnd.IntN(60)))).Div(decimal.NewFromInt(100)).Round(2)
			if orig.Amount.Currency == "JPY" {
				part = part.Round(0)
			}
			e := &canonical.Event{Source: "erp", TxnID: txn, Type: canonical.Return, RefTxnID: orig.TxnID,
				EventTime: when, Amount: canonical.Money{Value: part, Currency: orig.Amount.Currency}}
			if orig.Quantity.Valid && rnd.IntN(2) == 0 {
				e.Quantity = decimal.NewNullDecimal(decimal.NewFromInt(1))
			}
			w.events = append(w.events, e)
		case k < 90:
			orig := sales[rnd.IntN(len(sales))]
			w.events = append(w.events, &canonical.Event{Source: "erp", TxnID: txn, Type: canonical.Cancel,
				RefTxnID: orig.TxnID, EventTime: when, Amount: canonical.Money{Value: decimal.Zero, Currency: "USD"}})
		default:
			v := decimal.New(int64(rnd.IntN(200000)-100000), -2)
			e := &canonical.Event{Source: "erp", TxnID: txn, Type: canonical.Adjustment, EventTime: when,
				RepID: fmt.Sprintf("R-%d", rnd.IntN(nReps)), Amount: canonical.Money{Value: v, Currency: "USD"}}
			if rnd.IntN(2) == 0 {
				e.Margin = &canonical.Money{Value: v.Div(decimal.NewFromInt(4)).Round(2), Currency: "USD"}
			}
			w.events = append(w.events, e)
		}
	}
	for _, e := range w.events {
		e.EventID = canonical.DefaultEventID(e.Source, e.TxnID, e.Type)
		if err := e.Validate(); err != nil {
			t.Fatalf("generated a bad event %s: %v", e.EventID, err)
		}
	}
	return w
}

// credits links the world's events in order, as the linking stage would,
// and returns the credits (events missing reference data are dropped).
func (w *world) credits() []link.Credit {
	l := &link.Linker{Tables: w.tables}
	orig := link.MemoryOriginals{}
	var out []link.Credit
	for _, e := range w.events {
		cs, miss, rj := l.Link(e, orig)
		if miss == nil && rj == nil {
			out = append(out, cs...)
		}
	}
	return out
}

// figures is what a run reports: statements as JSON lines by key, and the
// sum of the accrual deltas by key.
type figuresByKey struct {
	statements map[string]Statement
	deltas     map[string]decimal.Decimal
	rejects    map[string]int
	applied    int
}

func newFigures() *figuresByKey {
	return &figuresByKey{statements: map[string]Statement{}, deltas: map[string]decimal.Decimal{}, rejects: map[string]int{}}
}

func (f *figuresByKey) add(out *Output) {
	f.applied++
	for _, a := range out.Accruals {
		k := a.ProgramID + "/" + a.Period + "/" + a.RepID
		f.deltas[k] = f.deltas[k].Add(a.Delta)
	}
}

func (f *figuresByKey) collect(e *Engine, s MemoryStore) {
	for _, st := range e.Statements(s) {
		f.statements[st.ProgramID+"/"+st.Period+"/"+st.RepID] = st
	}
}

// checkDeltas: the deltas of each (program, period, rep) add up to its
// reported earned, to the cent (§4.8).
func (f *figuresByKey) checkDeltas(t *testing.T) {
	t.Helper()
	for k, st := range f.statements {
		if got := f.deltas[k]; !got.Equal(st.Earned) {
			t.Errorf("%s: deltas add up to %s, statement says earned %s", k, got, st.Earned)
		}
	}
	for k, sum := range f.deltas {
		if _, ok := f.statements[k]; !ok && !sum.IsZero() {
			t.Errorf("%s: deltas add up to %s without a statement", k, sum)
		}
	}
}

// sequential applies the credits in order to one store, each override
// record right after its credit, as simulate does.
func sequential(t *testing.T, e *Engine, credits []link.Credit) *figuresByKey {
	f := newFigures()
	s := MemoryStore{}
	for i := range credits {
		out, err := e.ApplyCredit(s, &credits[i])
		if err != nil {
			f.rejects[asReject(err).Reason]++
			continue
		}
		f.add(&out)
		for j := range out.Overrides {
			o, err := e.ApplyOverride(s, &out.Overrides[j])
			if err != nil {
				t.Fatal(err)
			}
			f.add(&o)
		}
	}
	f.collect(e, s)
	return f
}

// partitioned applies the credits as a stage with parts partitions would:
// each rep's inputs in their order on the rep's partition, each partition
// with its own store, partitions taking turns at random, and override
// records travelling to the manager's partition behind what is queued
// there already.
func partitioned(t *testing.T, e *Engine, credits []link.Credit, parts int, seed uint64) *figuresByKey {
	rnd := rand.New(rand.NewPCG(seed, 7))
	part := func(rep string) int {
		h := fnv.New32a()
		h.Write([]byte(rep))
		return int(h.Sum32() % uint32(parts))
	}
	queues := make([][]Input, parts)
	for i := range credits {
		p := part(credits[i].RepID)
		queues[p] = append(queues[p], Input{Credit: &credits[i]})
	}
	stores := make([]MemoryStore, parts)
	for i := range stores {
		stores[i] = MemoryStore{}
	}
	// State goes through the changelog codec on every write, as a
	// restored partition would see it.
	logged := make([]Store, parts)
	for i := range logged {
		logged[i] = changelogStore{t: t, m: stores[i]}
	}
	f := newFigures()
	for {
		var ready []int
		for p, q := range queues {
			if len(q) > 0 {
				ready = append(ready, p)
			}
		}
		if len(ready) == 0 {
			break
		}
		p := ready[rnd.IntN(len(ready))]
		// A partition takes a batch of up to 8 of its records.
		for n := 1 + rnd.IntN(8); n > 0 && len(queues[p]) > 0; n-- {
			in := queues[p][0]
			queues[p] = queues[p][1:]
			out, err := e.Apply(logged[p], in)
			if err != nil {
				if in.Override != nil {
					t.Fatal(err)
				}
				f.rejects[asReject(err).Reason]++
				continue
			}
			f.add(&out)
			for j := range out.Overrides {
				o := out.Overrides[j]
				m := part(o.ManagerID)
				queues[m] = append(queues[m], Input{Override: &o})
			}
		}
	}
	for _, s := range stores {
		f.collect(e, s)
	}
	return f
}

func TestPropertyDeltasAddUpAndPartitionsAgree(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	n := 1500
	if testing.Short() {
		seeds, n = seeds[:1], 1000
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			w := randomWorld(t, seed, n)
			e, err := New(w.programs, w.tables)
			if err != nil {
				t.Fatal(err)
			}
			credits := w.credits()
			seq := sequential(t, e, credits)
			seq.checkDeltas(t)
			if len(seq.statements) < 50 || seq.applied < n {
				t.Fatalf("the world is too small to prove much: %d statements, %d inputs applied", len(seq.statements), seq.applied)
			}
			for _, r := range []string{ReasonFXRateMissing, ReasonReturnExceedsOriginal, ReasonAlreadyCancelled} {
				if seq.rejects[r] == 0 {
					t.Errorf("no %s among %d credits: the generator should make some", r, len(credits))
				}
			}
			for _, parts := range []int{3, 8} {
				par := partitioned(t, e, credits, parts, seed*31+uint64(parts))
				par.checkDeltas(t)
				if len(par.statements) != len(seq.statements) {
					t.Errorf("%d partitions: %d statements, one partition %d", parts, len(par.statements), len(seq.statements))
				}
				for k, want := range seq.statements {
					got := par.statements[k]
					if string(got.AppendJSON(nil)) != string(want.AppendJSON(nil)) {
						t.Errorf("%d partitions, %s:\n got %s\nwant %s", parts, k, got.AppendJSON(nil), want.AppendJSON(nil))
					}
				}
				for r, n := range seq.rejects {
					if par.rejects[r] != n {
						t.Errorf("%d partitions: %d %s, one partition %d", parts, par.rejects[r], r, n)
					}
				}
			}
		})
	}
}

// changelogStore keeps what the Codec makes of each value put, as a state
// restored from the changelog would hold.
type changelogStore struct {
	t *testing.T
	m MemoryStore
}

func (s changelogStore) Get(k string) (State, bool) { return s.m.Get(k) }
func (s changelogStore) Delete(k string)            { s.m.Delete(k) }
func (s changelogStore) Put(k string, v State) {
	b := Codec{}.Encode(nil, v)
	back, err := Codec{}.Decode(b)
	if err != nil {
		s.t.Fatalf("%s: %v", k, err)
	}
	s.m.Put(k, back)
}
