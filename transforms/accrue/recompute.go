package accrue

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/accrue/program"
)

// TopicRecompute is the accrual stage's topic of recompute runs: the
// markers and the replayed credits `accrue recompute` writes, keyed by rep
// and co-partitioned with sales.credited (a replayed credit goes to the
// partition its original is on).
const TopicRecompute = "accrue.recompute"

// Headers of the records of a recompute run.
const (
	// HeaderRun names the run, on every record of one: markers, replayed
	// credits, and the shadow override records the stage hands on.
	HeaderRun = "accrue.recompute.run"
	// HeaderKind says what a record of a run is (Kind*); a shadow
	// override record has none.
	HeaderKind = "accrue.recompute.kind"
	// HeaderOffset is a replayed credit's offset in sales.credited.
	HeaderOffset = "accrue.recompute.offset"
)

// Kinds of the records of a recompute run (HeaderKind).
const (
	// KindBegin, on every partition of TopicRecompute, opens the run.
	KindBegin = "begin"
	// KindCredit is a replayed credit.
	KindCredit = "credit"
	// KindEnd, on every partition, follows its replayed credits.
	KindEnd = "end"
	// KindCancel gives the run up (`accrue recompute --cancel`).
	KindCancel = "cancel"
	// KindFlushed, on TopicOverrides, tells every partition that one has
	// replayed its credits and handed on their override records.
	KindFlushed = "flushed"
	// KindCancelled, on TopicOverrides, tells every partition that one
	// gave the run up.
	KindCancelled = "cancelled"
)

// ReasonRecomputeBusy rejects the begin of a run while another is in
// progress.
const ReasonRecomputeBusy = "recompute_in_progress"

// Marker is the value of a begin, end or cancel record, and of the
// flushed and cancelled records the stage hands on.
type Marker struct {
	Run       string `json:"run"`
	ProgramID string `json:"program_id"`
	From      string `json:"from"`
	// Partitions is the partition count of the stage's inputs.
	Partitions int `json:"partitions"`
	// Partition is the one that flushed or cancelled.
	Partition int32 `json:"partition"`
}

// RunState is a recompute run in progress on one partition.
type RunState struct {
	Marker
	// Boundary: the credits of the partition before this offset were
	// applied live before the run began, and are the ones the shadow
	// replays; the later ones are parked and applied after the swap.
	Boundary int64 `json:"boundary"`
	// Ended is set when the partition's replay is complete.
	Ended bool `json:"ended,omitempty"`
	// Flushed are the partitions whose override records have all come.
	Flushed []int32 `json:"flushed,omitempty"`
	// Seq numbers the parked inputs.
	Seq int64 `json:"seq"`
}

// ParkedInput is a live input held back while its partition recomputes.
type ParkedInput struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       []byte `json:"key"`
	Value     []byte `json:"value"`
	// Twin marks an override record of the program recomputed, from a
	// partition that had not replayed yet: its contribution is in the
	// replay too, so it is dropped at the swap (and applied if the run
	// is cancelled).
	Twin bool `json:"twin,omitempty"`
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func (p *Processor) runState(c *pipeline.Context[Entry]) *RunState {
	if e, ok := c.Get(keyRun); ok {
		return e.Run
	}
	return nil
}

func putRun(c *pipeline.Context[Entry], r *RunState) {
	cp := *r
	cp.Flushed = slices.Clone(r.Flushed)
	c.Put(keyRun, Entry{Run: &cp})
}

// shadowEngine is the engine of the run's program alone.
func (p *Processor) shadowEngine(r *RunState) *Engine {
	p.mu.Lock()
	defer p.mu.Unlock()
	built := p.built.Load()
	if p.shadow != nil && p.shadowFor == r.Run && p.shadowBuilt == built {
		return p.shadow
	}
	var vs []*program.Program
	for _, v := range p.cfg.Catalog.Versions(r.ProgramID) {
		vs = append(vs, v.Program)
	}
	e, _, err := BuildEngine(vs, p.cfg.Tables)
	if err != nil {
		e, _ = New(nil, p.cfg.Tables)
	}
	p.shadow, p.shadowFor, p.shadowBuilt = e, r.Run, built
	return e
}

