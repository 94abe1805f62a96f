// Package synth is a source of synthetic sales: canonical sale events (see
// PROGRAMS.md §1) from several made-up systems, a CRM in North America, an
// ERP in Europe and a point-of-sale system in Asia-Pacific, each with its own
// currencies, transaction numbers and reps.
//
// The sequence is a pure function of the seed and the options: two
// generators built alike produce the same records in the same order, so a
// test can regenerate what a run produced and check a stage's output against
// it. A small share of the records (1% by default) is broken on purpose,
// in the ways real feeds break (a truncated body, a missing rep, an amount
// that is not a number), so that the dead-letter path has something to show.
// WithDuplicateRate also makes it send exact copies (the same bytes) of
// earlier valid records, as a source that retries does, for deduplication to
// catch.
//
// Records are keyed by rep_id (no key when the rep is missing) and carry a
// "source" header naming the system they came from.
package synth

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"
)

// HeaderSource is the record header naming the source system.
const HeaderSource = "source"

// Defect says how a record is broken on purpose.
type Defect uint8

// The defects a generator injects. Each maps to one way a stage must refuse
// the record.
const (
	// DefectNone: a valid canonical sale.
	DefectNone Defect = iota
	// DefectMalformedJSON: the body is cut short, so it is not JSON.
	DefectMalformedJSON
	// DefectMissingRepID: the sale has no rep_id, and the record no key.
	DefectMissingRepID
	// DefectInvalidAmount: amount.value is a string that is not a decimal
	// number ("12,50", "NaN", ...).
	DefectInvalidAmount

	// NumDefects is the number of Defect values, DefectNone included.
	NumDefects = iota
)

var defectNames = [NumDefects]string{"none", "malformed_json", "missing_rep_id", "invalid_amount"}

func (d Defect) String() string {
	if int(d) < len(defectNames) {
		return defectNames[d]
	}
	return "defect(" + strconv.Itoa(int(d)) + ")"
}

// invalidAmounts are the amount.value strings of DefectInvalidAmount: each
// is something a real feed has been seen to send, and none is a plain
// decimal number.
var invalidAmounts = []string{"12,50", "1.250.00", "NaN", "ten", "$99.99", "0x1F", "12.00 EUR", "-"}

// Source is one system that sales come from.
type Source struct {
	// Name is the source's identity in events and in the "source" header
	// ("crm-na").
	Name string
	// TxnPrefix starts every transaction id of the source ("OPP-").
	TxnPrefix string
	// Currencies are the currencies its sales are in, drawn uniformly.
	Currencies []string
	// Weight is the source's share of the records, relative to the other
	// sources' weights; it must be positive.
	Weight int
	// Reps are the rep ids that sell through this source; the first ones
	// sell more than the last ones.
	Reps []string
}

// DefaultSources returns the three sources a generator uses unless told
// otherwise: crm-na (USD, half the records), erp-eu (EUR, 30%) and pos-apac
// (JPY and SGD, 20%), with 20, 12 and 10 reps (R-1…R-42, no rep shared),
// so that the busiest reps of each source sell about as often.
func DefaultSources() []Source {
	return []Source{
		{Name: "crm-na", TxnPrefix: "OPP-", Currencies: []string{"USD"}, Weight: 5, Reps: repIDs(1, 20)},
		{Name: "erp-eu", TxnPrefix: "SO-", Currencies: []string{"EUR"}, Weight: 3, Reps: repIDs(21, 32)},
		{Name: "pos-apac", TxnPrefix: "POS-", Currencies: []string{"JPY", "SGD"}, Weight: 2, Reps: repIDs(33, 42)},
	}
}

func repIDs(from, to int) []string {
	out := make([]string, 0, to-from+1)
	for i := from; i <= to; i++ {
		out = append(out, "R-"+strconv.Itoa(i))
	}
	return out
}

// DefaultStart is the event time of the first sale unless WithStart says
// otherwise.
var DefaultStart = time.Date(2026, time.November, 2, 8, 0, 0, 0, time.UTC)

// Option configures a Generator.
type Option func(*config)

