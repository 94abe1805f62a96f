package ingest

import "github.com/accrue/accrue/connectors/canonical"

// Encode is the processor's encoding of an event, for benchmarks.
func (p *Processor) Encode(e *canonical.Event) (key, value []byte) { return p.encode(e) }
