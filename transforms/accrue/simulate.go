package accrue

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/accrue/accrue/transforms/sanitize"
)

// Reason codes of records a Simulation cannot read.
const (
	ReasonMalformedJSON = "malformed_json"
)

// Simulation runs canonical events through the pipeline's code offline, in
// file order, as the stream would see them arrive (PROGRAMS.md §5): decode
// and the default gatekeepers (sanitize), deduplication on (source, txn_id,
// type), linking (reference data missing is a reject at once), then the
// Engine, with each override record applied right after the credit that
// produced it. State lives in a MemoryStore.
//
// Time-based nudges fire as in one partition of the stage: the watermark
// is the highest event time of the credits applied so far, in file order,
// and a timer fires as the watermark passes it (before the credit that
// moved it is applied). There is no idle advance: time stands still
// between events and after the last.
//
// A Simulation is not safe for concurrent use.
type Simulation struct {
	engine  *Engine
	gate    *sanitize.Gate
	deduper *sanitize.Deduper
	linker  *link.Linker
	seen    memorySeen
	orig    link.MemoryOriginals
	store   MemoryStore
	// clock is the simulation's event time and timers: one partition.
	clock   timerClock
	now     time.Time
	summary Summary

	// OnNudge and OnAward, when set, are told each nudge and award as it
	// fires.
	OnNudge func(*Nudge)
	OnAward func(*Award)
	// OnReject, when set, is told each rejected event (line from 1).
	OnReject func(line int, rj *pipeline.Reject)
	// OnOutput, when set, is told everything each applied input produced
	// (accruals, snapshots, nudges, awards, override records), in order.
	OnOutput func(*Output)
}

// Summary counts what a Simulation did with the events it read: each is
// credited, a duplicate, or rejected (by reason). Expired counts the
// credited returns and cancels that came after the clawback window of at
// least one program and so changed nothing there.
type Summary struct {
	Read       int            `json:"events_read"`
	Credited   int            `json:"credited"`
	Duplicates int            `json:"duplicates"`
	Rejected   map[string]int `json:"rejected"`
	Expired    int            `json:"clawback_window_expired"`
}

// RejectedTotal is the number of events rejected, whatever the reason.
func (s *Summary) RejectedTotal() int {
	n := 0
	for _, v := range s.Rejected {
		n += v
	}
	return n
}

// NewSimulation builds a Simulation of e over tables, with the default
// gatekeepers (the event contract and ISO 4217 currencies) and
// deduplication that never forgets.
func NewSimulation(e *Engine, tables *reference.Tables) *Simulation {
	gate := sanitize.MustCompile(&sanitize.Config{})
	return &Simulation{
		engine: e, gate: gate, deduper: gate.Deduper(),
		linker: &link.Linker{Tables: tables, RequireProduct: false},
		seen:   memorySeen{}, orig: link.MemoryOriginals{}, store: MemoryStore{},
		now:     time.Now(),
		summary: Summary{Rejected: map[string]int{}},
	}
}

// Run reads r, one canonical event a line, to its end. Blank lines are
// skipped. It fails only when r cannot be read.
func (s *Simulation) Run(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		s.Event(line, b)
	}
	return sc.Err()
}

// Event runs one encoded event through the pipeline's code.
func (s *Simulation) Event(line int, b []byte) {
	s.summary.Read++
	// The linking stage's reader of canonical events, which reads what
	// encoding/json reads, the same way.
	ev, err := link.DecodeEvent(b)
	if err != nil {
		var fe *canonical.FieldError
		if errors.As(err, &fe) {
			s.reject(line, &pipeline.Reject{Reason: sanitize.ReasonInvalidField, Field: fe.Field, Err: fe.Err})
		} else {
			s.reject(line, &pipeline.Reject{Reason: ReasonMalformedJSON, Err: err})
		}
		return
	}
	if rj := s.gate.Check(ev, s.now); rj != nil {
		s.reject(line, rj)
		return
	}
	if rj := s.deduper.CheckAndRemember(s.seen, ev); rj != nil {
		s.summary.Duplicates++
		if s.OnReject != nil {
			s.OnReject(line, rj)
		}
		return
	}
	credits, miss, rj := s.linker.Link(ev, s.orig)
	if miss != nil {
		rj = miss.Reject()
	}
	if rj != nil {
		s.reject(line, rj)
		return
	}
	var first *pipeline.Reject
	expired := false
	for i := range credits {
		var fired Output
		out, _, err := s.clock.applyCredit(s.engine, s.store, &credits[i], &fired)
		s.emit(&fired)
		if err != nil {
			if first == nil {
				first = asReject(err)
			}
			continue
		}
		expired = expired || len(out.Expired) > 0
		s.emit(&out)
		for j := range out.Overrides {
			o, err := s.clock.applyOverride(s.engine, s.store, &out.Overrides[j])
			if err != nil {
				// The engine made the record from a program it holds.
				panic(fmt.Sprintf("accrue: override record refused: %v", err))
			}
			s.emit(&o)
		}
	}
	if first != nil {
		s.reject(line, first)
		return
	}
	s.summary.Credited++
	if expired {
		s.summary.Expired++
	}
}

func asReject(err error) *pipeline.Reject {
	var rj *pipeline.Reject
	if errors.As(err, &rj) {
		return rj
	}
	return &pipeline.Reject{Reason: pipeline.ReasonProcessingFailed, Err: err}
}

func (s *Simulation) emit(out *Output) {
	if s.OnOutput != nil {
		s.OnOutput(out)
	}
	if s.OnNudge != nil {
		for i := range out.Nudges {
			s.OnNudge(&out.Nudges[i])
		}
	}
	if s.OnAward != nil {
		for i := range out.Awards {
			s.OnAward(&out.Awards[i])
		}
	}
}

func (s *Simulation) reject(line int, rj *pipeline.Reject) {
	s.summary.Rejected[rj.Reason]++
	if s.OnReject != nil {
		s.OnReject(line, rj)
	}
}

// Summary is what the simulation has counted so far.
func (s *Simulation) Summary() Summary { return s.summary }

// Statements are the statements of every (program, period, rep) so far,
// sorted by program, period and rep.
func (s *Simulation) Statements() []Statement { return s.engine.Statements(s.store) }

// Watermark is the highest event time of the credits applied so far.
func (s *Simulation) Watermark() time.Time { return s.clock.watermark }

// Store is the simulation's state.
func (s *Simulation) Store() MemoryStore { return s.store }

// memorySeen is the Deduper's state in a map.
type memorySeen map[string]int64

func (m memorySeen) Get(k string) (int64, bool) { v, ok := m[k]; return v, ok }
func (m memorySeen) Put(k string, v int64)      { m[k] = v }
func (m memorySeen) Delete(k string)            { delete(m, k) }
