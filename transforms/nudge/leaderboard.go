package nudge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
)

// Topics of the leaderboard and delivery stages.
const (
	TopicAttainment = "attainment"
	TopicByProgram  = "leaderboard.by-program"
	TopicNudges     = "nudges"
	TopicAwards     = "awards"
	TopicMessages   = "messages"
	TopicSuppressed = "messages.suppressed"
	TopicPrefs      = "delivery.preferences"
)

// Leaderboard nudge kinds.
const (
	KindTopN      = "leaderboard_top_n"
	KindOvertaken = "leaderboard_overtaken"
)

// Reject reasons of the leaderboard stages.
const (
	ReasonMalformedSnapshot = "malformed_snapshot"
	ReasonWrongKey          = "wrong_key"
)

// RankBy is the figure a leaderboard ranks reps by.
type RankBy string

// The figures.
const (
	ByMeasure    RankBy = "measure"
	ByAttainment RankBy = "attainment"
	ByEarned     RankBy = "earned"
)

// ParseRankBy reads a RankBy.
func ParseRankBy(s string) (RankBy, error) {
	switch r := RankBy(s); r {
	case ByMeasure, ByAttainment, ByEarned:
		return r, nil
	}
	return "", fmt.Errorf("rank by %q: want measure, attainment or earned", s)
}

// Rekey is the stateless stage before the leaderboard: it copies every
// attainment snapshot, unchanged, to Output keyed by program_id|period.
// A record that is not a snapshot is refused (malformed_snapshot).
type Rekey struct {
	// Output is the topic keyed by board; default TopicByProgram.
	Output string
}

// Process implements pipeline.Processor.
func (r *Rekey) Process(c *pipeline.Context[[]byte], rec *kgo.Record) error {
	s, err := DecodeSnapshot(rec.Value)
	if err != nil {
		return &pipeline.Reject{Reason: ReasonMalformedSnapshot, Err: err}
	}
	out := r.Output
	if out == "" {
		out = TopicByProgram
	}
	c.EmitRecord(&kgo.Record{Topic: out, Key: []byte(s.BoardKey()), Value: rec.Value, Headers: rec.Headers})
	return nil
}

// LeaderboardConfig configures the leaderboard stage's processor.
type LeaderboardConfig struct {
	// Output is the nudges topic, keyed by rep; default TopicNudges.
	Output string
	// TopN is the size of the top of every board: a rep entering it gets a
	// leaderboard_top_n nudge; default 10.
	TopN int
	// OvertakenWithin: a rep ranked within it who is overtaken gets a
	// leaderboard_overtaken nudge; default TopN. Reps further down are
	// not told.
	OvertakenWithin int
	// RankBy is the figure ranked; default ByMeasure.
	RankBy RankBy
	// Retention: a board not updated for this long (wall-clock time) is
	// forgotten on a tick; default 400 days.
	Retention time.Duration
	// Now is the clock of Retention; default time.Now.
	Now func() time.Time
	// Metrics receives the stage's figures; nil records none.
	Metrics *Metrics
}

// Entry is the state of one rep on one board, under the key
// "e/PROGRAM|PERIOD/REP".
type Entry struct {
	// Score is the figure ranked, as the snapshot wrote it; Seq is the
	// input offset at which the rep reached it (earlier ranks ahead on
	// equal scores).
	Score decimal.Decimal
	Seq   int64
	// Version is the highest snapshot version applied.
	Version int64
	// Top is true once the rep's leaderboard_top_n nudge has fired.
	Top bool
	// OnBoard is false for a rep whose score is not positive: not ranked.
	OnBoard bool
	// At is when the entry was last written (Unix ms, wall clock).
	At int64
}

type wireEntry struct {
	Score   string `json:"score"`
	Seq     int64  `json:"seq"`
	Version int64  `json:"version"`
	Top     bool   `json:"top,omitempty"`
	OnBoard bool   `json:"on_board,omitempty"`
	At      int64  `json:"at"`
}

// EntryCodec stores an Entry as JSON, the score with its scale.
type EntryCodec struct{}

// Encode implements pipeline.Codec.
func (EntryCodec) Encode(dst []byte, e Entry) []byte {
	b, _ := json.Marshal(wireEntry{Score: scaled(e.Score), Seq: e.Seq, Version: e.Version, Top: e.Top, OnBoard: e.OnBoard, At: e.At})
	return append(dst, b...)
}

