// Package feed generates realistic raw sales feeds for the benchmarks: the
// records four upstream systems send, in their own formats, as the example
// source mappings of connectors/examples read them, with the reference data
// that links them and updates to it interleaved.
//
//   - crm-na: CRM opportunities, one JSON object a record, reps by employee
//     id (an identity), USD and CAD; a won deal reopened is a cancel.
//   - erp-eu: an ERP's orders table through Debezium (inserts, snapshot
//     reads, updates, deletes and their tombstones), reps by id, EUR and
//     GBP, margins; an order cancelled or deleted is a cancel.
//   - pos-de: a point-of-sale export, a few receipts a record (a till's
//     upload: header row, semicolons, decimal comma, Berlin wall-clock
//     time), cashiers by code (an identity); returns and voids of earlier
//     receipts of the same store.
//   - shop: e-commerce order webhooks, credit split between two or three
//     referring reps on some orders, USD, EUR and GBP; a refund is a cancel.
//
// Reps are drawn from a Zipf distribution (a few sell most); some records
// are late (event time behind the feed's clock), some are malformed in the
// ways each format breaks, some are sent twice, some are deliberately not
// events (lost deals, drafts, training receipts). Every record carries what
// the ingest stage must make of it, and Expect adds those up, so that a
// benchmark or a test checks counts rather than trusting them.
//
// Generate is a pure function of its Config: the same seed gives the same
// records, byte for byte.
package feed

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/accrue/accrue/transforms/reference"
)

// The sources, by their canonical names (the examples' `source:`).
const (
	CRM  = "crm-na"
	ERP  = "erp-eu"
	POS  = "pos-de"
	Shop = "shop"
)

// SourceNames lists the sources in a fixed order.
var SourceNames = []string{CRM, ERP, POS, Shop}

// RawTopic is the topic a source's records are produced to.
func RawTopic(source string) string { return "raw." + source }

// Config says what to generate. Zero fields take the defaults given.
type Config struct {
	// Seed makes the feed; the same seed, the same feed.
	Seed uint64
	// Records is the number of records of the sources (Kafka records; a
	// POS record holds several receipts). Default 10,000.
	Records int
	// Reps is the initial sales force. Default 1,000.
	Reps int
	// ZipfS is the exponent of the reps' Zipf distribution, above 1.
	// Default 1.1: the busiest rep of 1,000 makes about 18% of the sales,
	// the busiest ten about half.
	ZipfS float64
	// Start is the event time of the first record; default 2026-09-01 UTC.
	Start time.Time
	// Span is the event time the records cover; default 90 days.
	Span time.Duration
	// MalformedPerMille is the share of records broken on purpose (in a
	// POS record, of rows), in thousandths. Default 10; -1 for none.
	MalformedPerMille int
	// LatePerMille is the share of sales whose event time is behind the
	// feed's clock by up to LateBy. Default 30; -1 for none.
	LatePerMille int
	// LateBy bounds how late a late sale is; default 7 days.
	LateBy time.Duration
	// CancelPerMille is the share of records that cancel (or, at the
	// tills, return part of) an earlier sale. Default 60; -1 for none.
	CancelPerMille int
	// DuplicatePerMille is the share of records that are exact copies of
	// an earlier clean sale (a source that retries). Default 5; -1 for
	// none.
	DuplicatePerMille int
	// SkipPerMille is the share of records that are not events on
	// purpose (lost deals, drafts, no-change updates, training receipts,
	// pending orders). Default 20; -1 for none.
	SkipPerMille int
	// SplitPerMille is the share of shop orders whose credit is split
	// between reps. Default 300; -1 for none.
	SplitPerMille int
	// RefEvery puts a reference update (a rep moving team, a new rep, a
	// new exchange rate) after every RefEvery records. Default 500; -1
	// for none.
	RefEvery int
	// POSReceipts bounds the receipts of a POS record; default 8.
	POSReceipts int
}

