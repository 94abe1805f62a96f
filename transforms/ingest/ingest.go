// Package ingest is the gate between upstream systems and accrue: it turns
// what a source sends into canonical sale events and stops bad data with a
// reason. The same Pipeline runs in the ingest stage, in HTTP ingest, in file
// import and in `accrue connector run`, so a config tried offline behaves as
// it will live.
//
// Topology (two stages, one Kafka hop):
//
//	raw topics ─► [ingest, stateless] decode → map → sanitize ─► sales.canonical (key source:txn_id)
//	                                  └─► sales.rejected
//	sales.canonical ─► [dedupe, keyed] (source, txn_id, type) seen? ─► sales.clean (key source:txn_id)
//	                                  └─► sales.rejected (reason duplicate)
//
// The hop exists because upstream topics are keyed as their owners chose:
// deduplication needs every copy of an event on one partition, so the ingest
// stage re-keys events by their identity before the keyed dedupe stage.
package ingest

import (
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fastjson"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/connectors/mapping"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/sanitize"
)

// HeaderSourceLine gives the line of a rejected record within its payload
// (a Kafka record holding NDJSON or CSV, an HTTP body, a file).
const HeaderSourceLine = "accrue.source.line"

// Pipeline maps one source's payloads and checks the events.
type Pipeline struct {
	Mapper *mapping.Mapper
	Gate   *sanitize.Gate
}

// Result is what became of one record of a payload: an Event that passed,
// or a Reject (from mapping or from a gatekeeper), or a Skip that is neither
// (a CDC update that changes nothing, for example), with the record's place
// and bytes.
type Result struct {
	Event  *canonical.Event
	Reject *pipeline.Reject
	Skip   string
	Line   int
	Offset int64
	Raw    []byte // aliases the payload
}

// Run maps payload and checks every event found in it, calling visit once
// per record, in order. now is the clock of the event-time window.
func (p *Pipeline) Run(payload []byte, now time.Time, visit func(Result)) {
	p.run(nil, payload, now, visit)
}

// run is Run, with events built in reuse when it is not nil
// (mapping.Mapper.MapReuse): a Result's Event is then only valid until
// visit returns.
func (p *Pipeline) run(reuse *mapping.Reuse, payload []byte, now time.Time, visit func(Result)) {
	p.Mapper.MapReuse(reuse, payload, func(o mapping.Outcome) {
		r := Result{Event: o.Event, Reject: o.Reject, Skip: o.Skip, Line: o.Line, Offset: o.Offset, Raw: o.Raw}
		if r.Event != nil && p.Gate != nil {
			if rj := p.Gate.Check(r.Event, now); rj != nil {
				r.Event, r.Reject = nil, rj
			}
		}
		visit(r)
	})
}

// Key is the Kafka key of an event on sales.canonical and sales.clean: the
// source and the txn_id of the sale it belongs to (RefTxnID for a return or
// a cancel), so that a sale, its duplicates, its returns and its cancel share
// a partition and its state.
func Key(e *canonical.Event) []byte {
	return appendKey(make([]byte, 0, keyLen(e)), e)
}

func keyTxn(e *canonical.Event) string {
	if e.RefTxnID != "" {
		return e.RefTxnID
	}
	return e.TxnID
}

func keyLen(e *canonical.Event) int { return len(e.Source) + 1 + len(keyTxn(e)) }

func appendKey(dst []byte, e *canonical.Event) []byte {
	return append(append(append(dst, e.Source...), ':'), keyTxn(e)...)
}

// Processor is the ingest stage's processor: it routes each record by its
// topic to that source's Pipeline, emits passing events to Output and sends
// each rejected record, alone, to the dead-letter topic with its line.
type Processor struct {
	byTopic map[string]*Pipeline
	output  string
	now     func() time.Time
	// OnSkip, when set, is called for every skipped record (for metrics).
	OnSkip func(source, reason string)
	// Process is never called concurrently (pipeline.Processor), so one
	// event serves every record: reuse is where each event is built,
	// since it is dropped once encoded.
	reuse mapping.Reuse
	// Emitted records and their bytes are carved from slabs rather than
	// allocated one by one: they all live until their batch's transaction
	// ends, and a slab goes with its last record.
	slab []byte
	recs []kgo.Record
}

// Slab sizes: about 200 events of 300 bytes, 256 records. An event is
// encoded into the slab when slabFree bytes are left, else into a new one.
const (
	slabBytes   = 64 << 10
	slabFree    = 1 << 10
	slabRecords = 256
)

// NewProcessor builds the ingest processor. sources maps an upstream topic
// to its pipeline; output is normally "sales.canonical".
func NewProcessor(sources map[string]*Pipeline, output string, now func() time.Time) *Processor {
	if now == nil {
		now = time.Now
	}
	return &Processor{byTopic: sources, output: output, now: now}
}

// ReasonUnknownTopic rejects a record from a topic no source is configured
// for (a configuration error; the record is kept).
const ReasonUnknownTopic = "unknown_source_topic"