// recompute handles a record of TopicRecompute.
func (p *Processor) recompute(c *pipeline.Context[Entry], rec *kgo.Record) error {
	run, kind := header(rec, HeaderRun), header(rec, HeaderKind)
	r := p.runState(c)
	current := r != nil && r.Run == run
	switch kind {
	case KindBegin:
		var m Marker
		if err := json.Unmarshal(rec.Value, &m); err != nil || m.Run != run || m.Partitions <= 0 {
			return pipeline.Rejectf(ReasonInvalidInput, "", "not a recompute marker: %s", rec.Value)
		}
		switch {
		case current:
			return nil
		case r != nil:
			return pipeline.Rejectf(ReasonRecomputeBusy, "run", "run %s is in progress on this partition", r.Run)
		}
		f := p.Engine().byID[m.ProgramID]
		if f == nil {
			return pipeline.Rejectf(ReasonUnknownProgram, "program_id", "program %q is not loaded", m.ProgramID)
		}
		if _, _, err := periodBounds(f.period, m.From); err != nil {
			return &pipeline.Reject{Reason: ReasonInvalidInput, Field: "from", Err: err}
		}
		boundary := int64(0)
		if e, ok := c.Get(keyPosition); ok && e.Position != nil {
			boundary = *e.Position + 1
		}
		putRun(c, &RunState{Marker: m, Boundary: boundary})
		p.log.Info("recompute begins", "run", run, "program", m.ProgramID, "from", m.From, "partition", rec.Partition, "boundary", boundary)
		p.cfg.Metrics.recompute("begun")
	case KindCredit:
		if !current {
			p.cfg.Metrics.recompute("stale")
			return nil
		}
		off, err := strconv.ParseInt(header(rec, HeaderOffset), 10, 64)
		if err != nil {
			return pipeline.Rejectf(ReasonInvalidInput, HeaderOffset, "a replayed credit without its offset")
		}
		if off >= r.Boundary {
			// Processed after the run began: parked, applied after the
			// swap.
			p.cfg.Metrics.recompute("replay_skipped")
			return nil
		}
		cr, err := DecodeCredit(rec.Value)
		if err != nil {
			return &pipeline.Reject{Reason: ReasonInvalidInput, Err: err}
		}
		out, err := p.shadowEngine(r).ApplyCredit(engineStore{c, shadowPrefix}, cr)
		if err != nil {
			// Refused live as well, or by the new version alone: either
			// way it counts nowhere in the new figures.
			p.cfg.Metrics.recompute("replay_rejected")
			return nil
		}
		p.handOnShadow(c, r, out.Overrides)
		p.cfg.Metrics.recompute("replayed")
	case KindEnd:
		if !current || r.Ended {
			return nil
		}
		r.Ended = true
		putRun(c, r)
		p.broadcast(c, r, KindFlushed, rec.Partition)
		p.cfg.Metrics.recompute("ended")
	case KindCancel:
		if !current {
			return nil
		}
		if r.Ended {
			// Every partition may have replayed: the run is finished
			// by the swaps, or given up where another partition cancels.
			p.log.Warn("recompute cancel ignored: this partition has replayed", "run", run, "partition", rec.Partition)
			return nil
		}
		p.cancel(c, r, rec.Partition, true)
	default:
		return pipeline.Rejectf(ReasonInvalidInput, HeaderKind, "%q is not a kind of recompute record", kind)
	}
	return nil
}

// runOverride handles a record of TopicOverrides that belongs to a run: a
// shadow override record, or a flushed or cancelled marker.
func (p *Processor) runOverride(c *pipeline.Context[Entry], rec *kgo.Record, run string) error {
	r := p.runState(c)
	if r == nil || r.Run != run {
		p.cfg.Metrics.recompute("stale")
		return nil
	}
	switch header(rec, HeaderKind) {
	case KindFlushed:
		var m Marker
		if err := json.Unmarshal(rec.Value, &m); err != nil {
			return pipeline.Rejectf(ReasonInvalidInput, "", "not a recompute marker: %s", rec.Value)
		}
		if !slices.Contains(r.Flushed, m.Partition) {
			r.Flushed = append(r.Flushed, m.Partition)
			putRun(c, r)
		}
		if r.Ended && len(r.Flushed) >= r.Partitions {
			p.swap(c, r, rec.Partition)
		}
	case KindCancelled:
		p.cancel(c, r, rec.Partition, false)
	case "":
		o, err := DecodeOverride(rec.Value)
		if err != nil {
			return &pipeline.Reject{Reason: ReasonInvalidInput, Err: err}
		}
		if _, err := p.shadowEngine(r).ApplyOverride(engineStore{c, shadowPrefix}, o); err != nil {
			p.cfg.Metrics.recompute("replay_rejected")
		}
	default:
		return pipeline.Rejectf(ReasonInvalidInput, HeaderKind, "%q is not a kind of recompute record", header(rec, HeaderKind))
	}
	return nil
}

// handOnShadow emits a replay's override records for the managers'
// shadows: on TopicOverrides, keyed by manager, marked with the run, for
// the periods the run recomputes.
func (p *Processor) handOnShadow(c *pipeline.Context[Entry], r *RunState, ovs []OverrideCredit) {
	for i := range ovs {
		o := &ovs[i]
		if o.Period < r.From {
			continue
		}
		c.EmitRecord(&kgo.Record{Topic: p.cfg.Overrides, Key: []byte(o.ManagerID), Value: o.AppendJSON(nil),
			Headers: []kgo.RecordHeader{{Key: HeaderRun, Value: []byte(r.Run)}}})
	}
}