// Decode implements pipeline.Codec.
func (EntryCodec) Decode(b []byte) (Entry, error) {
	var w wireEntry
	if err := json.Unmarshal(b, &w); err != nil {
		return Entry{}, err
	}
	s, err := decimal.NewFromString(w.Score)
	if err != nil {
		return Entry{}, fmt.Errorf("leaderboard entry: score: %w", err)
	}
	return Entry{Score: s, Seq: w.Seq, Version: w.Version, Top: w.Top, OnBoard: w.OnBoard, At: w.At}, nil
}

// scaled writes d with the decimal places it was read with ("1250.00"
// stays so; String would write "1250").
func scaled(d decimal.Decimal) string {
	if e := d.Exponent(); e < 0 {
		return d.StringFixed(-e)
	}
	return d.String()
}

// EntryPrefix starts every key of the leaderboard's state.
const EntryPrefix = "e/"

func entryKey(board, rep string) string { return EntryPrefix + board + "/" + rep }

// splitEntryKey returns a state key's board and rep. Rep ids hold no '/'
// that the board's key does not: the board is everything up to the last
// '/'.
func splitEntryKey(k string) (board, rep string, ok bool) {
	if !strings.HasPrefix(k, EntryPrefix) {
		return "", "", false
	}
	k = k[len(EntryPrefix):]
	i := strings.LastIndexByte(k, '/')
	if i <= 0 {
		return "", "", false
	}
	return k[:i], k[i+1:], true
}

// Leaderboard is the keyed leaderboard stage's processor, over snapshots
// keyed by program_id|period (TopicByProgram). For each snapshot newer than
// what it holds for the rep it updates the rep's standing and emits:
//
//   - leaderboard_top_n to a rep whose rank comes within TopN for the first
//     time in the board (once per program, period and rep);
//   - leaderboard_overtaken to each rep ranked within OvertakenWithin that
//     the snapshot's rep passed, naming who passed them.
//
// Reps rank by RankBy, highest first; on equal scores the rep who reached
// the score first (earlier in the board's input) ranks ahead, then the
// lower rep id. Reps whose score is not positive are not on the board.
// Snapshots of a rep with a version not above the one applied are skipped
// (replays, or a reordering upstream).
type Leaderboard struct {
	cfg   LeaderboardConfig
	parts map[int32]*boards
}

var (
	_ pipeline.Processor[Entry] = (*Leaderboard)(nil)
	_ pipeline.Ticker[Entry]    = (*Leaderboard)(nil)
)