type config struct {
	sources   []Source
	perMille  int
	start     time.Time
	accounts  int
	products  int
	maxGapSec int
	dupPerMil int
}

// WithSources replaces the default sources. Every source needs a name, at
// least one currency, at least one rep and a positive weight; New panics
// otherwise (a programming error, not a runtime condition).
func WithSources(ss ...Source) Option {
	return func(c *config) { c.sources = append([]Source(nil), ss...) }
}

// WithDefectRate sets how many records in a thousand are broken on purpose
// (default 10, i.e. 1%); 0 turns defects off.
func WithDefectRate(perMille int) Option {
	return func(c *config) { c.perMille = min(max(perMille, 0), 1000) }
}

// WithDuplicateRate sets how many records in a thousand are exact copies of
// the last valid record (default 0: none). A copy has the same key, value
// and headers as the record it repeats, and the same Sale, with Duplicate
// set.
func WithDuplicateRate(perMille int) Option {
	return func(c *config) { c.dupPerMil = min(max(perMille, 0), 1000) }
}

// WithStart sets the event time of the first sale; later sales follow it by
// 0 to 2 seconds each.
func WithStart(t time.Time) Option {
	return func(c *config) { c.start = t.UTC() }
}

// Generator makes synthetic sale records. It is not safe for concurrent use,
// except Stats, which may be called at any time, from any goroutine.
type Generator struct {
	cfg     config
	rng     *rand.Rand
	weights int
	clock   time.Time
	seq     []int64 // per source: last transaction number
	last    *Sale   // the last valid sale, which a duplicate repeats
	stats   counters
}

// New returns a generator whose sequence of records is fixed by seed and
// opts.
func New(seed int64, opts ...Option) *Generator {
	cfg := config{sources: DefaultSources(), perMille: 10, start: DefaultStart, accounts: 400, products: 40, maxGapSec: 2}
	for _, o := range opts {
		o(&cfg)
	}
	g := &Generator{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(uint64(seed), 0x5ca1ab1e)),
		clock: cfg.start,
		seq:   make([]int64, len(cfg.sources)),
	}
	for _, s := range cfg.sources {
		if s.Name == "" || len(s.Currencies) == 0 || len(s.Reps) == 0 || s.Weight <= 0 {
			panic(fmt.Sprintf("synth: invalid source %+v: needs a name, currencies, reps and a positive weight", s))
		}
		g.weights += s.Weight
	}
	g.stats.init(cfg.sources)
	return g
}

// Sources returns the generator's sources, in the order Stats reports them.
func (g *Generator) Sources() []Source { return append([]Source(nil), g.cfg.sources...) }

// Sale is one generated sale, typed, before it is encoded (and possibly
// broken) into a record.
type Sale struct {
	EventID   string
	Source    string
	TxnID     string
	EventTime time.Time
	RepID     string
	AccountID string
	ProductID string
	Quantity  int64
	Amount    decimal.Decimal
	Currency  string
	// Defect says how Record breaks this sale's record; the other fields
	// hold the sale as it would have been.
	Defect Defect
	// Duplicate says the sale is a copy of an earlier valid one, whose
	// record it repeats byte for byte (see WithDuplicateRate).
	Duplicate bool

	source int // index in the generator's sources
	seq    int64
}

