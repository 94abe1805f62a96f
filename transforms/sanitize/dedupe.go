package sanitize

import (
	"strings"
	"time"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
)

// SeenStore is the keyed state a Deduper reads and writes. A stage's
// *pipeline.Context[int64] is one: Deduper state then lives in the stage's
// changelog and recovers with it, and a copy rejected in one batch or after
// a restart is rejected the same way.
type SeenStore interface {
	Get(key string) (int64, bool)
	Put(key string, v int64)
	Delete(key string)
}

var _ SeenStore = (*pipeline.Context[int64])(nil)

// SeenKeyPrefix prefixes the Deduper's keys in a SeenStore, so that it can
// share a stage's state with other keys.
const SeenKeyPrefix = "seen/"

// Deduper decides whether an event is a second copy of one already seen:
// same (source, txn_id, type). The window is measured in event time: a copy
// whose event time lies within the window of the remembered copy's is a
// duplicate; one further away is taken as a new event (and remembered in
// its place). A window of 0 never forgets.
//
// State is per partition: copies of an event must reach the same partition
// (key the input by source and txn_id, as connectors do). Sweep forgets the
// entries that the window has left behind, so that state stays bounded.
type Deduper struct {
	window func(source string) time.Duration
}

// NewDeduper returns a Deduper with one window for every source.
func NewDeduper(window time.Duration) *Deduper {
	return &Deduper{window: func(string) time.Duration { return window }}
}

// Deduper returns a Deduper with the windows of g's policies.
func (g *Gate) Deduper() *Deduper { return &Deduper{window: g.DedupeWindow} }

// Check returns a Reject with reason duplicate (field txn_id) when s holds a
// copy of e within the window, else nil. It does not write: call Remember
// once the event is accepted, so that a rejected event leaves no trace (as
// pipeline.Processor requires).
func (d *Deduper) Check(s SeenStore, e *canonical.Event) *pipeline.Reject {
	first, ok := s.Get(SeenKeyPrefix + e.Key())
	if !ok {
		return nil
	}
	gap := e.EventTime.UnixNano() - first
	if gap < 0 {
		gap = -gap
	}
	if w := d.window(e.Source); w > 0 && gap > int64(w) {
		return nil
	}
	return pipeline.Rejectf(ReasonDuplicate, "txn_id", "%s was seen before (event time %s)",
		e.Key(), time.Unix(0, first).UTC().Format(time.RFC3339Nano))
}

// Remember records e as seen, by its event time.
func (d *Deduper) Remember(s SeenStore, e *canonical.Event) {
	s.Put(SeenKeyPrefix+e.Key(), e.EventTime.UnixNano())
}

// CheckAndRemember is Check, then Remember when e is not a duplicate: for a
// processor in which nothing after deduplication can refuse the event.
func (d *Deduper) CheckAndRemember(s SeenStore, e *canonical.Event) *pipeline.Reject {
	if rj := d.Check(s, e); rj != nil {
		return rj
	}
	d.Remember(s, e)
	return nil
}

// Forget removes what s remembers of e (an event withdrawn downstream).
func (d *Deduper) Forget(s SeenStore, e *canonical.Event) { s.Delete(SeenKeyPrefix + e.Key()) }

// ScanStore is a SeenStore whose entries can be listed, such as
// *pipeline.Context[int64].
type ScanStore interface {
	SeenStore
	Scan(fn func(key string, v int64) bool)
}

var _ ScanStore = (*pipeline.Context[int64])(nil)

// Sweep forgets every remembered event that lies more than its source's
// window before watermark (the highest event time the partition has seen):
// a copy of it arriving now would no longer be caught anyway, since stream
// time has moved past the window. Sources with no window are kept for ever.
// It returns the number of entries removed. The source is read from the key
// up to its first ':', so source names must not contain ':'.
func (d *Deduper) Sweep(s ScanStore, watermark time.Time) int {
	var old []string
	s.Scan(func(key string, first int64) bool {
		rest, ok := strings.CutPrefix(key, SeenKeyPrefix)
		if !ok {
			return true
		}
		source, _, _ := strings.Cut(rest, ":")
		if w := d.window(source); w > 0 && watermark.UnixNano()-first > int64(w) {
			old = append(old, key)
		}
		return true
	})
	for _, k := range old {
		s.Delete(k)
	}
	return len(old)
}