// NewLeaderboard builds the leaderboard stage's processor.
func NewLeaderboard(cfg LeaderboardConfig) (*Leaderboard, error) {
	if cfg.Output == "" {
		cfg.Output = TopicNudges
	}
	if cfg.TopN == 0 {
		cfg.TopN = 10
	}
	if cfg.TopN < 0 || cfg.OvertakenWithin < 0 {
		return nil, errors.New("leaderboard: TopN and OvertakenWithin cannot be negative")
	}
	if cfg.OvertakenWithin == 0 {
		cfg.OvertakenWithin = cfg.TopN
	}
	if cfg.RankBy == "" {
		cfg.RankBy = ByMeasure
	}
	if _, err := ParseRankBy(string(cfg.RankBy)); err != nil {
		return nil, err
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 400 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Leaderboard{cfg: cfg, parts: map[int32]*boards{}}, nil
}

// boards is the in-memory view of one partition's boards, rebuilt from the
// state whenever its epoch changes.
type boards struct {
	epoch uint64
	by    map[string]*board
}

type board struct {
	t      tree
	last   int64 // latest Entry.At
	onTree map[string]standing
}

func (l *Leaderboard) index(c *pipeline.Context[Entry], partition int32) *boards {
	bs := l.parts[partition]
	if bs != nil && bs.epoch == c.StateEpoch() {
		return bs
	}
	bs = &boards{epoch: c.StateEpoch(), by: map[string]*board{}}
	c.Scan(func(k string, e Entry) bool {
		key, rep, ok := splitEntryKey(k)
		if !ok {
			return true
		}
		b := bs.get(key)
		b.last = max(b.last, e.At)
		if e.OnBoard {
			s := standing{score: e.Score, seq: e.Seq, rep: rep}
			b.t.Insert(s)
			b.onTree[rep] = s
		}
		return true
	})
	l.parts[partition] = bs
	return bs
}

func (bs *boards) get(key string) *board {
	b := bs.by[key]
	if b == nil {
		b = &board{onTree: map[string]standing{}}
		bs.by[key] = b
	}
	return b
}

func (l *Leaderboard) score(s *Snapshot) (decimal.Decimal, bool) {
	switch l.cfg.RankBy {
	case ByAttainment:
		return s.Attainment.Decimal, s.Attainment.Valid
	case ByEarned:
		return s.Earned, true
	}
	return s.Measure, true
}

// Process implements pipeline.Processor.
func (l *Leaderboard) Process(c *pipeline.Context[Entry], rec *kgo.Record) error {
	s, err := DecodeSnapshot(rec.Value)
	if err != nil {
		return &pipeline.Reject{Reason: ReasonMalformedSnapshot, Err: err}
	}
	key := s.BoardKey()
	if string(rec.Key) != key {
		return pipeline.Rejectf(ReasonWrongKey, "", "the record is keyed %q, not by its board %q", rec.Key, key)
	}
	bs := l.index(c, rec.Partition)
	now := l.cfg.Now().UnixMilli()
	ek := entryKey(key, s.RepID)
	old, had := c.Get(ek)
	if had && s.Version <= old.Version {
		l.cfg.Metrics.stale()
		return nil
	}
	b := bs.get(key)
	b.last = max(b.last, now)
	score, ok := l.score(s)
	on := ok && score.Sign() > 0
	e := Entry{Score: score, Seq: rec.Offset, Version: s.Version, Top: old.Top, OnBoard: on, At: now}
	if had && old.OnBoard && on && old.Score.Equal(score) {
		// Same score: the standing, and so every rank, is unchanged.
		e.Seq = old.Seq
		c.Put(ek, e)
		return nil
	}
	n0 := b.t.Len()
	oldRank := n0 + 1 // off the board: below everyone
	if prev, ok := b.onTree[s.RepID]; ok {
		oldRank = b.t.Rank(&prev)
		b.t.Delete(prev)
		delete(b.onTree, s.RepID)
	}
	newRank := b.t.Len() + 1
	if on {
		st := standing{score: score, seq: e.Seq, rep: s.RepID}
		b.t.Insert(st)
		b.onTree[s.RepID] = st
		newRank = b.t.Rank(&st)
	}
	l.cfg.Metrics.update()
	nb := nudgeBase{ProgramID: s.ProgramID, Period: s.Period, RankBy: string(l.cfg.RankBy), Currency: s.Currency, EventID: s.EventID}
	switch {
	case on && newRank <= oldRank:
		// The rep moved up past the reps now at newRank+1 … oldRank (a
		// rep new to the board comes in from below everyone); tell those
		// who were within OvertakenWithin.
		last := min(oldRank, l.cfg.OvertakenWithin+1, b.t.Len())
		for p := newRank + 1; p <= last; p++ {
			o := b.t.At(p)
			l.emit(c, &LeaderNudge{nudgeBase: nb, Kind: KindOvertaken, RepID: o.rep, Rank: p, PreviousRank: p - 1,
				Score: o.score, ByRepID: s.RepID, ByScore: score, byVersion: s.Version})
		}
		if newRank <= l.cfg.TopN && !e.Top {
			e.Top = true
			l.emit(c, &LeaderNudge{nudgeBase: nb, Kind: KindTopN, RepID: s.RepID, Rank: newRank, TopN: l.cfg.TopN, Score: score})
		}
	case newRank > oldRank && oldRank <= l.cfg.TopN && b.t.Len() >= l.cfg.TopN:
		// The rep fell from within the top: the rep now at TopN came in.
		in := b.t.At(l.cfg.TopN)
		if in.rep != s.RepID {
			ik := entryKey(key, in.rep)
			ie, _ := c.Get(ik)
			if !ie.Top {
				ie.Top = true
				c.Put(ik, ie)
				l.emit(c, &LeaderNudge{nudgeBase: nb, Kind: KindTopN, RepID: in.rep, Rank: l.cfg.TopN, TopN: l.cfg.TopN, Score: in.score})
			}
		}
	}
	c.Put(ek, e)
	l.cfg.Metrics.size(b.t.Len() - n0)
	return nil
}

func (l *Leaderboard) emit(c *pipeline.Context[Entry], n *LeaderNudge) {
	c.Emit(l.cfg.Output, []byte(n.RepID), n.AppendJSON(nil))
	l.cfg.Metrics.nudge(n.Kind)
}

// Tick implements pipeline.Ticker: boards not updated for Retention are
// forgotten.
func (l *Leaderboard) Tick(c *pipeline.Context[Entry], partition int32, now time.Time) {
	bs := l.index(c, partition)
	limit := now.Add(-l.cfg.Retention).UnixMilli()
	var old []string
	for k, b := range bs.by {
		if b.last < limit {
			old = append(old, k)
		}
	}
	if len(old) == 0 {
		return
	}
	gone := map[string]bool{}
	for _, k := range old {
		gone[k] = true
		l.cfg.Metrics.size(-bs.by[k].t.Len())
		delete(bs.by, k)
	}
	var keys []string
	c.Scan(func(k string, _ Entry) bool {
		if b, _, ok := splitEntryKey(k); ok && gone[b] {
			keys = append(keys, k)
		}
		return true
	})
	for _, k := range keys {
		c.Delete(k)
	}
}

// Board returns the standings of the board key (program_id|period) in the
// partition's committed view, best first: rep ids and scores. For tests
// and tools.
func (l *Leaderboard) Board(partition int32, key string) (reps []string, scores []decimal.Decimal) {
	bs := l.parts[partition]
	if bs == nil || bs.by[key] == nil {
		return nil, nil
	}
	t := &bs.by[key].t
	for i := 1; i <= t.Len(); i++ {
		s := t.At(i)
		reps = append(reps, s.rep)
		scores = append(scores, s.score)
	}
	return reps, scores
}

type nudgeBase struct {
	ProgramID string
	Period    string
	RankBy    string
	Currency  string
	EventID   string
}

// LeaderNudge is a leaderboard nudge, on the nudges topic keyed by RepID.
type LeaderNudge struct {
	nudgeBase
	Kind  string
	RepID string
	// Rank is the rep's rank after the change; Score the rep's score.
	Rank  int
	Score decimal.Decimal
	// TopN is the top's size (leaderboard_top_n).
	TopN int
	// PreviousRank, ByRepID and ByScore (leaderboard_overtaken): the rank
	// the rep had, who passed them, with what score.
	PreviousRank int
	ByRepID      string
	ByScore      decimal.Decimal
	byVersion    int64
}

// ID is the nudge's deterministic id. leaderboard_top_n fires once per
// program, period and rep: PROGRAM/PERIOD/REP/leaderboard_top_n/N.
// leaderboard_overtaken fires once per overtaking snapshot and rep passed:
// PROGRAM/PERIOD/REP/leaderboard_overtaken/BY_REP/BY_VERSION.
func (n *LeaderNudge) ID() string {
	base := n.ProgramID + "/" + n.Period + "/" + n.RepID + "/" + n.Kind + "/"
	if n.Kind == KindTopN {
		return base + strconv.Itoa(n.TopN)
	}
	return base + n.ByRepID + "/" + strconv.FormatInt(n.byVersion, 10)
}

type wireLeaderNudge struct {
	Kind         string `json:"kind"`
	NudgeID      string `json:"nudge_id"`
	ProgramID    string `json:"program_id"`
	Period       string `json:"period"`
	RepID        string `json:"rep_id"`
	Rank         int    `json:"rank"`
	TopN         int    `json:"top_n,omitempty"`
	PreviousRank int    `json:"previous_rank,omitempty"`
	RankBy       string `json:"rank_by"`
	Score        string `json:"score"`
	ByRepID      string `json:"by_rep_id,omitempty"`
	ByScore      string `json:"by_score,omitempty"`
	Currency     string `json:"currency,omitempty"`
	EventID      string `json:"event_id"`
}

// AppendJSON appends the nudge:
//
//	{"kind":"leaderboard_top_n","nudge_id":"ae/2026-11/R-17/leaderboard_top_n/10","program_id":"ae",
//	 "period":"2026-11","rep_id":"R-17","rank":7,"top_n":10,"rank_by":"measure","score":"41250.00",
//	 "currency":"USD","event_id":"erp:SO-9:sale"}
//	{"kind":"leaderboard_overtaken","nudge_id":"ae/2026-11/R-3/leaderboard_overtaken/R-17/12",
//	 "program_id":"ae","period":"2026-11","rep_id":"R-3","rank":3,"previous_rank":2,"rank_by":"measure",
//	 "score":"40000.00","by_rep_id":"R-17","by_score":"41250.00","currency":"USD","event_id":"erp:SO-9:sale"}
func (n *LeaderNudge) AppendJSON(b []byte) []byte {
	w := wireLeaderNudge{Kind: n.Kind, NudgeID: n.ID(), ProgramID: n.ProgramID, Period: n.Period, RepID: n.RepID,
		Rank: n.Rank, TopN: n.TopN, PreviousRank: n.PreviousRank, RankBy: n.RankBy, Score: scaled(n.Score),
		ByRepID: n.ByRepID, Currency: n.Currency, EventID: n.EventID}
	if n.Kind == KindOvertaken {
		w.ByScore = scaled(n.ByScore)
	}
	out, _ := json.Marshal(w)
	return append(b, out...)
}