func (c *Config) defaults() error {
	def := func(v *int, d int) {
		switch {
		case *v == 0:
			*v = d
		case *v < 0:
			*v = 0
		}
	}
	if c.Records == 0 {
		c.Records = 10_000
	}
	if c.Reps == 0 {
		c.Reps = 1000
	}
	if c.ZipfS == 0 {
		c.ZipfS = 1.1
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	}
	if c.Span == 0 {
		c.Span = 90 * 24 * time.Hour
	}
	if c.LateBy == 0 {
		c.LateBy = 7 * 24 * time.Hour
	}
	def(&c.MalformedPerMille, 10)
	def(&c.LatePerMille, 30)
	def(&c.CancelPerMille, 60)
	def(&c.DuplicatePerMille, 5)
	def(&c.SkipPerMille, 20)
	def(&c.SplitPerMille, 300)
	def(&c.RefEvery, 500)
	def(&c.POSReceipts, 8)
	switch {
	case c.Records < 0 || c.Reps < 4:
		return fmt.Errorf("feed: need Records ≥ 0 and Reps ≥ 4, have %d and %d", c.Records, c.Reps)
	case c.ZipfS <= 1:
		return fmt.Errorf("feed: ZipfS must be above 1, is %v", c.ZipfS)
	case c.MalformedPerMille+c.CancelPerMille+c.DuplicatePerMille+c.SkipPerMille > 1000:
		return fmt.Errorf("feed: malformed, cancel, duplicate and skip shares add up to more than 1000‰")
	}
	return nil
}

// Outcome is what the ingest stage must make of one record of a payload
// (a row of a POS export, the only record of any other): an event, a
// reject with its reason, or a skip with its reason.
type Outcome struct {
	// Reject is the reason code of a refused record ("" otherwise).
	Reject string
	// Skip is the reason of a record that is deliberately not an event.
	Skip string
	// Kind says what an event is: KindSale, KindCancel, KindReturn.
	Kind Kind
	// Duplicate marks an exact copy of an earlier event: the dedupe and
	// link stages refuse it (reason duplicate).
	Duplicate bool
	// Late marks a sale whose event time is behind the feed's clock.
	Late bool
	// Credits is how many credits the link stage makes of the event: one
	// per recipient of its sale (0 for a duplicate).
	Credits int
}

// Kind is the kind of an event.
type Kind uint8

// The kinds of events a feed holds.
const (
	KindNone Kind = iota
	KindSale
	KindCancel
	KindReturn
)

// Item is one record of the feed: a raw record of a source, or a
// reference update (Ref set), in the order a producer sends them.
type Item struct {
	// Topic is RawTopic(Source) for a raw record, the reference kind's
	// topic (reference.Kind.Topic) for an update.
	Topic  string
	Source string
	Key    []byte
	// Value is nil for a Debezium tombstone.
	Value []byte
	// Want is what must become of each record of Value, in order.
	Want []Outcome
	// Ref is the reference row of an update.
	Ref reference.Row
}

// Expect adds up what the ingest, dedupe and link stages must make of a
// feed.
type Expect struct {
	// Records are the raw records, and Rows the records in them (a POS
	// record holds several rows).
	Records, Rows int
	// Events are the events the ingest stage emits (duplicates included),
	// Clean those the dedupe stage passes.
	Events, Clean int
	// Duplicates are the copies the dedupe stage refuses.
	Duplicates int
	// Sales, Cancels, Returns and Late count the clean events by kind;
	// Late are sales behind the clock, Splits sales split between reps.
	Sales, Cancels, Returns, Late, Splits int
	// Credits are the credits the link stage emits.
	Credits int
	// Rejected counts the ingest stage's rejects by reason; Skipped the
	// records that are not events, by reason.
	Rejected, Skipped map[string]int
	// BySource counts the raw records of each source.
	BySource map[string]int
	// RefUpdates counts the reference updates among the items.
	RefUpdates int
}