// Process implements pipeline.Processor. Ingest keeps no state.
func (p *Processor) Process(c *pipeline.Context[int64], rec *kgo.Record) error {
	pl := p.byTopic[rec.Topic]
	if pl == nil {
		return pipeline.Rejectf(ReasonUnknownTopic, "", "no source is configured for topic %q", rec.Topic)
	}
	now := p.now()
	pl.run(&p.reuse, rec.Value, now, func(r Result) {
		switch {
		case r.Reject != nil:
			c.DeadLetter(rec, append([]byte(nil), r.Raw...), r.Reject,
				kgo.RecordHeader{Key: HeaderSourceLine, Value: strconv.AppendInt(nil, int64(r.Line), 10)},
				kgo.RecordHeader{Key: "source", Value: []byte(pl.Mapper.Source())})
		case r.Skip != "":
			if p.OnSkip != nil {
				p.OnSkip(pl.Mapper.Source(), r.Skip)
			}
		default:
			out := p.record()
			out.Topic = p.output
			out.Key, out.Value = p.encode(r.Event)
			c.EmitRecord(out)
		}
	})
	return nil
}

// encode returns e's Kafka key and wire form, side by side in the slab,
// each capped so that nothing appends into what follows it. An event
// larger than the slab's free space is appended out of it, into memory of
// its own.
func (p *Processor) encode(e *canonical.Event) (key, value []byte) {
	if cap(p.slab)-len(p.slab) < slabFree {
		p.slab = make([]byte, 0, slabBytes)
	}
	free := p.slab[len(p.slab):len(p.slab)]
	buf := e.AppendJSON(appendKey(free, e))
	if len(buf) <= cap(free) { // written in the slab
		p.slab = p.slab[:len(p.slab)+len(buf)]
	}
	buf = buf[:len(buf):len(buf)]
	k := keyLen(e)
	return buf[:k:k], buf[k:]
}

// record returns a new record from the record slab.
func (p *Processor) record() *kgo.Record {
	if len(p.recs) == 0 {
		p.recs = make([]kgo.Record, slabRecords)
	}
	r := &p.recs[0]
	p.recs = p.recs[1:]
	return r
}

// Dedupe is the dedupe stage's processor: it passes the first copy of every
// (source, txn_id, type) within the window to Output and rejects the others
// with reason duplicate. Its input is keyed by Key, so all copies meet on one
// partition and its state.
type Dedupe struct {
	deduper *sanitize.Deduper
	output  string
	// per partition: the highest event time seen (the watermark), and
	// records since the last sweep.
	watermark map[int32]time.Time
	since     map[int32]int
	// SweepEvery is how many records of a partition pass between sweeps
	// of its expired entries; default 20000.
	SweepEvery int
	// OnSweep, when set, is told how many entries a sweep removed.
	OnSweep func(removed int)
}

// NewDedupe builds the dedupe processor; output is normally "sales.clean".
func NewDedupe(d *sanitize.Deduper, output string) *Dedupe {
	return &Dedupe{deduper: d, output: output, watermark: map[int32]time.Time{}, since: map[int32]int{}, SweepEvery: 20000}
}

// ReasonMalformedCanonical rejects a record on sales.canonical that is not a
// canonical event (written by something other than the ingest stage).
const ReasonMalformedCanonical = "malformed_canonical"

// Process implements pipeline.Processor.
func (d *Dedupe) Process(c *pipeline.Context[int64], rec *kgo.Record) error {
	e, err := identity(rec.Value)
	if err != nil {
		return &pipeline.Reject{Reason: ReasonMalformedCanonical, Err: err}
	}
	if rj := d.deduper.CheckAndRemember(c, e); rj != nil {
		return rj
	}
	c.Emit(d.output, rec.Key, rec.Value)
	if e.EventTime.After(d.watermark[rec.Partition]) {
		d.watermark[rec.Partition] = e.EventTime
	}
	if d.since[rec.Partition]++; d.since[rec.Partition] >= d.SweepEvery {
		d.since[rec.Partition] = 0
		if n := d.deduper.Sweep(c, d.watermark[rec.Partition]); d.OnSweep != nil {
			d.OnSweep(n)
		}
	}
	return nil
}

var identityParsers fastjson.ParserPool

// identity reads only what deduplication needs of a canonical event (source,
// txn_id, type, event_time): decoding the whole event through encoding/json
// cost 8 µs a record, more than all of the ingest stage's work. The record
// itself passes on unchanged.
func identity(b []byte) (*canonical.Event, error) {
	p := identityParsers.Get()
	defer identityParsers.Put(p)
	v, err := p.ParseBytes(b)
	if err != nil {
		return nil, err
	}
	str := func(k string) (string, error) {
		x := v.Get(k)
		if x == nil || x.Type() != fastjson.TypeString {
			return "", fmt.Errorf("field %s: missing or not a string", k)
		}
		s, _ := x.StringBytes()
		return string(s), nil
	}
	e := &canonical.Event{}
	var t string
	var typ string
	if e.Source, err = str("source"); err != nil {
		return nil, err
	}
	if e.TxnID, err = str("txn_id"); err != nil {
		return nil, err
	}
	if typ, err = str("type"); err != nil {
		return nil, err
	}
	if t, err = str("event_time"); err != nil {
		return nil, err
	}
	e.Type = canonical.Type(typ)
	if e.EventTime, err = time.Parse(time.RFC3339Nano, t); err != nil {
		return nil, fmt.Errorf("field event_time: %w", err)
	}
	if e.Source == "" || e.TxnID == "" || !e.Type.Valid() {
		return nil, fmt.Errorf("not a canonical event: source, txn_id and type are required")
	}
	return e, nil
}
