package accrue

import (
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/reference"
)

// TopicPayable is the topic of amounts that became payable (AppendPayable),
// keyed by rep, for the wallet and payout services.
const TopicPayable = "payouts.payable"

// TopicCredits is the accrual stage's input of credits, keyed by
// recipient rep (the linking stage's output).
const TopicCredits = "sales.credited"

// DefaultSweepInterval is how often, in wall-clock time, the accrual stage
// sweeps a partition's state of the sales and periods its retention has
// left behind (Engine.Sweep), and counts what is left.
const DefaultSweepInterval = time.Minute

// Config configures the accrual stage's Processor. Tables and Catalog are
// required; every topic has the catalogue's name by default.
type Config struct {
	// Tables are the reference data (reps, products, FX), kept current
	// by a reference.Global.
	Tables *reference.Tables
	// Catalog holds the published programs, kept current by Programs.
	Catalog *program.Catalog
	// Version tells when Catalog changed (Programs.Version): the engine
	// is built again, before the next record, whenever it moves. Default:
	// the catalog never changes.
	Version func() uint64
	// Overrides is the stage's own topic of override records
	// (TopicOverrides), an input as well as an output; Recompute the topic
	// of recompute runs (TopicRecompute), an input. Every other input
	// topic carries credits.
	Overrides, Recompute string
	// Output topics, keyed by rep: TopicAccruals, TopicAttainment,
	// TopicNudges, TopicAwards and TopicPayable by default.
	Accruals, Attainment, Nudges, Awards, Payable string
	// Retention is how long, in event time, sales and periods are kept;
	// default DefaultRetention.
	Retention time.Duration
	// SweepInterval is DefaultSweepInterval unless set.
	SweepInterval time.Duration
	// TickInterval is the stage's (pipeline.Config.TickInterval): a
	// partition neither processed nor ticked for many intervals is taken
	// as no longer owned. Default pipeline.DefaultTickInterval.
	TickInterval time.Duration
	// IdleAdvance, when positive, moves the event-time watermark of a
	// partition that applied no credit for that long (wall clock) on by
	// the wall-clock time elapsed, at its ticks, at most once per
	// IdleAdvance: the timers of quiet partitions fire (inactivity of
	// every rep on a partition nobody sells on). Zero (the default)
	// leaves event time to the credits alone, so that a replay fires
	// exactly the same timers.
	IdleAdvance time.Duration
	// Metrics receives the stage's figures; nil records none.
	Metrics *Metrics
	// Logger receives the stage's logs; default slog.Default().
	Logger *slog.Logger
}

// Processor is the accrual stage: a keyed pipeline.Processor over
// sales.credited, TopicOverrides and TopicRecompute, keyed by rep and
// co-partitioned, with state Entry (EntryCodec). For each credit or
// override record it
//
//   - applies a credit (DecodeCredit) or an override record
//     (DecodeOverride) with the Engine, against the partition's state;
//   - emits, in the same transaction, the accrual deltas to Accruals, the
//     statement snapshots to Attainment, the nudges and awards, each
//     accrual's payable amount to Payable (AppendPayable), all keyed by
//     rep, and the override records for the managers to Overrides, keyed
//     by manager, to come back on the manager's partition;
//   - or rejects it, changing nothing: the engine's reasons, and
//     invalid_input for a record that cannot be read or is keyed by
//     another rep than the one it credits.
//
// The Engine is built from Catalog and built again whenever Version moves,
// before the next record: a program published while the stage runs
// applies to the credits processed after it arrives. A version the engine
// refuses beside the others of its id (another currency, period kind,
// measure or time zone) is left out, logged and counted, and the rest are
// used, so the stage goes on computing as before that version was
// published. Every instance must see every program, and the reference
// data, before its first record (Programs.WaitReady,
// reference.Global.WaitReady).
//
// The records of TopicRecompute, and those of TopicOverrides that carry
// HeaderRun, drive a recompute run (Recompute): while one is open on a
// partition, its live inputs are parked in its state and applied after the
// swap.
//
// The stage's ticks (pipeline.Ticker) sweep each partition's state every
// SweepInterval (Engine.Sweep, up to the partition's event-time watermark
// less Retention).
//
// Time-based nudges (inactivity, period_ending) are timers in the period
// states, in event time: each partition's watermark, the highest event
// time of the credits it applied, is kept in its state (key "w") and
// recovers with it. A timer fires as a credit moves the watermark past it
// (before the credit is applied), right after an input that arms one
// already due, and at ticks (after a restore; as IdleAdvance moves an
// idle partition's watermark on); firing writes what fired into the
// period's state in the same transaction as the nudge. Which timers are
// due is kept in memory per partition (a heap by due time), rebuilt from
// the state (one Scan) whenever pipeline.Context.StateEpoch or the engine
// changes.
//
// The processor is safe for concurrent calls on different partitions
// (pipeline.Config.Parallelism): the engine is shared and read-only, and
// the little the processor keeps itself is guarded by mu.
type Processor struct {
	cfg    Config
	log    *slog.Logger
	engine atomic.Pointer[Engine]
	built  atomic.Uint64
	// hint sizes the buffer of the next record's outputs.
	hint atomic.Int64
	// mu guards what follows, and the engine's rebuilding.
	mu    sync.Mutex
	parts map[int32]*partClock
	// held are the outputs the batch holds back to Flush.
	held *held
	// shadow is the engine of a recompute run's program, for the run
	// shadowFor, built from the catalog version shadowBuilt.
	shadow      *Engine
	shadowFor   string
	shadowBuilt uint64
}