// RejectedTotal is the number of rows the ingest stage refuses.
func (e *Expect) RejectedTotal() int {
	n := 0
	for _, v := range e.Rejected {
		n += v
	}
	return n
}

// Feed is a generated feed.
type Feed struct {
	Config Config
	// Reference is the reference data to load before the first item.
	Reference []reference.Row
	// Items are the records in production order.
	Items  []Item
	Expect Expect
	// End is the feed's clock after the last record.
	End time.Time
}

// Now is the wall clock the gatekeepers should check the feed against: an
// hour after its last event time, so that no event is in the future and
// the feed checks the same whenever it is run.
func (f *Feed) Now() time.Time { return f.End.Add(time.Hour) }

// Raw returns the raw records, without the reference updates.
func (f *Feed) Raw() []Item {
	out := make([]Item, 0, f.Expect.Records)
	for _, it := range f.Items {
		if it.Ref == nil {
			out = append(out, it)
		}
	}
	return out
}

// Tables returns the reference tables the feed's events are linked
// against: the initial data and every update.
func (f *Feed) Tables() *reference.Tables {
	var tb reference.Tables
	for _, r := range f.Reference {
		tb.Put(r)
	}
	for _, it := range f.Items {
		if it.Ref != nil {
			tb.Put(it.Ref)
		}
	}
	return &tb
}

// Generate makes a feed.
func Generate(cfg Config) (*Feed, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	g := newGen(cfg)
	g.reference()
	weights := []int{40, 25, 20, 15} // crm, erp, pos, shop: records
	for i := 0; i < cfg.Records; i++ {
		g.clock = cfg.Start.Add(time.Duration(float64(cfg.Span) * float64(i) / float64(max(cfg.Records, 1))))
		if cfg.RefEvery > 0 && i > 0 && i%cfg.RefEvery == 0 {
			g.refUpdate()
		}
		k := g.rnd.IntN(100)
		src := 0
		for k >= weights[src] {
			k -= weights[src]
			src++
		}
		g.record(SourceNames[src])
	}
	g.f.End = cfg.Start.Add(cfg.Span)
	return g.f, nil
}

// gen is the state of one Generate.
type gen struct {
	cfg   Config
	rnd   *rand.Rand
	f     *Feed
	clock time.Time

	reps     []string // the sales force, busiest first
	zipf     *rand.Zipf
	managers int
	accounts int
	products int
	fx       map[string]float64 // "EUR/USD" → rate in force

	// open sales that a cancel or return may take, per source (POS: per
	// store), each taken at most once so that the figures a feed makes do
	// not depend on how partitions interleave.
	open map[string][]sale
	// last is the last clean single-event sale record of CRM or shop, to
	// copy.
	last []Item
	seq  int
}

// sale is what a cancel or return needs of its sale.
type sale struct {
	txn      string
	rep      string // as the source names it
	recips   int
	amount   int64 // cents
	currency string
	product  int
	account  int
	id       int // ERP row id, shop order id
	row      string
}

func newGen(cfg Config) *gen {
	g := &gen{cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed_feed)),
		f:    &Feed{Config: cfg, Expect: Expect{Rejected: map[string]int{}, Skipped: map[string]int{}, BySource: map[string]int{}}},
		open: map[string][]sale{}, fx: map[string]float64{}}
	return g
}

// rep draws a rep of the sales force, by Zipf.
func (g *gen) rep() (string, int) {
	i := int(g.zipf.Uint64())
	return g.reps[i], i
}

func (g *gen) repIndex(id string) int {
	n, _ := strconv.Atoi(id[2:])
	return n
}