// broadcast emits a marker of kind to every partition of TopicOverrides.
// It follows, on each, the override records this partition handed on
// before, live and shadow alike.
func (p *Processor) broadcast(c *pipeline.Context[Entry], r *RunState, kind string, partition int32) {
	// The override records held for the batch's end go first: the marker
	// must follow them.
	p.Flush(c, partition)
	m := r.Marker
	m.Partition = partition
	v, _ := json.Marshal(m)
	for to := range int32(r.Partitions) {
		c.EmitRecord(&kgo.Record{Topic: p.cfg.Overrides, Key: keyFor(to, r.Partitions, "~"+kind+"/"+r.Run+"/"), Value: v,
			Headers: []kgo.RecordHeader{{Key: HeaderRun, Value: []byte(r.Run)}, {Key: HeaderKind, Value: []byte(kind)}}})
	}
}

// keyPartitioner is the partitioner of every stage's keyed outputs
// (Kafka's murmur2).
var keyPartitioner = kgo.StickyKeyPartitioner(nil).ForTopic("")

// partitionOf is the partition of n that key goes to.
func partitionOf(key string, n int) int32 {
	return int32(keyPartitioner.Partition(&kgo.Record{Key: []byte(key)}, n))
}

// keyFor is the first key prefix+i that goes to partition to of n.
func keyFor(to int32, n int, prefix string) []byte {
	for i := 0; ; i++ {
		k := prefix + strconv.Itoa(i)
		if partitionOf(k, n) == to {
			return []byte(k)
		}
	}
}

// park holds a live input back while the partition recomputes.
func (p *Processor) park(c *pipeline.Context[Entry], rec *kgo.Record, r *RunState) error {
	pk := &ParkedInput{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
		Key: slices.Clone(rec.Key), Value: slices.Clone(rec.Value)}
	if rec.Topic == p.cfg.Overrides {
		o, err := DecodeOverride(rec.Value)
		if err != nil {
			return &pipeline.Reject{Reason: ReasonInvalidInput, Err: err}
		}
		pk.Twin = o.ProgramID == r.ProgramID && o.Period >= r.From &&
			!slices.Contains(r.Flushed, partitionOf(o.FromRepID, r.Partitions))
	}
	r.Seq++
	c.Put(parkedPrefix+fmt.Sprintf("%016d", r.Seq), Entry{Parked: pk})
	putRun(c, r)
	p.cfg.Metrics.recompute("parked")
	return nil
}

