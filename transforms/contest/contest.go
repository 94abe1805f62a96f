// Package contest runs time-boxed competitions among reps, defined like
// programs in YAML documents (docs/nudges.md, "Contests"):
//
//   - milestone: everyone whose measure reaches the target in the window
//     is rewarded, as soon as the credit that reaches it is processed;
//   - race, first N: the first N to reach the target, by the event time of
//     the credit that reached it;
//   - race, top N: the N highest measures at the end.
//
// Rewards are by rank (an amount and currency, or a badge) and are emitted
// as award events on the awards topic, keyed by rep, with deterministic
// ids; the delivery stage turns them into messages and certificates.
//
// Races need a view of every rep, so the engine is two stages:
//
//	sales.credited (key: rep) ─► [contest, keyed by rep] ─► awards (milestones)
//	                                      └─► contest.progress (key: contest id)
//	contest.progress ─► [contest-rank, keyed by contest id] ─► awards (race results, once the race is settled)
//
// Progress keeps each rep's measure in keyed state, with what every sale
// gave so that returns and cancels take it back. Rank keeps each contest's
// standings and decides a race when it is settled: after the end of its
// last day plus its settle time, so that late sales count.
package contest

import (
	"fmt"
	"os"
	"time"

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/internal/yamldoc"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/reference"
)

// Kind is a contest's kind.
type Kind string

// The kinds of contest.
const (
	Milestone Kind = "milestone"
	Race      Kind = "race"
)

// Contest is one contest document, parsed.
type Contest struct {
	ID   string
	Name string
	Kind Kind
	// Location is the zone the window's dates are in; Starts and Ends are
	// inclusive local dates.
	Location *time.Location
	Starts   reference.Date
	Ends     reference.Date
	// Settle is how long after the end a race waits for late sales before
	// its results are decided.
	Settle   time.Duration
	Currency string
	Measure  program.Measure
	Filter   *program.Expr
	// Reps, when not empty, are the only reps who take part; Roles
	// likewise filters by the rep's role as of the sale.
	Reps  []string
	Roles []string
	// Target: the measure to reach (milestone, race first N; the minimum
	// to be ranked in a race top N, when set).
	Target decimal.NullDecimal
	// First or Top is N of a race.
	First, Top int
	// Rewards are the rewards by rank (races); Reward is a milestone's.
	Rewards []Reward
	Reward  *Reward
	// Document is the document as written.
	Document []byte
}

// Reward is what one rank (or a milestone) wins: an amount in a currency,
// or a badge.
type Reward struct {
	// FromRank and ToRank bound the ranks it is for (inclusive).
	FromRank, ToRank int
	Amount           decimal.NullDecimal
	Currency         string
	Badge            string
}

// For returns the reward for rank, nil when there is none.
func (c *Contest) For(rank int) *Reward {
	for i := range c.Rewards {
		if r := &c.Rewards[i]; rank >= r.FromRank && rank <= r.ToRank {
			return r
		}
	}
	return nil
}

// Opens is the first instant of the window; Closes the instant after its
// last; SettledAt when a race's results are decided.
func (c *Contest) Opens() time.Time { return localMidnight(c.Starts, c.Location) }

// Closes is the instant after the window's last day.
func (c *Contest) Closes() time.Time { return localMidnight(c.Ends+1, c.Location) }

// SettledAt is Closes plus Settle.
func (c *Contest) SettledAt() time.Time { return c.Closes().Add(c.Settle) }

// In reports whether t is in the window.
func (c *Contest) In(t time.Time) bool { return !t.Before(c.Opens()) && t.Before(c.Closes()) }

func localMidnight(d reference.Date, loc *time.Location) time.Time {
	u := d.Time()
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, loc)
}

var (
	topKeys    = []string{"id", "name", "kind", "timezone", "starts", "ends", "settle", "currency", "measure", "filter", "participants", "target", "race", "rewards", "reward"}
	partKeys   = []string{"roles", "reps"}
	raceKeys   = []string{"first", "top"}
	rewardKeys = []string{"rank", "ranks", "amount", "currency", "badge"}
	rangeKeys  = []string{"from", "to"}
	kinds      = []string{string(Milestone), string(Race)}
	measures   = []string{string(program.Amount), string(program.Margin), string(program.Quantity), string(program.Count)}
)