func (g *gen) emit(it Item) {
	if it.Ref != nil {
		v, err := reference.Encode(it.Ref)
		if err != nil {
			panic(fmt.Sprintf("feed: reference row %s: %v", reference.RecordKey(it.Ref), err))
		}
		it.Value = v
		g.f.Expect.RefUpdates++
		g.f.Items = append(g.f.Items, it)
		return
	}
	e := &g.f.Expect
	e.Records++
	e.BySource[it.Source]++
	for _, w := range it.Want {
		e.Rows++
		switch {
		case w.Reject != "":
			e.Rejected[w.Reject]++
		case w.Skip != "":
			e.Skipped[w.Skip]++
		default:
			e.Events++
			if w.Duplicate {
				e.Duplicates++
				continue
			}
			e.Clean++
			e.Credits += w.Credits
			switch w.Kind {
			case KindSale:
				e.Sales++
				if w.Credits > 1 {
					e.Splits++
				}
			case KindCancel:
				e.Cancels++
			case KindReturn:
				e.Returns++
			}
			if w.Late {
				e.Late++
			}
		}
	}
	g.f.Items = append(g.f.Items, it)
}

// what a record is, drawn once per record (per row at the tills).
type what uint8

const (
	wSale what = iota
	wMalformed
	wCancel
	wDuplicate
	wSkip
)

func (g *gen) draw() what {
	k := g.rnd.IntN(1000)
	for _, c := range []struct {
		w  what
		pm int
	}{{wMalformed, g.cfg.MalformedPerMille}, {wCancel, g.cfg.CancelPerMille}, {wDuplicate, g.cfg.DuplicatePerMille}, {wSkip, g.cfg.SkipPerMille}} {
		if k < c.pm {
			return c.w
		}
		k -= c.pm
	}
	return wSale
}

// eventTime is the clock, a little jitter, and for a late sale up to
// LateBy behind.
func (g *gen) eventTime(late bool) time.Time {
	t := g.clock.Add(-time.Duration(g.rnd.IntN(60)) * time.Second)
	if late {
		t = t.Add(-time.Hour - time.Duration(g.rnd.Int64N(int64(g.cfg.LateBy))))
	}
	return t.Truncate(time.Second)
}

func (g *gen) late() bool { return g.rnd.IntN(1000) < g.cfg.LatePerMille }

// money returns an amount in cents between lo and hi units.
func (g *gen) money(lo, hi int) int64 {
	return int64(lo)*100 + g.rnd.Int64N(int64(hi-lo)*100)
}

// take removes and returns one of the open sales of key, among the
// latest 64.
func (g *gen) take(key string) (sale, bool) {
	s := g.open[key]
	if len(s) == 0 {
		return sale{}, false
	}
	i := len(s) - 1 - g.rnd.IntN(min(len(s), 64))
	out := s[i]
	s[i] = s[len(s)-1]
	g.open[key] = s[:len(s)-1]
	return out, true
}

func (g *gen) keep(key string, s sale) {
	if len(g.open[key]) >= 4096 {
		g.open[key] = g.open[key][1:]
	}
	g.open[key] = append(g.open[key], s)
}

func (g *gen) record(source string) {
	switch source {
	case CRM:
		g.crm()
	case ERP:
		g.erp()
	case POS:
		g.pos()
	case Shop:
		g.shop()
	}
}

// duplicate copies an earlier clean CRM or shop sale; false when there is
// none yet.
func (g *gen) duplicate() bool {
	if len(g.last) == 0 {
		return false
	}
	it := g.last[g.rnd.IntN(len(g.last))]
	it.Want = []Outcome{{Kind: KindSale, Duplicate: true}}
	g.emit(it)
	return true
}

func (g *gen) remember(it Item) {
	if len(g.last) < 256 {
		g.last = append(g.last, it)
		return
	}
	g.last[g.rnd.IntN(len(g.last))] = it
}

func cents(c int64, sep byte) string {
	s := strconv.FormatInt(c/100, 10) + string(sep)
	r := c % 100
	if r < 10 {
		s += "0"
	}
	return s + strconv.FormatInt(r, 10)
}
