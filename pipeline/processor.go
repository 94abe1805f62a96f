package pipeline

import (
	"github.com/twmb/franz-go/pkg/kgo"
)

// Processor handles one input record at a time for a Stage. It is called
// from the stage's single processing goroutine, never concurrently, in
// partition offset order.
//
// Process reads and writes the keyed state of the record's partition through
// c, and emits output records through c. Its effects are part of the batch's
// transaction: they become visible together with the consumed offset, or not
// at all (and the record is then processed again).
//
// Returning an error sends the record to the dead-letter topic; return a
// *Reject to give a stable reason code and field. A processor that returns an
// error must not have changed state or emitted output for that record: check
// first, then write.
type Processor[S any] interface {
	Process(c *Context[S], rec *kgo.Record) error
}

// ProcessorFunc adapts a function to a Processor.
type ProcessorFunc[S any] func(c *Context[S], rec *kgo.Record) error

// Process implements Processor.
func (f ProcessorFunc[S]) Process(c *Context[S], rec *kgo.Record) error { return f(c, rec) }

// Context gives a Processor the state of the partition in hand and a way to
// emit records. It is only valid during the Process call it is passed to.
type Context[S any] struct {
	stage *Stage[S]
	part  *partitionState[S]
	// emitted counts the records emitted in this batch, per topic.
	emitted map[string]int
	// rejects counts the dead letters of this batch, per reason.
	rejects map[string]int
}

// Get returns the state stored under key, as of this point in the batch.
func (c *Context[S]) Get(key string) (S, bool) { return c.part.get(key) }

// Put stores v under key. It reaches the changelog and the committed state
// when the batch commits.
func (c *Context[S]) Put(key string, v S) { c.part.staged[key] = pending[S]{v: v} }

// Scan calls fn for every key of the partition's state as of this point in
// the batch, until fn returns false. It costs a pass over the partition's
// state: use it for occasional sweeps, not per record. fn may call Delete.
func (c *Context[S]) Scan(fn func(key string, v S) bool) {
	staged := make([]string, 0, len(c.part.staged))
	for k := range c.part.staged {
		staged = append(staged, k)
	}
	for _, k := range staged {
		if w := c.part.staged[k]; !w.deleted && !fn(k, w.v) {
			return
		}
	}
	for k, v := range c.part.committed {
		if _, ok := c.part.staged[k]; ok {
			continue
		}
		if !fn(k, v) {
			return
		}
	}
}

// Delete removes key; the changelog receives a tombstone.
func (c *Context[S]) Delete(key string) { c.part.staged[key] = pending[S]{deleted: true} }

// Emit writes a record to topic, partitioned by key (Kafka's default murmur2
// hash, so topics keyed alike stay co-partitioned). Emit does not block; the
// record is flushed when the batch's transaction ends.
func (c *Context[S]) Emit(topic string, key, value []byte) {
	c.EmitRecord(&kgo.Record{Topic: topic, Key: key, Value: value})
}

// EmitRecord writes r as it is (headers, timestamp). The runtime owns r
// afterwards.
func (c *Context[S]) EmitRecord(r *kgo.Record) {
	c.emitted[r.Topic]++
	c.stage.produce(r)
}

// DeadLetter sends value, a part of rec that could not be processed (one
// line of a multi-record payload, say), to the stage's dead-letter topic
// with rec's source position, err's reason and field, and extra headers
// (such as the line). It counts as a reject of the stage. Use it when one
// input record holds several records of which only some fail; return an
// error from Process when the whole record fails.
func (c *Context[S]) DeadLetter(rec *kgo.Record, value []byte, err error, extra ...kgo.RecordHeader) {
	part := *rec
	part.Value = value
	dl := deadLetter(c.stage.cfg.DeadLetter, c.stage.cfg.Name, &part, err, c.stage.nowFunc())
	dl.Headers = append(dl.Headers, extra...)
	reason, _ := reasonOf(err)
	if c.rejects == nil {
		c.rejects = make(map[string]int)
	}
	c.rejects[reason]++
	c.EmitRecord(dl)
}