var (
	_ pipeline.Processor[Entry] = (*Processor)(nil)
	_ pipeline.Ticker[Entry]    = (*Processor)(nil)
	_ pipeline.Flusher[Entry]   = (*Processor)(nil)
)

// partClock is what the processor knows of one partition: its event-time
// watermark and timers (read back from its state, see timersFor), its
// last sweep, and the state it counted then. Only the partition's own
// calls touch it, never two at once.
type partClock struct {
	timerClock
	// epoch and built are the state epoch and engine the clock was read
	// under.
	epoch uint64
	built *Engine
	// input is set when a credit was applied since the last tick;
	// idleSince is the tick (wall clock) since which none was.
	input     bool
	idleSince time.Time
	seen      time.Time // last Process or Tick, wall clock
	swept     time.Time // last sweep, wall clock
	periods   int
	sales     int
}

// timersFor makes pc current for c's state: whenever the partition's
// state was replaced (assigned, restored, a transaction rolled back) or
// the engine built again, the watermark is read back from the state and
// the index of timers rebuilt from it.
func (p *Processor) timersFor(c *pipeline.Context[Entry], pc *partClock, e *Engine) {
	if pc.built == e && pc.epoch == c.StateEpoch() {
		return
	}
	pc.watermark = time.Time{}
	if en, ok := c.Get(keyWatermark); ok && en.Watermark != nil {
		pc.watermark = *en.Watermark
	}
	pc.timers.rebuild(e, engineStore{c: c})
	pc.epoch, pc.built = c.StateEpoch(), e
	if e.timers {
		p.cfg.Metrics.timersBuilt()
	}
}

// putWatermark keeps the partition's watermark in its state.
func putWatermark(c *pipeline.Context[Entry], pc *partClock) {
	w := pc.watermark
	c.Put(keyWatermark, Entry{Watermark: &w})
}

// emitFired writes the nudges timers fired.
func (p *Processor) emitFired(c *pipeline.Context[Entry], out *Output) {
	if len(out.Nudges) > 0 {
		p.emit(c, out)
		p.cfg.Metrics.timersFired(out)
	}
}

