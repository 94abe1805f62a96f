package contest

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
)

// Reject reasons of the contest stages.
const (
	ReasonMalformedCredit   = "malformed_credit"
	ReasonMalformedProgress = "malformed_progress"
	ReasonExpressionFailed  = "expression_failed"
)

// ProgressConfig configures the per-rep contest stage.
type ProgressConfig struct {
	Contests []*Contest
	// Tables give FX rates, and rep and product rows for filters; required.
	Tables *reference.Tables
	// Progress and Awards are the output topics; defaults TopicProgress
	// and TopicAwards.
	Progress, Awards string
	Metrics          *Metrics
}

// State is one key of a contest stage's state: a rep's progress
// (r/CONTEST/REP), what one sale gave (x/CONTEST/REP/SOURCE:TXN), a
// standing (s/CONTEST/REP) or a settled race (c/CONTEST).
type State struct {
	Measure decimal.Decimal `json:"measure"`
	// ReachedAt is the event time (Unix ms) of the credit that last took
	// the measure from below the target to it; 0 while below.
	ReachedAt int64 `json:"reached_at,omitempty"`
	Version   int64 `json:"version,omitempty"`
	Milestone bool  `json:"milestone,omitempty"`
	// Sale: the sale's amount (its own currency) and the rate used, and
	// what is left of its contribution.
	Amount decimal.Decimal `json:"amount"`
	Rate   decimal.Decimal `json:"rate"`
	Gave   decimal.Decimal `json:"gave"`
	Left   decimal.Decimal `json:"left"`
	// Settled marks a race decided (c/CONTEST).
	Settled bool `json:"settled,omitempty"`
}

// Codec stores State as JSON.
type Codec struct{}

// Encode implements pipeline.Codec.
func (Codec) Encode(dst []byte, s State) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// Decode implements pipeline.Codec.
func (Codec) Decode(b []byte) (State, error) {
	var s State
	err := json.Unmarshal(b, &s)
	return s, err
}

// Progress is the contest stage keyed by rep, over sales.credited: it keeps
// each rep's measure per contest, rewards milestones at once, and sends
// every change of a race's measure to the ranking stage.
type Progress struct {
	cfg ProgressConfig
}

// NewProgress builds the per-rep contest stage's processor.
func NewProgress(cfg ProgressConfig) (*Progress, error) {
	if cfg.Tables == nil {
		return nil, errors.New("contest: Tables are required")
	}
	if cfg.Progress == "" {
		cfg.Progress = TopicProgress
	}
	if cfg.Awards == "" {
		cfg.Awards = TopicAwards
	}
	return &Progress{cfg: cfg}, nil
}

// ProgressRecord is what the ranking stage receives, keyed by contest id.
type ProgressRecord struct {
	ContestID string `json:"contest_id"`
	RepID     string `json:"rep_id"`
	Measure   string `json:"measure"`
	ReachedAt int64  `json:"reached_at,omitempty"`
	Version   int64  `json:"version"`
	EventID   string `json:"event_id"`
}

// Process implements pipeline.Processor.
func (p *Progress) Process(c *pipeline.Context[State], rec *kgo.Record) error {
	cr, err := link.DecodeCredit(rec.Value)
	if err != nil {
		return &pipeline.Reject{Reason: ReasonMalformedCredit, Err: err}
	}
	e := cr.Event
	saleKey := e.Source + ":" + e.TxnID
	if e.Type == canonical.Return || e.Type == canonical.Cancel {
		saleKey = e.Source + ":" + e.RefTxnID
	}
	// Check every contest first: an expression that fails refuses the
	// credit before anything is written.
	type change struct {
		c     *Contest
		delta decimal.Decimal
		sale  *State
	}
	var changes []change
	for _, ct := range p.cfg.Contests {
		xk := "x/" + ct.ID + "/" + cr.RepID + "/" + saleKey
		switch e.Type {
		case canonical.Return, canonical.Cancel:
			s, ok := c.Get(xk)
			if !ok || s.Left.IsZero() {
				continue
			}
			back := s.Left
			if e.Type == canonical.Return {
				back = p.returned(ct, cr, &s)
			}
			s.Left = s.Left.Sub(back)
			changes = append(changes, change{ct, back.Neg(), &s})
		default:
			ok, err := p.counts(ct, cr)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			delta, rate, ok := p.contribution(ct, cr)
			if !ok {
				p.cfg.Metrics.skip("fx_rate_missing")
				continue
			}
			var sale *State
			if e.Type == canonical.Sale {
				sale = &State{Amount: e.Amount.Value, Rate: rate, Gave: delta, Left: delta}
			}
			changes = append(changes, change{ct, delta, sale})
		}
	}
	for _, ch := range changes {
		ct := ch.c
		if ch.sale != nil {
			c.Put("x/"+ct.ID+"/"+cr.RepID+"/"+saleKey, *ch.sale)
		}
		if ch.delta.IsZero() {
			continue
		}
		rk := "r/" + ct.ID + "/" + cr.RepID
		st, _ := c.Get(rk)
		before := st.Measure
		st.Measure = st.Measure.Add(ch.delta)
		st.Version++
		if t := ct.Target; t.Valid {
			switch {
			case before.LessThan(t.Decimal) && !st.Measure.LessThan(t.Decimal):
				st.ReachedAt = e.EventTime.UnixMilli()
			case st.Measure.LessThan(t.Decimal):
				st.ReachedAt = 0
			}
		}
		if ct.Kind == Milestone && st.ReachedAt > 0 && !st.Milestone && ct.In(e.EventTime) {
			st.Milestone = true
			a := newAward(ct, cr.RepID, 0, false, st.Measure, ct.Reward, link.EventID(e))
			c.Emit(p.cfg.Awards, []byte(cr.RepID), a.json())
			p.cfg.Metrics.award(ct.ID)
		}
		c.Put(rk, st)
		if ct.Kind == Race {
			pr := ProgressRecord{ContestID: ct.ID, RepID: cr.RepID, Measure: st.Measure.String(), ReachedAt: st.ReachedAt,
				Version: st.Version, EventID: link.EventID(e)}
			b, _ := json.Marshal(pr)
			c.Emit(p.cfg.Progress, []byte(ct.ID), b)
		}
	}
	return nil
}

