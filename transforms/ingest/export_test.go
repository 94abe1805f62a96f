package ingest

import (
	"time"

	"github.com/accrue/accrue/connectors/canonical"
)

// Encode is the processor's encoding of an event, for benchmarks.
func (p *Processor) Encode(e *canonical.Event) (key, value []byte) { return p.encode(e) }

// Run runs pl as the processor does, building events in its memory.
func (p *Processor) Run(pl *Pipeline, payload []byte, now time.Time, visit func(Result)) {
	pl.run(&p.reuse, payload, now, visit)
}
