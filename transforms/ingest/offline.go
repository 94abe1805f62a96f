package ingest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/accrue/accrue/transforms/sanitize"
)

// MemorySeen is a SeenStore in memory, for runs without a stage.
type MemorySeen map[string]int64

// Get implements sanitize.SeenStore.
func (m MemorySeen) Get(k string) (int64, bool) { v, ok := m[k]; return v, ok }

// Put implements sanitize.SeenStore.
func (m MemorySeen) Put(k string, v int64) { m[k] = v }

// Delete implements sanitize.SeenStore.
func (m MemorySeen) Delete(k string) { delete(m, k) }

// RejectLine is one line of rejected.jsonl.
type RejectLine struct {
	Reason  string `json:"reason"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
	Offset  int64  `json:"offset"`
	Raw     string `json:"raw"`
}

// OfflineCounts says what an offline run did with the records it read.
type OfflineCounts struct {
	Records  int            `json:"records"`
	Clean    int            `json:"clean"`
	Rejected map[string]int `json:"rejected"`
	Skipped  map[string]int `json:"skipped"`
}

// RunOffline runs payload through p and the deduper exactly as the ingest
// and dedupe stages would, writing clean events (one JSON object a line) to
// clean and rejections to rejected.
func RunOffline(p *Pipeline, d *sanitize.Deduper, payload []byte, now time.Time, clean, rejected io.Writer) (OfflineCounts, error) {
	cw, rw := bufio.NewWriter(clean), bufio.NewWriter(rejected)
	cenc, renc := json.NewEncoder(cw), json.NewEncoder(rw)
	counts := OfflineCounts{Rejected: map[string]int{}, Skipped: map[string]int{}}
	seen := MemorySeen{}
	var werr error
	reject := func(r Result) {
		counts.Rejected[r.Reject.Reason]++
		if werr == nil {
			werr = renc.Encode(RejectLine{Reason: r.Reject.Reason, Field: r.Reject.Field, Message: r.Reject.Error(),
				Line: r.Line, Offset: r.Offset, Raw: string(r.Raw)})
		}
	}
	p.Run(payload, now, func(r Result) {
		counts.Records++
		switch {
		case r.Skip != "":
			counts.Skipped[r.Skip]++
		case r.Reject != nil:
			reject(r)
		default:
			if d != nil {
				if rj := d.CheckAndRemember(seen, r.Event); rj != nil {
					r.Reject = rj
					reject(r)
					return
				}
			}
			counts.Clean++
			if werr == nil {
				werr = cenc.Encode(r.Event)
			}
		}
	})
	if werr != nil {
		return counts, fmt.Errorf("write: %w", werr)
	}
	if err := cw.Flush(); err != nil {
		return counts, err
	}
	return counts, rw.Flush()
}