// NewProcessor builds the accrual stage's processor and its first engine.
func NewProcessor(cfg Config) (*Processor, error) {
	if cfg.Tables == nil || cfg.Catalog == nil {
		return nil, errors.New("accrue: the stage needs reference Tables and a program Catalog")
	}
	if cfg.Version == nil {
		cfg.Version = func() uint64 { return 0 }
	}
	for _, t := range []struct {
		dst *string
		def string
	}{{&cfg.Overrides, TopicOverrides}, {&cfg.Recompute, TopicRecompute}, {&cfg.Accruals, TopicAccruals}, {&cfg.Attainment, TopicAttainment},
		{&cfg.Nudges, TopicNudges}, {&cfg.Awards, TopicAwards}, {&cfg.Payable, TopicPayable}} {
		if *t.dst == "" {
			*t.dst = t.def
		}
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = pipeline.DefaultTickInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Processor{cfg: cfg, log: cfg.Logger.With("component", "accrual"), parts: map[int32]*partClock{}, held: newHeld()}
	p.hint.Store(2048)
	p.built.Store(cfg.Version())
	p.engine.Store(p.build(nil))
	return p, nil
}

// Engine is the engine the processor applies records with now.
func (p *Processor) Engine() *Engine { return p.engine.Load() }

// refresh builds the engine again when the catalog changed, and returns
// the engine to apply the next record with.
func (p *Processor) refresh() *Engine {
	if p.cfg.Version() != p.built.Load() {
		p.mu.Lock()
		if v := p.cfg.Version(); v != p.built.Load() {
			p.engine.Store(p.build(p.engine.Load()))
			p.built.Store(v)
		}
		p.mu.Unlock()
	}
	return p.engine.Load()
}

// build makes an engine of the catalog's programs, leaving out the
// versions the engine refuses; old is kept should even that fail.
func (p *Processor) build(old *Engine) *Engine {
	progs := CatalogPrograms(p.cfg.Catalog)
	e, refused, err := BuildEngine(progs, p.cfg.Tables)
	for _, r := range refused {
		p.log.Error("program version left out: the engine refuses it beside the other versions of its id", "problem", r)
	}
	switch {
	case err != nil && old != nil:
		p.log.Error("the programs changed but no engine could be built of them; going on with the programs as they were", "err", err)
		e = old
	case err != nil:
		p.log.Error("no engine could be built of the programs; computing none", "err", err)
		e, _ = New(nil, p.cfg.Tables)
	}
	e.deferStatements = true // the batch's last snapshot is written, at Flush
	p.cfg.Metrics.built(len(refused), len(progs)-len(refused))
	if old != nil {
		p.log.Info("programs changed: engine built again", "programs", e.Programs(), "versions_left_out", len(refused))
	}
	return e
}

// BuildEngine builds an Engine of programs, as New does; where New refuses
// the set, it leaves out each version that New refuses beside the lower
// versions of its id it has kept (another currency, period kind, measure
// or time zone, a currency without minor unit) and builds of the rest.
// refused says what was left out and why; err is New's error should even
// the rest be refused.
func BuildEngine(programs []*program.Program, tables *reference.Tables) (e *Engine, refused []string, err error) {
	if e, err = New(programs, tables); err == nil {
		return e, nil, nil
	}
	byID := map[string][]*program.Program{}
	var ids []string
	for _, v := range programs {
		if v == nil {
			continue
		}
		if _, ok := byID[v.ID]; !ok {
			ids = append(ids, v.ID)
		}
		byID[v.ID] = append(byID[v.ID], v)
	}
	var kept []*program.Program
	for _, id := range ids {
		vs := byID[id]
		// Lowest version first: the one published later is the one
		// that does not fit.
		slices.SortFunc(vs, func(a, b *program.Program) int { return a.Version - b.Version })
		var ok []*program.Program
		for _, v := range vs {
			try := append(append(make([]*program.Program, 0, len(ok)+1), ok...), v)
			if _, err := New(try, nil); err != nil {
				refused = append(refused, strings.TrimPrefix(err.Error(), ErrPrograms.Error()+": "))
				continue
			}
			ok = try
		}
		kept = append(kept, ok...)
	}
	e, err = New(kept, tables)
	return e, refused, err
}

// Process implements pipeline.Processor.
func (p *Processor) Process(c *pipeline.Context[Entry], rec *kgo.Record) error {
	p.refresh()
	if rec.Topic == p.cfg.Recompute {
		return p.recompute(c, rec)
	}
	if run := header(rec, HeaderRun); run != "" && rec.Topic == p.cfg.Overrides {
		return p.runOverride(c, rec, run)
	}
	if r := p.runState(c); r != nil {
		return p.park(c, rec, r)
	}
	return p.apply(c, rec)
}

// apply applies a live credit or override record and emits what it
// produced.
func (p *Processor) apply(c *pipeline.Context[Entry], rec *kgo.Record) error {
	pc := p.clock(rec.Partition, time.Time{})
	e := p.Engine()
	var out Output
	var err error
	override := rec.Topic == p.cfg.Overrides
	live := engineStore{c: c}
	if override {
		o, derr := DecodeOverride(rec.Value)
		if derr != nil {
			return &pipeline.Reject{Reason: ReasonInvalidInput, Err: derr}
		}
		if string(rec.Key) != o.ManagerID {
			return pipeline.Rejectf(ReasonInvalidInput, "manager_id", "the record is keyed %q, not by its manager %q", rec.Key, o.ManagerID)
		}
		p.timersFor(c, pc, e)
		out, err = pc.applyOverride(e, live, o)
	} else {
		cr, derr := DecodeCredit(rec.Value)
		if derr != nil {
			return &pipeline.Reject{Reason: ReasonInvalidInput, Err: derr}
		}
		if verr := cr.Event.Validate(); verr != nil {
			rj := &pipeline.Reject{Reason: ReasonInvalidInput, Err: verr}
			var fe *canonical.FieldError
			if errors.As(verr, &fe) {
				rj.Field = "event." + fe.Field
			}
			return rj
		}
		if string(rec.Key) != cr.RepID {
			return pipeline.Rejectf(ReasonInvalidInput, "rep_id", "the record is keyed %q, not by its recipient %q", rec.Key, cr.RepID)
		}
		p.timersFor(c, pc, e)
		var fired Output
		var moved bool
		out, moved, err = pc.applyCredit(e, live, cr, &fired)
		if moved {
			putWatermark(c, pc)
		}
		p.emitFired(c, &fired)
		if err == nil {
			pc.input = true
			// Where a recompute run would start: this credit is in the
			// live figures.
			pos := rec.Offset
			c.Put(keyPosition, Entry{Position: &pos})
		}
	}
	if err != nil {
		return err
	}
	p.emit(c, &out)
	p.cfg.Metrics.applied(override, &out)
	p.cfg.Metrics.timersFired(&out)
	return nil
}

// emit writes out's accruals, nudges and awards, and holds its
// snapshots, payable amounts and override records for the batch's Flush
// (held). Keys and values share one buffer, cut into records that
// the runtime owns once emitted.
func (p *Processor) emit(c *pipeline.Context[Entry], out *Output) {
	h := p.held
	p.mu.Lock()
	for i := range out.Snapshots {
		h.snapshot(&out.Snapshots[i])
	}
	for i := range out.Overrides {
		h.override(&out.Overrides[i])
	}
	for i := range out.Accruals {
		h.payable(&out.Accruals[i])
	}
	p.mu.Unlock()
	if len(out.Accruals)+len(out.Nudges)+len(out.Awards) == 0 {
		return
	}
	e := emitter{c: c, b: make([]byte, 0, p.hint.Load())}
	for i := range out.Accruals {
		e.emit(p.cfg.Accruals, out.Accruals[i].RepID, &out.Accruals[i])
	}
	for i := range out.Nudges {
		e.emit(p.cfg.Nudges, out.Nudges[i].RepID, &out.Nudges[i])
	}
	for i := range out.Awards {
		e.emit(p.cfg.Awards, out.Awards[i].RepID, &out.Awards[i])
	}
	p.hint.Store(int64(min(max(512, len(e.b)+len(e.b)/4), 64<<10)))
}

// emitter cuts records out of one buffer: each key and value is appended
// to it and emitted as slices of it, which the runtime owns from then on
// (capped, so that nothing appended later reaches them).
type emitter struct {
	c *pipeline.Context[Entry]
	b []byte
}

// jsonRecord is a value that appends its JSON.
type jsonRecord interface{ AppendJSON([]byte) []byte }

func (e *emitter) emit(topic, key string, v jsonRecord) {
	k := len(e.b)
	e.b = append(e.b, key...)
	at := len(e.b)
	e.b = v.AppendJSON(e.b)
	e.c.Emit(topic, e.b[k:at:at], e.b[at:len(e.b):len(e.b)])
}

// AppendPayable appends the payouts.payable record of an accrual: the
// change of what the rep is owed under one program in one period, in the
// program's currency, negative for a clawback. The stage writes one per
// statement a batch changed, a.Delta being the sum of the batch's deltas
// and the rest the last accrual's: its id is the idempotency key (a payout
// service that has seen it has seen this amount), and event_id its event.
//
//	{"idempotency_key":"erp:SO-1:sale/R-17#ae/2026-11/R-17","program_id":"ae","program_version":3,
//	 "period":"2026-11","rep_id":"R-17","currency":"USD","amount":"25.00","event_id":"erp:SO-1:sale"}
func AppendPayable(b []byte, a *Accrual) []byte {
	b = strField(append(b, '{'), "idempotency_key", a.ID)
	b = strField(b, "program_id", a.ProgramID)
	b = intField(b, "program_version", int64(a.ProgramVersion))
	b = strField(b, "period", a.Period)
	b = strField(b, "rep_id", a.RepID)
	b = strField(b, "currency", a.Currency)
	b = decField(b, "amount", a.Delta, a.MinorUnits)
	b = strField(b, "event_id", a.EventID)
	return append(b, '}')
}

// Tick implements pipeline.Ticker: it fires the partition's timers that
// are due (after a restore, and as IdleAdvance moves an idle partition's
// watermark on), and every SweepInterval it sweeps the partition's state
// (Engine.Sweep) and counts what is left.
func (p *Processor) Tick(c *pipeline.Context[Entry], partition int32, now time.Time) {
	e := p.refresh()
	pc := p.clock(partition, now)
	p.prune(now)
	p.timersFor(c, pc, e)
	live := engineStore{c: c}
	var fired Output
	if p.cfg.IdleAdvance > 0 {
		switch {
		case pc.input || pc.idleSince.IsZero():
			pc.input, pc.idleSince = false, now
		case !pc.watermark.IsZero() && now.Sub(pc.idleSince) >= p.cfg.IdleAdvance:
			pc.advance(e, live, pc.watermark.Add(now.Sub(pc.idleSince)), &fired)
			pc.idleSince = now
			putWatermark(c, pc)
		}
	}
	if pc.timers.dueBy(pc.watermark) {
		pc.advance(e, live, pc.watermark, &fired)
	}
	p.emitFired(c, &fired)
	if now.Sub(pc.swept) < p.cfg.SweepInterval {
		return
	}
	pc.swept = now
	cs := &countingStore{ScanStore: engineStore{c: c}}
	removed := 0
	if !pc.watermark.IsZero() {
		removed = p.Engine().Sweep(cs, pc.watermark, p.cfg.Retention)
	} else {
		cs.Scan(func(string, State) bool { return true })
	}
	p.cfg.Metrics.state(cs.periods-pc.periods, cs.sales-pc.sales, removed)
	pc.periods, pc.sales = cs.periods, cs.sales
}

// clock returns partition's clock; now, when not zero, marks it seen.
func (p *Processor) clock(partition int32, now time.Time) *partClock {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc := p.parts[partition]
	if pc == nil {
		pc = &partClock{}
		p.parts[partition] = pc
	}
	if now.IsZero() {
		now = time.Now()
	}
	pc.seen = now
	return pc
}

// prune forgets partitions neither processed nor ticked for a long while:
// the instance no longer owns them (an owned partition is ticked every
// TickInterval), and their state must not count here.
func (p *Processor) prune(now time.Time) {
	horizon := max(30*time.Second, 10*p.cfg.TickInterval)
	p.mu.Lock()
	defer p.mu.Unlock()
	for part, pc := range p.parts {
		if now.Sub(pc.seen) > horizon {
			p.cfg.Metrics.state(-pc.periods, -pc.sales, 0)
			delete(p.parts, part)
		}
	}
}

// countingStore counts a partition's periods and sales as a sweep scans
// and deletes them.
type countingStore struct {
	ScanStore
	periods, sales int
}

func (s *countingStore) Delete(k string) {
	if v, ok := s.Get(k); ok {
		s.count(v, -1)
	}
	s.ScanStore.Delete(k)
}

func (s *countingStore) Scan(fn func(string, State) bool) {
	s.ScanStore.Scan(func(k string, v State) bool {
		s.count(v, 1)
		return fn(k, v)
	})
}

func (s *countingStore) count(v State, n int) {
	switch {
	case v.Period != nil:
		s.periods += n
	case v.Sale != nil:
		s.sales += n
	}
}
