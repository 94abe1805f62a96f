package link

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/ingest"
	"github.com/accrue/accrue/transforms/sanitize"
)

// Defaults of Config.
const (
	// DefaultParkDeadline is how long an event may wait for its
	// reference data, in wall-clock time, before it is rejected with
	// what it lacks: a day covers a nightly reference load.
	DefaultParkDeadline = 24 * time.Hour
	// DefaultOriginalsRetention is how long, in event time, a sale's
	// recipients are kept for its returns and cancel: 400 days covers a
	// year-long clawback window and late paperwork.
	DefaultOriginalsRetention = 400 * 24 * time.Hour
	// DefaultSweepEvery is how many records of a partition pass between
	// sweeps of its expired deduplication entries and originals.
	DefaultSweepEvery = 20000
)

// HeaderParkedAt is added to the dead letter of an event rejected after it
// was parked: when it was parked (RFC 3339, UTC).
const HeaderParkedAt = "accrue.parked_at"

// Config configures the linking stage's Processor.
type Config struct {
	// Linker links events; required.
	Linker *Linker
	// Deduper passes the first copy of every (source, txn_id, type);
	// required (sanitize.Gate.Deduper gives the configured windows).
	Deduper *sanitize.Deduper
	// Output is the topic of credits; default "sales.credited".
	Output string
	// ParkDeadline bounds how long a parked event waits, from when it
	// was parked (wall-clock time); default DefaultParkDeadline. It
	// applies to events already parked when it changes.
	ParkDeadline time.Duration
	// OriginalsRetention bounds, in event time, how long a sale's
	// recipients are kept; default DefaultOriginalsRetention.
	OriginalsRetention time.Duration
	// SweepEvery is DefaultSweepEvery unless set.
	SweepEvery int
	// TickInterval is the stage's (pipeline.Config.TickInterval): a
	// partition neither processed nor ticked for many intervals is taken
	// as no longer owned, and its in-memory index is dropped. Default
	// pipeline.DefaultTickInterval.
	TickInterval time.Duration
	// Version tells whether reference data changed since the parked
	// events were last tried; default Linker.Tables.Version.
	Version func() uint64
	// Now is the clock of parking; default time.Now.
	Now func() time.Time
	// Metrics receives the stage's figures; nil records none.
	Metrics *Metrics
}

// Processor is the linking stage: a keyed pipeline.Processor over canonical
// events keyed by ingest.Key (sales.canonical, or sales.clean), fusing
// deduplication and linking. For each event it
//
//   - rejects a second copy (reason duplicate), as the dedupe stage does;
//   - links it (Linker) and emits one Credit per recipient to Output,
//     keyed by the recipient's rep_id, remembering a sale's recipients in
//     state for its returns and cancel;
//   - or, when reference data it needs (a rep, account, product, or a
//     return's original sale) is not known yet, parks it in state;
//   - or rejects it (Linker's Reject, such as shares_not_one).
//
// Parked events are tried again, in the order they arrived, whenever the
// reference tables change and when their sale arrives; the first try that
// links one emits its credits. One whose ParkDeadline passes is rejected
// with what it still lacks (unknown_rep, unknown_account, unknown_product,
// unknown_original), its original bytes and source position, and its
// deduplication entry is forgotten so that it can be replayed from the dead
// letters once the data is there. A sale's later events wait behind an
// earlier parked one (ReasonHeld), so that a sale's events are linked in
// the order they arrived. The stage's ticks (pipeline.Ticker) do this on
// partitions that receive no records.
//
// Everything lives in the stage's keyed state (Entry) and so recovers with
// its position: a crash at any point neither loses a parked event nor
// credits one twice.
type Processor struct {
	cfg   Config
	parts map[int32]*partIndex
}

var (
	_ pipeline.Processor[Entry] = (*Processor)(nil)
	_ pipeline.Ticker[Entry]    = (*Processor)(nil)
)