// counts reports whether a sale or adjustment counts in ct: in the window,
// by a participant, passing the filter.
func (p *Progress) counts(ct *Contest, cr *link.Credit) (bool, error) {
	e := cr.Event
	if !ct.In(e.EventTime) {
		return false, nil
	}
	if len(ct.Reps) > 0 && !contains(ct.Reps, cr.RepID) {
		return false, nil
	}
	rep, hasRep := cr.Rep(p.cfg.Tables)
	if len(ct.Roles) > 0 && (!hasRep || !contains(ct.Roles, rep.Role)) {
		return false, nil
	}
	if ct.Filter == nil {
		return true, nil
	}
	var rp *reference.Rep
	if hasRep {
		rp = &rep
	}
	var pp *reference.Product
	if e.ProductID != "" {
		if pr, ok := p.cfg.Tables.Product(e.ProductID, reference.DateOf(e.EventTime)); ok {
			pp = &pr
		}
	}
	ok, err := ct.Filter.Match(program.NewEnv(e, rp, pp))
	if err != nil {
		return false, pipeline.Rejectf(ReasonExpressionFailed, "filter", "contest %s: %v", ct.ID, err)
	}
	return ok, nil
}

// contribution is what a sale or adjustment adds to the measure, and the
// rate used (amount and margin are converted into the contest's currency
// at the rate of the event's date).
func (p *Progress) contribution(ct *Contest, cr *link.Credit) (decimal.Decimal, decimal.Decimal, bool) {
	e := cr.Event
	one := decimal.NewFromInt(1)
	switch ct.Measure {
	case program.Amount:
		rate, ok := p.rate(e.Amount.Currency, ct.Currency, e.EventTime)
		return e.Amount.Value.Mul(cr.Share).Mul(rate), rate, ok
	case program.Margin:
		if e.Margin == nil {
			return decimal.Zero, one, true
		}
		rate, ok := p.rate(e.Margin.Currency, ct.Currency, e.EventTime)
		return e.Margin.Value.Mul(cr.Share).Mul(rate), rate, ok
	case program.Quantity:
		if !e.Quantity.Valid {
			return decimal.Zero, one, true
		}
		return e.Quantity.Decimal.Mul(cr.Share), one, true
	}
	if e.Type == canonical.Sale {
		return cr.Share, one, true
	}
	return decimal.Zero, one, true
}

// returned is what a return takes back of a sale's contribution, at most
// what is left: its share of the returned amount at the sale's rate
// (amount), the returned fraction of the sale's margin (margin), the
// returned quantity (quantity); a count is not changed by a return.
func (p *Progress) returned(ct *Contest, cr *link.Credit, sale *State) decimal.Decimal {
	e := cr.Event
	var back decimal.Decimal
	switch ct.Measure {
	case program.Amount:
		back = e.Amount.Value.Mul(cr.Share).Mul(sale.Rate)
	case program.Margin:
		if sale.Amount.IsZero() {
			return decimal.Zero
		}
		// The returned fraction of the sale's amount, of what the sale
		// gave at first.
		back = e.Amount.Value.Div(sale.Amount).Mul(sale.Gave)
	case program.Quantity:
		if e.Quantity.Valid {
			back = e.Quantity.Decimal.Mul(cr.Share)
		}
	}
	if back.GreaterThan(sale.Left) {
		back = sale.Left
	}
	return back
}

func (p *Progress) rate(from, to string, t time.Time) (decimal.Decimal, bool) {
	if from == to || to == "" {
		return decimal.NewFromInt(1), true
	}
	return p.cfg.Tables.Rate(from, to, reference.DateOf(t))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// splitKey returns the rep of a state key r/CONTEST/REP or
// s/CONTEST/REP.
func splitKey(k string) (contest, rep string, ok bool) {
	rest := k[2:]
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}
