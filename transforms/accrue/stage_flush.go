package accrue

import (
	"github.com/accrue/accrue/pipeline"
)

// held is what the stage holds back of a batch's outputs until its first
// Flush, where one record stands for many (a batch's outputs are keyed by
// rep, whatever partition the inputs came from, so one set serves them
// all):
//
//   - the latest snapshot of each (program, period, rep): a reader keeps
//     the highest version, and the versions in between would be overwritten
//     before anyone could act on them;
//   - the payable amount of each (program, period, rep): the sum of the
//     batch's accrual deltas, keyed by the last accrual's id;
//   - the override records of each (manager, program version, period,
//     level): one record summing the batch's contributions, naming each
//     (OverrideCredit.Sources). A manager's fan-in is what makes the
//     stage's work grow with the team's size; summed, it grows with
//     batches.
//
// Accrual deltas, nudges and awards are written at once, one per event:
// they are the ledger and the messages.
type held struct {
	snaps  []Snapshot
	snapAt map[statementKey]int
	pays   []Accrual // Delta is the sum; the rest is the last accrual's
	payAt  map[statementKey]int
	ovs    []OverrideCredit
	ovAt   map[overrideKey]int
}

type statementKey struct{ program, period, rep string }

type overrideKey struct {
	manager, program, period string
	version, level           int
}

func newHeld() *held {
	return &held{snapAt: map[statementKey]int{}, payAt: map[statementKey]int{}, ovAt: map[overrideKey]int{}}
}

func (h *held) empty() bool { return len(h.snaps) == 0 && len(h.pays) == 0 && len(h.ovs) == 0 }

func (h *held) reset() {
	clear(h.snaps)
	h.snaps = h.snaps[:0]
	clear(h.pays)
	h.pays = h.pays[:0]
	clear(h.ovs)
	h.ovs = h.ovs[:0]
	clear(h.snapAt)
	clear(h.payAt)
	clear(h.ovAt)
}

func (h *held) snapshot(s *Snapshot) {
	k := statementKey{s.ProgramID, s.Period, s.RepID}
	if l := s.lazy; l != nil {
		k = statementKey{l.ps.ProgramID, l.ps.Period, l.ps.RepID}
	}
	if i, ok := h.snapAt[k]; ok {
		h.snaps[i] = *s
		return
	}
	h.snapAt[k] = len(h.snaps)
	h.snaps = append(h.snaps, *s)
}

func (h *held) payable(a *Accrual) {
	k := statementKey{a.ProgramID, a.Period, a.RepID}
	last := *a
	last.Trace = nil
	if i, ok := h.payAt[k]; ok {
		last.Delta = add(h.pays[i].Delta, a.Delta)
		h.pays[i] = last
		return
	}
	h.payAt[k] = len(h.pays)
	h.pays = append(h.pays, last)
}

// override sums o into the record held for its manager, program version,
// period and level.
func (h *held) override(o *OverrideCredit) {
	k := overrideKey{o.ManagerID, o.ProgramID, o.Period, o.ProgramVersion, o.Level}
	i, ok := h.ovAt[k]
	if !ok || cmp(h.ovs[i].Rate, o.Rate) != 0 {
		h.ovAt[k] = len(h.ovs)
		h.ovs = append(h.ovs, *o)
		return
	}
	sum := &h.ovs[i]
	if len(sum.Sources) == 0 {
		sum.Sources = append(make([]OverrideSource, 0, 4), sourceOf(sum))
		sum.FromRepID = ""
	}
	sum.Sources = append(sum.Sources, sourceOf(o))
	sum.Amount = add(sum.Amount, o.Amount)
	sum.EventID = o.EventID
}

func sourceOf(o *OverrideCredit) OverrideSource {
	return OverrideSource{FromRepID: o.FromRepID, EventID: o.EventID, Amount: o.Amount}
}

// SumOverrides sums override records as the stage does within a batch:
// one record per manager, program version, period and level (and rate),
// in the order each first appears, its id the first one's.
func SumOverrides(ovs []OverrideCredit) []OverrideCredit {
	h := newHeld()
	for i := range ovs {
		h.override(&ovs[i])
	}
	return h.ovs
}

// Flush implements pipeline.Flusher: it writes what the batch held back
// (held), at the first partition's Flush.
func (p *Processor) Flush(c *pipeline.Context[Entry], _ int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.held
	if h.empty() {
		return
	}
	e := emitter{c: c, b: make([]byte, 0, 256*(len(h.snaps)+len(h.pays)+len(h.ovs)))}
	for i := range h.pays {
		e.emit(p.cfg.Payable, h.pays[i].RepID, (*payable)(&h.pays[i]))
	}
	for i := range h.snaps {
		h.snaps[i].resolve()
		e.emit(p.cfg.Attainment, h.snaps[i].RepID, &h.snaps[i])
	}
	for i := range h.ovs {
		e.emit(p.cfg.Overrides, h.ovs[i].ManagerID, &h.ovs[i])
	}
	p.cfg.Metrics.flushed(len(h.snaps), len(h.pays), len(h.ovs))
	h.reset()
}

// payable is an accrual written as its payouts.payable record.
type payable Accrual

func (a *payable) AppendJSON(b []byte) []byte { return AppendPayable(b, (*Accrual)(a)) }