// NewProcessor builds the linking stage's processor. Start its stage only
// once the tables hold the reference data (reference.Global.WaitReady), or
// events would be parked for data that is merely not read yet.
func NewProcessor(cfg Config) (*Processor, error) {
	if cfg.Linker == nil || cfg.Linker.Tables == nil || cfg.Deduper == nil {
		return nil, errors.New("link: the stage needs a Linker with Tables and a Deduper")
	}
	if cfg.Output == "" {
		cfg.Output = "sales.credited"
	}
	if cfg.ParkDeadline <= 0 {
		cfg.ParkDeadline = DefaultParkDeadline
	}
	if cfg.OriginalsRetention <= 0 {
		cfg.OriginalsRetention = DefaultOriginalsRetention
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = DefaultSweepEvery
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = pipeline.DefaultTickInterval
	}
	if cfg.Version == nil {
		cfg.Version = cfg.Linker.Tables.Version
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Processor{cfg: cfg, parts: map[int32]*partIndex{}}, nil
}

// partIndex is the processor's in-memory view of one partition: its parked
// events (rebuilt from the state whenever the state's epoch changes), and
// its event-time watermark.
type partIndex struct {
	epoch   uint64
	parked  map[string]parkRef // by state key
	bySale  map[string]int     // parked events per sale key
	lastSeq int64
	// tried is the tables' version when the parked events were last
	// tried.
	tried     uint64
	seen      time.Time // last Process or Tick, wall clock
	watermark time.Time
	since     int
}

type parkRef struct {
	key      string
	sale     string
	seq      int64
	parkedAt int64
}

func (ix *partIndex) add(r parkRef) {
	ix.parked[r.key] = r
	ix.bySale[r.sale]++
	ix.lastSeq = max(ix.lastSeq, r.seq)
}

func (ix *partIndex) remove(key string) bool {
	r, ok := ix.parked[key]
	if !ok {
		return false
	}
	delete(ix.parked, key)
	if ix.bySale[r.sale]--; ix.bySale[r.sale] <= 0 {
		delete(ix.bySale, r.sale)
	}
	return true
}

// index returns partition's index, rebuilt from the state if the state
// changed under it (restored, or rolled back).
func (p *Processor) index(c *pipeline.Context[Entry], partition int32, now time.Time) *partIndex {
	ix := p.parts[partition]
	if ix == nil || ix.epoch != c.StateEpoch() {
		nix := &partIndex{epoch: c.StateEpoch(), parked: map[string]parkRef{}, bySale: map[string]int{}}
		old := 0
		if ix != nil {
			old = len(ix.parked)
			nix.watermark = ix.watermark
		}
		c.Scan(func(k string, e Entry) bool {
			if e.Parked != nil && strings.HasPrefix(k, ParkedPrefix) {
				nix.add(parkRef{key: k, sale: e.Parked.Sale, seq: e.Parked.Seq, parkedAt: e.Parked.ParkedAt})
			}
			return true
		})
		p.cfg.Metrics.parkedDelta(len(nix.parked) - old)
		p.parts[partition] = nix
		ix = nix
	}
	ix.seen = now
	return ix
}

// prune drops the indexes of partitions neither processed nor ticked for a
// long while: the instance no longer owns them (an owned partition is
// ticked every TickInterval), and they must not count as parked here.
func (p *Processor) prune(now time.Time) {
	horizon := max(30*time.Second, 10*p.cfg.TickInterval)
	for part, ix := range p.parts {
		if now.Sub(ix.seen) > horizon {
			p.cfg.Metrics.parkedDelta(-len(ix.parked))
			delete(p.parts, part)
		}
	}
}

// Process implements pipeline.Processor.
func (p *Processor) Process(c *pipeline.Context[Entry], rec *kgo.Record) error {
	now := p.cfg.Now()
	ix := p.index(c, rec.Partition, now)
	e, rj := decodeEvent(rec.Value)
	if rj != nil {
		return rj
	}
	seen := stateStore{c}
	if rj := p.cfg.Deduper.Check(seen, e); rj != nil {
		return rj
	}
	key := ParkedPrefix + e.Key()
	if _, parked := ix.parked[key]; parked {
		return pipeline.Rejectf(sanitize.ReasonDuplicate, "txn_id", "%s is parked already", e.Key())
	}
	sale := string(ingest.Key(e))
	if e.Type != canonical.Sale && ix.bySale[sale] > 0 {
		p.cfg.Deduper.Remember(seen, e)
		p.park(c, ix, key, sale, rec, &Missing{Reason: ReasonHeld, Msg: "waits behind an earlier parked event of sale " + sale}, now)
		p.advance(c, ix, e.EventTime)
		return nil
	}
	credits, miss, rj := p.cfg.Linker.Link(e, stateOriginals{c})
	if rj != nil {
		if rj.Reason == ReasonSharesNotOne {
			p.cfg.Metrics.violation()
		}
		return rj
	}
	p.cfg.Deduper.Remember(seen, e)
	if miss != nil {
		p.park(c, ix, key, sale, rec, miss, now)
	} else {
		p.emit(c, credits, len(rec.Value))
		if e.Type == canonical.Sale && ix.bySale[sale] > 0 {
			// Its returns or cancel arrived first and wait for it.
			p.retry(c, ix, now, sale)
		}
	}
	p.advance(c, ix, e.EventTime)
	return nil
}

// Tick implements pipeline.Ticker: it tries the partition's parked events
// again when the reference tables changed since the last try or a deadline
// has passed.
func (p *Processor) Tick(c *pipeline.Context[Entry], partition int32, now time.Time) {
	ix := p.index(c, partition, now)
	p.prune(now)
	if len(ix.parked) == 0 {
		return
	}
	v := p.cfg.Version()
	if v == ix.tried && !p.anyExpired(ix, now) {
		return
	}
	ix.tried = v
	p.retry(c, ix, now, "")
}

func (p *Processor) anyExpired(ix *partIndex, now time.Time) bool {
	limit := now.UnixNano() - p.cfg.ParkDeadline.Nanoseconds()
	for _, r := range ix.parked {
		if r.parkedAt <= limit {
			return true
		}
	}
	return false
}

// emit writes one credit per recipient, keyed by its rep.
func (p *Processor) emit(c *pipeline.Context[Entry], credits []Credit, eventBytes int) {
	for i := range credits {
		cr := &credits[i]
		c.Emit(p.cfg.Output, []byte(cr.RepID), cr.AppendJSON(make([]byte, 0, eventBytes+192)))
		p.cfg.Metrics.credit(cr.Via)
	}
}

// park keeps rec's event under key until its reference data arrives.
func (p *Processor) park(c *pipeline.Context[Entry], ix *partIndex, key, sale string, rec *kgo.Record, m *Missing, now time.Time) {
	seq := max(now.UnixNano(), ix.lastSeq+1)
	pk := &Parked{Seq: seq, ParkedAt: now.UnixNano(), Sale: sale, Reason: m.Reason, Field: m.Field, Message: m.Msg,
		Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp.UnixMilli(),
		// The record's bytes alias its fetch's buffer, which must not be
		// kept alive for as long as the event waits.
		Key: bytes.Clone(rec.Key), Value: bytes.Clone(rec.Value)}
	for _, h := range rec.Headers {
		pk.Headers = append(pk.Headers, kgo.RecordHeader{Key: h.Key, Value: bytes.Clone(h.Value)})
	}
	c.Put(key, Entry{Parked: pk})
	ix.add(parkRef{key: key, sale: sale, seq: seq, parkedAt: pk.ParkedAt})
	p.cfg.Metrics.park(m.Reason)
	p.cfg.Metrics.parkedDelta(1)
}

// retry tries the partition's parked events (only those of sale, when it
// is not empty) in the order they arrived: each is linked, rejected, kept,
// or, past its deadline, rejected with what it still lacks.
func (p *Processor) retry(c *pipeline.Context[Entry], ix *partIndex, now time.Time, sale string) {
	refs := make([]parkRef, 0, len(ix.parked))
	for _, r := range ix.parked {
		if sale == "" || r.sale == sale {
			refs = append(refs, r)
		}
	}
	slices.SortFunc(refs, func(a, b parkRef) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return strings.Compare(a.key, b.key)
	})
	limit := now.UnixNano() - p.cfg.ParkDeadline.Nanoseconds()
	var waiting map[string]bool // sales with an event still parked in this pass
	for _, r := range refs {
		expired := r.parkedAt <= limit
		if waiting[r.sale] && !expired {
			continue
		}
		ent, ok := c.Get(r.key)
		if !ok || ent.Parked == nil {
			if ix.remove(r.key) {
				p.cfg.Metrics.parkedDelta(-1)
			}
			continue
		}
		pk := ent.Parked
		e, rj := decodeEvent(pk.Value)
		if rj != nil {
			p.drop(c, ix, r.key, pk, nil, rj)
			continue
		}
		credits, miss, rj := p.cfg.Linker.Link(e, stateOriginals{c})
		switch {
		case rj != nil:
			if rj.Reason == ReasonSharesNotOne {
				p.cfg.Metrics.violation()
			}
			p.drop(c, ix, r.key, pk, e, rj)
		case miss != nil && expired:
			p.cfg.Metrics.expire(miss.Reason)
			p.drop(c, ix, r.key, pk, e, miss.Reject())
		case miss != nil:
			if waiting == nil {
				waiting = map[string]bool{}
			}
			waiting[r.sale] = true
			if pk.Reason != miss.Reason || pk.Field != miss.Field || pk.Message != miss.Msg {
				upd := *pk
				upd.Reason, upd.Field, upd.Message = miss.Reason, miss.Field, miss.Msg
				c.Put(r.key, Entry{Parked: &upd})
			}
		default:
			p.emit(c, credits, len(pk.Value))
			c.Delete(r.key)
			ix.remove(r.key)
			p.cfg.Metrics.parkedDelta(-1)
			p.cfg.Metrics.release()
		}
	}
}

