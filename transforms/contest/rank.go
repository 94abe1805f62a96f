package contest

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
)

// RankConfig configures the contest ranking stage.
type RankConfig struct {
	Contests []*Contest
	// Awards is the output topic; default TopicAwards.
	Awards string
	// Now is the clock races are settled by; default time.Now.
	Now     func() time.Time
	Metrics *Metrics
}

// Rank is the contest ranking stage, keyed by contest id over
// contest.progress: it keeps every rep's standing per race (s/CONTEST/REP)
// and, on the first tick after a race's SettledAt, decides it and emits its
// awards, once (c/CONTEST marks it settled).
//
// Ranking, ties included (competition ranking: 1, 1, 3):
//
//   - first N: reps whose measure is at or above the target, by the event
//     time of the credit that took them there (a rep who fell below and
//     came back is timed by the last time); equal times share a rank;
//   - top N: reps with a positive measure (and at least the target, where
//     one is set), highest first; equal measures share a rank.
//
// Every rep whose rank is at most N is rewarded with the reward of their
// rank, so a tie at the last place rewards every tied rep.
type Rank struct {
	cfg   RankConfig
	by    map[string]*Contest
	parts map[int32]*standings
}

type standings struct {
	epoch uint64
	by    map[string]map[string]State // contest → rep → standing
	done  map[string]bool
}

// NewRank builds the ranking stage's processor.
func NewRank(cfg RankConfig) (*Rank, error) {
	if cfg.Awards == "" {
		cfg.Awards = TopicAwards
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Rank{cfg: cfg, by: map[string]*Contest{}, parts: map[int32]*standings{}}
	for _, c := range cfg.Contests {
		if _, dup := r.by[c.ID]; dup {
			return nil, errors.New("contest: " + c.ID + " is given twice")
		}
		r.by[c.ID] = c
	}
	return r, nil
}

func (r *Rank) index(c *pipeline.Context[State], partition int32) *standings {
	ix := r.parts[partition]
	if ix != nil && ix.epoch == c.StateEpoch() {
		return ix
	}
	ix = &standings{epoch: c.StateEpoch(), by: map[string]map[string]State{}, done: map[string]bool{}}
	c.Scan(func(k string, s State) bool {
		switch {
		case strings.HasPrefix(k, "c/"):
			ix.done[k[2:]] = true
		case strings.HasPrefix(k, "s/"):
			if id, rep, ok := splitKey(k); ok {
				if ix.by[id] == nil {
					ix.by[id] = map[string]State{}
				}
				ix.by[id][rep] = s
			}
		}
		return true
	})
	r.parts[partition] = ix
	return ix
}

// Process implements pipeline.Processor.
func (r *Rank) Process(c *pipeline.Context[State], rec *kgo.Record) error {
	var pr ProgressRecord
	if err := json.Unmarshal(rec.Value, &pr); err != nil {
		return &pipeline.Reject{Reason: ReasonMalformedProgress, Err: err}
	}
	m, err := decimal.NewFromString(pr.Measure)
	if err != nil || pr.ContestID == "" || pr.RepID == "" {
		return pipeline.Rejectf(ReasonMalformedProgress, "", "progress needs contest_id, rep_id and a decimal measure")
	}
	ix := r.index(c, rec.Partition)
	if ix.done[pr.ContestID] {
		r.cfg.Metrics.lateProgress(pr.ContestID)
		return nil
	}
	if ix.by[pr.ContestID] == nil {
		ix.by[pr.ContestID] = map[string]State{}
	}
	if old, ok := ix.by[pr.ContestID][pr.RepID]; ok && old.Version >= pr.Version {
		return nil
	}
	s := State{Measure: m, ReachedAt: pr.ReachedAt, Version: pr.Version}
	ix.by[pr.ContestID][pr.RepID] = s
	c.Put("s/"+pr.ContestID+"/"+pr.RepID, s)
	r.settle(c, ix, r.cfg.Now())
	return nil
}

// Tick implements pipeline.Ticker: races whose time has come are settled.
func (r *Rank) Tick(c *pipeline.Context[State], partition int32, _ time.Time) {
	r.settle(c, r.index(c, partition), r.cfg.Now())
}

func (r *Rank) settle(c *pipeline.Context[State], ix *standings, now time.Time) {
	ids := make([]string, 0, len(ix.by))
	for id := range ix.by {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		ct := r.by[id]
		if ct == nil || ix.done[id] || now.Before(ct.SettledAt()) {
			continue
		}
		for _, a := range Standings(ct, ix.by[id]) {
			if rw := ct.For(a.rank); rw != nil {
				aw := newAward(ct, a.rep, a.rank, a.tied, a.measure, rw, "")
				c.Emit(r.cfg.Awards, []byte(a.rep), aw.json())
				r.cfg.Metrics.award(id)
			}
		}
		ix.done[id] = true
		c.Put("c/"+id, State{Settled: true})
		r.cfg.Metrics.settle()
	}
}

// Placed is a rep's place in a race.
type Placed struct {
	rep     string
	rank    int
	tied    bool
	measure decimal.Decimal
}

// Rep, Rank, Tied and Measure describe the place.
func (p Placed) Rep() string { return p.rep }

// Rank is the competition rank (1, 1, 3).
func (p Placed) Rank() int { return p.rank }

// Tied reports whether another rep shares the rank.
func (p Placed) Tied() bool { return p.tied }

// Standings ranks a race's reps (see Rank) and returns those ranked within
// N, best first, tied reps by rep id.
func Standings(ct *Contest, reps map[string]State) []Placed {
	type entry struct {
		rep string
		s   State
	}
	var es []entry
	for rep, s := range reps {
		switch {
		case ct.First > 0 && (s.ReachedAt == 0 || s.Measure.LessThan(ct.Target.Decimal)):
		case ct.Top > 0 && (s.Measure.Sign() <= 0 || ct.Target.Valid && s.Measure.LessThan(ct.Target.Decimal)):
		default:
			es = append(es, entry{rep, s})
		}
	}
	// cmp orders by the race's rule only; 0 is a tie.
	cmp := func(a, b entry) int {
		if ct.First > 0 {
			switch {
			case a.s.ReachedAt < b.s.ReachedAt:
				return -1
			case a.s.ReachedAt > b.s.ReachedAt:
				return 1
			}
			return 0
		}
		return b.s.Measure.Cmp(a.s.Measure)
	}
	slices.SortFunc(es, func(a, b entry) int {
		if c := cmp(a, b); c != 0 {
			return c
		}
		return strings.Compare(a.rep, b.rep)
	})
	n := ct.First + ct.Top
	var out []Placed
	for i, e := range es {
		rank := i + 1
		if i > 0 && cmp(es[i-1], e) == 0 {
			rank = out[i-1].rank
		}
		if rank > n {
			break
		}
		tied := i > 0 && cmp(es[i-1], e) == 0 || i+1 < len(es) && cmp(es[i+1], e) == 0
		out = append(out, Placed{rep: e.rep, rank: rank, tied: tied, measure: e.s.Measure})
	}
	return out
}