// Load reads and parses a contest file.
func Load(path string) (*Contest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse reads a contest document and checks it completely: a document with
// problems is refused whole, the error a yamldoc.Problems with every
// problem's line and column.
func Parse(file string, doc []byte) (*Contest, error) {
	root, d := yamldoc.Open(file, doc, "contest")
	if d.Failed() {
		return nil, d.Err()
	}
	c := &Contest{Location: time.UTC, Settle: 24 * time.Hour, Document: append([]byte(nil), doc...)}
	top := d.Object(root, "", yamldoc.Start, topKeys)
	if v, ok := top.Required("id"); ok {
		c.ID, _ = d.ID(v, "id")
	}
	if v, ok := top.Optional("name"); ok {
		c.Name, _ = d.Str(v, "name")
	}
	if c.Name == "" {
		c.Name = c.ID
	}
	if v, ok := top.Required("kind"); ok {
		k, _ := d.Enum(v, "kind", "kind", kinds)
		c.Kind = Kind(k)
	}
	if v, ok := top.Optional("timezone"); ok {
		if loc, ok := d.Timezone(v, "timezone"); ok {
			c.Location = loc
		}
	}
	date := func(key string) (reference.Date, bool) {
		v, ok := top.Required(key)
		if !ok {
			return 0, false
		}
		s, ok := d.Str(v, key)
		if !ok {
			return 0, false
		}
		day, err := reference.ParseDate(s)
		if err != nil || s == "" {
			d.Errf(v.Pos, key, "want a date YYYY-MM-DD, got %s", v.Describe())
			return 0, false
		}
		return day, true
	}
	var startOK, endOK bool
	c.Starts, startOK = date("starts")
	c.Ends, endOK = date("ends")
	if startOK && endOK && c.Ends < c.Starts {
		d.Errf(top.KeyPos("ends"), "ends", "%s is before starts %s", c.Ends, c.Starts)
	}
	if v, ok := top.Optional("settle"); ok {
		c.Settle, _ = d.Duration(v, "settle", 0)
	}
	if v, ok := top.Required("measure"); ok {
		m, _ := d.Enum(v, "measure", "measure", measures)
		c.Measure = program.Measure(m)
	}
	if v, ok := top.Optional("currency"); ok {
		c.Currency, _ = d.Currency(v, "currency")
	}
	if c.Currency == "" && (c.Measure == program.Amount || c.Measure == program.Margin) && !top.Has("currency") {
		d.Errf(top.KeyPos("measure"), "currency", "measure %s needs the currency it is counted in: add currency", c.Measure)
	}
	if v, ok := top.Optional("filter"); ok {
		if src, ok := d.Str(v, "filter"); ok {
			x, err := program.NewExpr(src)
			if err != nil {
				d.Errf(v.Pos, "filter", "%s", firstLine(err.Error()))
			}
			c.Filter = x
		}
	}
	if v, ok := top.Optional("participants"); ok {
		o := d.Object(v, "participants", top.KeyPos("participants"), partKeys)
		if v, ok := o.Optional("roles"); ok {
			c.Roles = d.Names(v, "participants.roles")
		}
		if v, ok := o.Optional("reps"); ok {
			c.Reps = d.Names(v, "participants.reps")
		}
	}
	if v, ok := top.Optional("target"); ok {
		if x, ok := d.Positive(v, "target"); ok {
			c.Target = decimal.NullDecimal{Decimal: x, Valid: true}
		}
	}
	switch c.Kind {
	case Milestone:
		if !top.Has("target") {
			d.Errf(top.KeyPos("kind"), "target", "a milestone contest needs the target everyone is rewarded for reaching: add target")
		}
		for _, k := range []string{"race", "rewards"} {
			if top.Has(k) {
				d.Errf(top.KeyPos(k), k, "%s is for races; a milestone has one reward (reward)", k)
			}
		}
		if v, ok := top.Required("reward"); ok {
			r := reward(d, c, v, "reward", top.KeyPos("reward"), false)
			c.Reward = &r
		}
	case Race:
		if top.Has("reward") {
			d.Errf(top.KeyPos("reward"), "reward", "a race rewards by rank: write rewards, a list with rank or ranks")
		}
		if v, ok := top.Required("race"); ok {
			o := d.Object(v, "race", top.KeyPos("race"), raceKeys)
			first, hasFirst := o.Optional("first")
			topN, hasTop := o.Optional("top")
			switch {
			case hasFirst && hasTop:
				d.Errf(o.KeyPos("top"), "race", "a race is the first N to reach the target or the top N at the end, not both")
			case hasFirst:
				c.First, _ = d.Int(first, "race.first", 1, 100000)
				if !top.Has("target") {
					d.Errf(o.KeyPos("first"), "target", "the first N to reach what? add target")
				}
			case hasTop:
				c.Top, _ = d.Int(topN, "race.top", 1, 100000)
			default:
				d.Errf(top.KeyPos("race"), "race", "give first: N (the first N to reach the target) or top: N (the N highest at the end)")
			}
		}
		if v, ok := top.Required("rewards"); ok {
			c.Rewards = rewards(d, c, v)
		}
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

func rewards(d *yamldoc.Decoder, c *Contest, n yamldoc.Node) []Reward {
	if n.Kind != yamldoc.Sequence {
		d.Errf(n.Pos, "rewards", "want a list of rewards ({rank, amount} or {ranks: {from, to}, badge}), got %s", n.Describe())
		return nil
	}
	n2 := c.First + c.Top
	var out []Reward
	taken := map[int]int{}
	for i, it := range n.Items {
		path := fmt.Sprintf("rewards[%d]", i)
		r := reward(d, c, it, path, it.Pos, true)
		if r.FromRank == 0 {
			continue
		}
		for k := r.FromRank; k <= r.ToRank && k <= r.FromRank+100000; k++ {
			if j, dup := taken[k]; dup {
				d.Errf(it.Pos, path, "rank %d is also rewarded by rewards[%d]", k, j)
				break
			}
			taken[k] = i
		}
		if n2 > 0 && r.ToRank > n2 {
			d.Errf(it.Pos, path, "rank %d is beyond the %d the race ranks", r.ToRank, n2)
		}
		out = append(out, r)
	}
	return out
}

func reward(d *yamldoc.Decoder, c *Contest, n yamldoc.Node, path string, at yamldoc.Pos, ranked bool) Reward {
	known := []string{"amount", "currency", "badge"}
	if ranked {
		known = rewardKeys
	}
	o := d.Object(n, path, at, known)
	var r Reward
	if ranked {
		rank, hasRank := o.Optional("rank")
		ranks, hasRanks := o.Optional("ranks")
		switch {
		case hasRank && hasRanks:
			d.Errf(o.KeyPos("ranks"), path, "give rank or ranks, not both")
		case hasRank:
			r.FromRank, _ = d.Int(rank, path+".rank", 1, 100000)
			r.ToRank = r.FromRank
		case hasRanks:
			ro := d.Object(ranks, path+".ranks", o.KeyPos("ranks"), rangeKeys)
			if v, ok := ro.Required("from"); ok {
				r.FromRank, _ = d.Int(v, path+".ranks.from", 1, 100000)
			}
			if v, ok := ro.Required("to"); ok {
				r.ToRank, _ = d.Int(v, path+".ranks.to", 1, 100000)
			}
			if r.FromRank > 0 && r.ToRank > 0 && r.ToRank < r.FromRank {
				d.Errf(o.KeyPos("ranks"), path+".ranks", "to %d is below from %d", r.ToRank, r.FromRank)
				r.FromRank = 0
			}
		default:
			d.Errf(at, path, "give the rank it rewards (rank: 1) or ranks (ranks: {from: 4, to: 10})")
		}
	}
	amount, hasAmount := o.Optional("amount")
	badge, hasBadge := o.Optional("badge")
	switch {
	case hasAmount && hasBadge:
		d.Errf(o.KeyPos("badge"), path, "a reward is an amount or a badge, not both")
	case hasAmount:
		if x, ok := d.Positive(amount, path+".amount"); ok {
			r.Amount = decimal.NullDecimal{Decimal: x, Valid: true}
		}
		r.Currency = c.Currency
		if v, ok := o.Optional("currency"); ok {
			r.Currency, _ = d.Currency(v, path+".currency")
		}
		if r.Currency == "" && !o.Has("currency") {
			d.Errf(o.KeyPos("amount"), path+".currency", "an amount needs a currency: add currency here or to the contest")
		}
	case hasBadge:
		r.Badge, _ = d.ID(badge, path+".badge")
		if o.Has("currency") {
			d.Errf(o.KeyPos("currency"), path+".currency", "a badge has no currency")
		}
	default:
		d.Errf(at, path, "give amount (with currency) or badge")
	}
	return r
}