// release applies the parked inputs in the order they came (twins too,
// when apply says so) and forgets them.
func (p *Processor) release(c *pipeline.Context[Entry], twins bool) {
	type parked struct {
		key string
		pk  *ParkedInput
	}
	var ps []parked
	c.Scan(func(k string, e Entry) bool {
		if e.Parked != nil {
			ps = append(ps, parked{k, e.Parked})
		}
		return true
	})
	slices.SortFunc(ps, func(a, b parked) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	for _, x := range ps {
		c.Delete(x.key)
		if x.pk.Twin && !twins {
			p.cfg.Metrics.recompute("twin_dropped")
			continue
		}
		rec := &kgo.Record{Topic: x.pk.Topic, Partition: x.pk.Partition, Offset: x.pk.Offset, Key: x.pk.Key, Value: x.pk.Value}
		if err := p.apply(c, rec); err != nil {
			c.DeadLetter(rec, rec.Value, err)
		}
	}
}

// cancel gives the run up on this partition: the shadow is forgotten and
// the parked inputs are applied, twins too, as if the run never began.
func (p *Processor) cancel(c *pipeline.Context[Entry], r *RunState, partition int32, broadcast bool) {
	p.dropShadow(c)
	c.Delete(keyRun)
	if broadcast {
		p.broadcast(c, r, KindCancelled, partition)
	}
	p.release(c, true)
	p.log.Warn("recompute cancelled", "run", r.Run, "partition", partition)
	p.cfg.Metrics.recompute("cancelled")
}

func (p *Processor) dropShadow(c *pipeline.Context[Entry]) {
	var keys []string
	c.Scan(func(k string, _ Entry) bool {
		if len(k) > len(shadowPrefix) && k[:len(shadowPrefix)] == shadowPrefix {
			keys = append(keys, k)
		}
		return true
	})
	for _, k := range keys {
		c.Delete(k)
	}
}

// swap makes the shadow figures of the run's program, from its first
// period on, the live ones: for every (program, period, rep) of the
// partition that either holds, it emits the adjustment that brings the
// reported earned to the new figure and the new statement, then the
// parked inputs are applied on top.
func (p *Processor) swap(c *pipeline.Context[Entry], r *RunState, partition int32) {
	live, shadow := engineStore{c, ""}, engineStore{c, shadowPrefix}
	if p.Engine().byID[r.ProgramID] == nil {
		p.log.Error("recompute: the program was withdrawn during the run; cancelled", "run", r.Run)
		p.cancel(c, r, partition, false)
		return
	}
	counts := func(ps *PeriodState) bool { return ps.ProgramID == r.ProgramID && ps.Period >= r.From }
	newPeriods := map[string]*PeriodState{}
	newSales := map[string]*SaleState{}
	shadow.Scan(func(k string, v State) bool {
		switch {
		case v.Period != nil && counts(v.Period):
			newPeriods[k] = v.Period
		case v.Sale != nil:
			newSales[k] = v.Sale
		}
		return true
	})
	oldPeriods := map[string]*PeriodState{}
	var oldSales []string
	live.Scan(func(k string, v State) bool {
		switch {
		case v.Period != nil && counts(v.Period):
			oldPeriods[k] = v.Period
		case v.Sale != nil:
			oldSales = append(oldSales, k)
		}
		return true
	})
	keys := make([]string, 0, len(newPeriods)+len(oldPeriods))
	for k := range newPeriods {
		keys = append(keys, k)
	}
	for k := range oldPeriods {
		if _, ok := newPeriods[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out Output
	input := "recompute/" + r.Run
	for _, k := range keys {
		old, nu := oldPeriods[k], newPeriods[k]
		var np *PeriodState
		if nu != nil {
			np = nu.clone()
		} else {
			np = &PeriodState{ProgramID: old.ProgramID, Period: old.Period, RepID: old.RepID}
		}
		was := decimal.Zero
		np.Version, np.Crossed, np.Near, np.Badges = 1, nil, nil, nil
		if old != nil {
			was = old.Earned.Decimal()
			np.Version = old.Version + 1
			// What fired stays fired: the rep was told.
			np.Crossed, np.Near, np.Badges = slices.Clone(old.Crossed), slices.Clone(old.Near), slices.Clone(old.Badges)
			np.Idle, np.Ending = old.Idle, old.Ending
			if old.LastSale.After(np.LastSale) {
				np.LastSale = old.LastSale
			}
		} else {
			np.Idle, np.Ending = time.Time{}, false
		}
		st, _ := p.Engine().Statement(np)
		np.Earned = NumOf(st.Earned)
		if d := st.Earned.Sub(was); !d.IsZero() {
			out.Accruals = append(out.Accruals, Accrual{ID: input + "#" + np.ProgramID + "/" + np.Period + "/" + np.RepID,
				ProgramID: np.ProgramID, ProgramVersion: st.ProgramVersion, Period: np.Period, RepID: np.RepID,
				Currency: st.Currency, Delta: d, Earned: st.Earned, Capped: st.Capped, EventID: input, InputID: input,
				Trace: []Part{{Kind: "recompute", Amount: d}}, MinorUnits: st.MinorUnits})
		}
		out.Snapshots = append(out.Snapshots, Snapshot{Statement: st, Version: np.Version, EventID: input})
		live.Put(k, State{Period: np})
	}
	// Sales: the program's contribution as the new version computed it,
	// for the periods recomputed, so that later returns and cancels take
	// back what it gave.
	isNew := func(sp SaleProgram) bool { return sp.ProgramID == r.ProgramID && sp.Period >= r.From }
	for _, k := range oldSales {
		st, _ := live.Get(k)
		ns, replayed := newSales[k]
		if !replayed && !slices.ContainsFunc(st.Sale.Programs, isNew) {
			continue
		}
		s := st.Sale.clone()
		s.Programs = slices.DeleteFunc(s.Programs, isNew)
		if replayed {
			for _, sp := range ns.Programs {
				if isNew(sp) {
					s.Programs = append(s.Programs, sp)
				}
			}
			delete(newSales, k)
		}
		live.Put(k, State{Sale: s})
	}
	for k, ns := range newSales {
		if slices.ContainsFunc(ns.Programs, isNew) {
			live.Put(k, State{Sale: ns})
		}
	}
	p.emit(c, &out)
	p.dropShadow(c)
	c.Delete(keyRun)
	// The periods changed under the partition's timers: read them again.
	p.clock(partition, time.Time{}).built = nil
	p.release(c, false)
	p.log.Info("recompute swapped", "run", r.Run, "partition", partition, "statements", len(keys), "adjustments", len(out.Accruals))
	p.cfg.Metrics.recompute("swapped")
	p.cfg.Metrics.recomputeAdjustments(len(out.Accruals))
}
