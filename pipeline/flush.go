package pipeline

import (
	"fmt"
	"runtime/debug"
)

// Flusher is a Processor that holds some of its effects back while a batch
// is processed and writes them once per partition before the batch's
// transaction ends: the latest of several updates of a key (a snapshot that
// only its last version matters for), sums sent on to another key (a
// manager's share of many reports' sales), anything that is cheaper written
// once per batch than once per record. Kafka Streams' record caches do the
// same between commits.
//
// Flush is called once for every partition that processed records or was
// ticked in the batch (or in a tick transaction), after its records and
// ticks and before its changelog is written, with c bound to that
// partition's state. What it emits and stores is part of the same
// transaction as the records it stands for: it commits with them or is
// processed again with them. A Flusher must hold back only what it can
// write at Flush, and must write, at Flush, everything it holds for the
// partition: nothing it holds may outlive the transaction.
//
// A panic in Flush aborts the transaction and stops the stage: Run returns
// an error.
type Flusher[S any] interface {
	Flush(c *Context[S], partition int32)
}

// flushAll calls the processor's Flush for each partition of parts, in
// order; the first panic ends it with an error.
func (s *Stage[S]) flushAll(c *Context[S], parts []int32) error {
	f, ok := s.proc.(Flusher[S])
	if !ok {
		return nil
	}
	for _, p := range parts {
		if err := s.callFlush(f, c, p); err != nil {
			return err
		}
	}
	return nil
}

func (s *Stage[S]) callFlush(f Flusher[S], c *Context[S], p int32) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("processor panicked in Flush", "partition", p, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("stage %s: flush of partition %d panicked: %v", s.cfg.Name, p, r)
		}
	}()
	c.part = s.parts[p]
	f.Flush(c, p)
	return nil
}