// NextSale draws the next sale of the sequence.
func (g *Generator) NextSale() Sale {
	if g.cfg.dupPerMil > 0 && g.last != nil && g.rng.IntN(1000) < g.cfg.dupPerMil {
		dup := *g.last
		dup.Duplicate = true
		return dup
	}
	src := g.pickSource()
	s := &g.cfg.sources[src]
	g.seq[src]++
	seq := g.seq[src]
	g.clock = g.clock.Add(time.Duration(g.rng.IntN(g.cfg.maxGapSec*1000+1)) * time.Millisecond)

	// Skewed towards the first reps, so that a leaderboard has leaders.
	rep := s.Reps[min(g.rng.IntN(len(s.Reps)), g.rng.IntN(len(s.Reps)))]
	cur := s.Currencies[g.rng.IntN(len(s.Currencies))]
	qty := int64(1 + g.rng.IntN(5))
	unit, exp := unitPrice(g.rng, cur)

	sale := Sale{
		Source:    s.Name,
		TxnID:     s.TxnPrefix + strconv.FormatInt(1000+seq, 10),
		EventTime: g.clock.Truncate(time.Second), // what RFC 3339 carries
		RepID:     rep,
		AccountID: "A-" + strconv.Itoa(1+g.rng.IntN(g.cfg.accounts)),
		ProductID: "P-" + strconv.Itoa(1+g.rng.IntN(g.cfg.products)),
		Quantity:  qty,
		Amount:    decimal.New(unit*qty, exp),
		Currency:  cur,
		source:    src,
		seq:       seq,
	}
	sale.EventID = sale.Source + ":" + sale.TxnID + ":sale"
	if g.rng.IntN(1000) < g.cfg.perMille {
		sale.Defect = Defect(1 + g.rng.IntN(NumDefects-1))
	}
	if sale.Defect == DefectNone && g.cfg.dupPerMil > 0 {
		last := sale
		g.last = &last
	}
	return sale
}

// unitPrice draws a unit price in the currency's minor unit (15.00 to
// 1,500.00), and the exponent that turns it into the major unit. The yen has
// no minor unit: ¥1,500 to ¥150,000.
func unitPrice(rng *rand.Rand, currency string) (int64, int32) {
	units := int64(1500 + rng.IntN(148501))
	if currency == "JPY" {
		return units, 0
	}
	return units, -2
}

func (g *Generator) pickSource() int {
	n := g.rng.IntN(g.weights)
	for i, s := range g.cfg.sources {
		if n < s.Weight {
			return i
		}
		n -= s.Weight
	}
	return len(g.cfg.sources) - 1
}

// wireSale is the canonical sale event as JSON (PROGRAMS.md §1); money is a
// decimal string.
type wireSale struct {
	EventID   string    `json:"event_id"`
	Source    string    `json:"source"`
	TxnID     string    `json:"txn_id"`
	Type      string    `json:"type"`
	EventTime string    `json:"event_time"`
	RepID     string    `json:"rep_id,omitempty"`
	AccountID string    `json:"account_id"`
	ProductID string    `json:"product_id"`
	Quantity  string    `json:"quantity"`
	Amount    wireMoney `json:"amount"`
}

type wireMoney struct {
	Value    string `json:"value"`
	Currency string `json:"currency"`
}

// Record encodes s as a record of the canonical JSON sale event, broken as
// s.Defect says: keyed by rep_id (no key without one), with a "source"
// header. The record has no topic; set it before producing.
func (g *Generator) Record(s Sale) *kgo.Record {
	w := wireSale{
		EventID:   s.EventID,
		Source:    s.Source,
		TxnID:     s.TxnID,
		Type:      "sale",
		EventTime: s.EventTime.UTC().Format(time.RFC3339),
		RepID:     s.RepID,
		AccountID: s.AccountID,
		ProductID: s.ProductID,
		Quantity:  strconv.FormatInt(s.Quantity, 10),
		Amount:    wireMoney{Value: s.Amount.StringFixed(max(0, -s.Amount.Exponent())), Currency: s.Currency},
	}
	switch s.Defect {
	case DefectMissingRepID:
		w.RepID = ""
	case DefectInvalidAmount:
		w.Amount.Value = invalidAmounts[s.seq%int64(len(invalidAmounts))]
	}
	value, err := json.Marshal(&w)
	if err != nil {
		// Only strings: Marshal cannot fail.
		panic(fmt.Sprintf("synth: encode sale: %v", err))
	}
	if s.Defect == DefectMalformedJSON {
		// Any proper prefix of a JSON object is invalid JSON.
		value = value[:len(value)*int(1+s.seq%3)/4]
	}
	r := &kgo.Record{
		Value:   value,
		Headers: []kgo.RecordHeader{{Key: HeaderSource, Value: []byte(s.Source)}},
	}
	if w.RepID != "" {
		r.Key = []byte(w.RepID)
	}
	return r
}

// Next returns the record of the next sale: Record(NextSale()).
func (g *Generator) Next() *kgo.Record { return g.Record(g.NextSale()) }
