package accrue

import (
	"strings"
	"time"

	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
)

// DefaultRetention is how long, in event time, the accrual stage keeps a
// sale (for its returns and cancel) and a period's figures (for late
// reversals into it): as long as the linking stage keeps a sale's
// recipients, so that a return neither stage can place any more is rejected
// the same way (unknown_original) by both. It must be at least the
// gatekeepers' event-time horizon, or a late adjustment could land in a
// period whose figures are gone and be reported from zero.
const DefaultRetention = link.DefaultOriginalsRetention

// ScanStore is a Store whose values can be listed, such as
// *pipeline.Context[State].
type ScanStore interface {
	Store
	Scanner
}

// Sweep forgets, in s, the sales older than retention before watermark
// (the highest event time the partition has seen), and the periods that
// ended before that: nothing still to come can reach them. It returns the
// number of keys removed. It costs a pass over s; the stage runs it now and
// then, not per record.
func (e *Engine) Sweep(s ScanStore, watermark time.Time, retention time.Duration) int {
	cutoff := watermark.Add(-retention)
	// A period's last day is a local date; one day of slack covers every
	// time zone.
	lastDay := reference.DateOf(cutoff) - 1
	var old []string
	s.Scan(func(k string, v State) bool {
		switch {
		case v.Sale != nil && v.Sale.EventTime.Before(cutoff):
			old = append(old, k)
		case v.Period != nil && strings.HasPrefix(k, "p/"):
			if f := e.byID[v.Period.ProgramID]; f != nil && f.lastDay(v.Period.Period) < lastDay {
				old = append(old, k)
			}
		}
		return true
	})
	for _, k := range old {
		s.Delete(k)
	}
	return len(old)
}