// drop sends a parked event to the dead letters with rj and forgets it,
// and its deduplication entry, so that a fixed replay is not a duplicate.
func (p *Processor) drop(c *pipeline.Context[Entry], ix *partIndex, key string, pk *Parked, e *canonical.Event, rj *pipeline.Reject) {
	c.DeadLetter(pk.record(), pk.Value, rj, kgo.RecordHeader{Key: HeaderParkedAt,
		Value: time.Unix(0, pk.ParkedAt).UTC().AppendFormat(nil, time.RFC3339Nano)})
	c.Delete(key)
	if ix.remove(key) {
		p.cfg.Metrics.parkedDelta(-1)
	}
	if e != nil {
		p.cfg.Deduper.Forget(stateStore{c}, e)
	}
}

// advance moves the partition's event-time watermark and, every SweepEvery
// records, forgets the deduplication entries the window has left behind and
// the originals older than the retention.
func (p *Processor) advance(c *pipeline.Context[Entry], ix *partIndex, t time.Time) {
	if t.After(ix.watermark) {
		ix.watermark = t
	}
	if ix.since++; ix.since < p.cfg.SweepEvery {
		return
	}
	ix.since = 0
	p.cfg.Deduper.Sweep(stateStore{c}, ix.watermark)
	p.cfg.Metrics.sweep(SweepOriginals(c, ix.watermark.Add(-p.cfg.OriginalsRetention)))
}

// SweepOriginals deletes from s every sale's recipients older (in event
// time) than before, and returns how many it deleted.
func SweepOriginals(c *pipeline.Context[Entry], before time.Time) int {
	var old []string
	limit := before.UnixNano()
	c.Scan(func(k string, e Entry) bool {
		if e.Original != nil && e.Original.EventTime < limit && strings.HasPrefix(k, OriginalPrefix) {
			old = append(old, k)
		}
		return true
	})
	for _, k := range old {
		c.Delete(k)
	}
	return len(old)
}

// decodeEvent reads and checks a canonical event.
func decodeEvent(b []byte) (*canonical.Event, *pipeline.Reject) {
	e, err := DecodeEvent(b)
	if err != nil {
		return nil, malformed(err)
	}
	if err := e.Validate(); err != nil {
		return nil, malformed(err)
	}
	return e, nil
}

func malformed(err error) *pipeline.Reject {
	rj := &pipeline.Reject{Reason: ingest.ReasonMalformedCanonical, Err: err}
	var fe *canonical.FieldError
	if errors.As(err, &fe) {
		rj.Field = fe.Field
	}
	return rj
}
