package feed

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/transforms/reference"
)

// Identities: the CRM knows a rep by employee id, the tills by cashier
// code; the ERP and the shop name reps by rep_id.
func crmEmployee(rep int) string { return "E-" + strconv.Itoa(1000+rep) }
func posCashier(rep int) string  { return "K-" + strconv.Itoa(rep) }

// baseRates are the exchange rates in force at the start; every pair of
// the sources' currencies (USD, CAD, EUR, GBP) and the programs' (USD,
// EUR, JPY) converts, directly or by its inverse.
var baseRates = []struct {
	pair string
	rate float64
}{
	{"EUR/USD", 1.08}, {"GBP/USD", 1.27}, {"USD/CAD", 1.39}, {"USD/JPY", 151.37},
	{"EUR/JPY", 162.9}, {"GBP/JPY", 191.5}, {"EUR/GBP", 0.85}, {"EUR/CAD", 1.5}, {"CAD/JPY", 108.9},
}

func rate(pair string, r float64, from reference.Date) reference.FXRate {
	return reference.FXRate{From: pair[:3], To: pair[4:], Rate: decimal.NewFromFloat(r).Round(4), ValidFrom: from}
}

func repRow(n, managers int, from reference.Date) reference.Rep {
	mgr := n % managers
	return reference.Rep{RepID: "R-" + strconv.Itoa(n), Role: []string{"AE", "AE", "SE"}[n%3],
		Team: "t" + strconv.Itoa(mgr), ManagerID: "M-" + strconv.Itoa(mgr), Currency: "USD", ValidFrom: from}
}

// reference makes the reference data in force before the first record: 4
// directors, a manager per 25 reps, the reps (a year before the start),
// their identities, 100 products, an account per 4 reps owned by one of
// them, and the base rates.
func (g *gen) reference() {
	from := reference.DateOf(g.cfg.Start.AddDate(-1, 0, 0))
	add := func(r reference.Row) { g.f.Reference = append(g.f.Reference, r) }
	for i := range 4 {
		add(reference.Rep{RepID: "D-" + strconv.Itoa(i), Role: "DIR", Team: "d" + strconv.Itoa(i), Currency: "USD", ValidFrom: from})
	}
	g.managers = max(1, g.cfg.Reps/25)
	for i := range g.managers {
		add(reference.Rep{RepID: "M-" + strconv.Itoa(i), Role: "MGR", Team: "t" + strconv.Itoa(i),
			ManagerID: "D-" + strconv.Itoa(i%4), Currency: "USD", ValidFrom: from})
	}
	for n := range g.cfg.Reps {
		g.addRep(n, from)
	}
	g.products = 100
	cats := []string{"software", "services", "hardware", "support"}
	for i := range g.products {
		add(reference.Product{ProductID: "P-" + strconv.Itoa(i), Category: cats[i%len(cats)], ValidFrom: from})
	}
	g.accounts = max(1, g.cfg.Reps/4)
	for i := range g.accounts {
		owner := "R-" + strconv.Itoa(g.rnd.IntN(g.cfg.Reps))
		add(reference.Account{AccountID: "A-" + strconv.Itoa(i), OwnerRepID: owner, ValidFrom: from})
	}
	rfrom := reference.DateOf(g.cfg.Start.AddDate(0, 0, -30))
	for _, r := range baseRates {
		g.fx[r.pair] = r.rate
		add(rate(r.pair, r.rate, rfrom))
	}
	g.zipf = rand.NewZipf(g.rnd, g.cfg.ZipfS, 1, uint64(len(g.reps)-1))
}

// addRep adds rep n and its identities, in force from day from, to the
// initial data (before the first record) or as updates.
func (g *gen) addRep(n int, from reference.Date) {
	rows := []reference.Row{repRow(n, g.managers, from),
		reference.Identity{Source: CRM, Key: crmEmployee(n), RepID: "R-" + strconv.Itoa(n), ValidFrom: from},
		reference.Identity{Source: POS, Key: posCashier(n), RepID: "R-" + strconv.Itoa(n), ValidFrom: from}}
	g.reps = append(g.reps, "R-"+strconv.Itoa(n))
	for _, r := range rows {
		if len(g.f.Items) == 0 && g.seq == 0 {
			g.f.Reference = append(g.f.Reference, r)
		} else {
			g.emit(Item{Topic: r.Kind().Topic(), Key: []byte(reference.RecordKey(r)), Ref: r})
		}
	}
}

// refUpdate interleaves one change of the reference data: half the time
// a rep moves to another manager from a day or three ahead, a fifth of
// the time a rep joins (from today; the newest reps sell least), else an
// exchange rate moves by up to 2% from tomorrow.
func (g *gen) refUpdate() {
	g.seq++
	today := reference.DateOf(g.clock)
	switch k := g.rnd.IntN(10); {
	case k < 5:
		_, i := g.rep()
		n := g.repIndex(g.reps[i])
		r := repRow(n, g.managers, today+reference.Date(1+g.rnd.IntN(3)))
		mgr := g.rnd.IntN(g.managers)
		r.ManagerID, r.Team = "M-"+strconv.Itoa(mgr), "t"+strconv.Itoa(mgr)
		g.emit(Item{Topic: r.Kind().Topic(), Key: []byte(reference.RecordKey(r)), Ref: r})
	case k < 7:
		g.addRep(len(g.reps), today)
		g.zipf = rand.NewZipf(g.rnd, g.cfg.ZipfS, 1, uint64(len(g.reps)-1))
	default:
		r := baseRates[g.rnd.IntN(len(baseRates))]
		v := g.fx[r.pair] * (0.98 + 0.04*g.rnd.Float64())
		g.fx[r.pair] = v
		row := rate(r.pair, v, today+1)
		g.emit(Item{Topic: row.Kind().Topic(), Key: []byte(reference.RecordKey(row)), Ref: row})
	}
}

// berlin is the tills' time zone (pos-export.yaml).
var berlin = func() *time.Location {
	l, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return l
}()
