// Package counter is the smallest keyed stage: it counts records per key and
// emits each new count. The runtime's crash tests, benchmarks and demo use it
// because its output proves exactly-once on sight: for every key the emitted
// counts must be 1, 2, …, n with no gap and no repeat.
package counter

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
)

// ReasonMissingKey rejects a record without a key: there is nothing to count
// it under.
const ReasonMissingKey = "missing_key"

// Processor counts records per key and emits (key, count) to Output, the
// count in decimal text.
type Processor struct {
	Output string
	buf    []byte
}

// Process implements pipeline.Processor.
func (p *Processor) Process(c *pipeline.Context[int64], rec *kgo.Record) error {
	if len(rec.Key) == 0 {
		return pipeline.Rejectf(ReasonMissingKey, "key", "record has no key")
	}
	n, _ := c.Get(string(rec.Key))
	n++
	c.Put(string(rec.Key), n)
	c.Emit(p.Output, rec.Key, strconv.AppendInt(nil, n, 10))
	return nil
}
