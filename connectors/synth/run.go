package synth

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Producer is the part of a *kgo.Client that Run uses.
type Producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
	Flush(ctx context.Context) error
}

// FlushTimeout bounds how long Run waits, once its context is done, for the
// records it handed over to be acknowledged.
const FlushTimeout = 10 * time.Second

// tick is how often Run hands a slice of records to the producer.
const tick = 10 * time.Millisecond

// Run produces the generator's records to topic at rate records a second
// until ctx is done, then waits up to FlushTimeout for the records already
// handed to p to be acknowledged, so that Stats counts every record that
// reached the topic. It blocks. It returns nil after a clean stop, or the
// first produce error (it then stops at once).
//
// The pace is kept against the wall clock from the start. After a stall
// (the producer's buffer full, a slow broker) at most a tenth of a second's
// worth of records is made up; the rest is skipped, not burst. Run must not
// be called concurrently with itself, Next or NextSale.
func (g *Generator) Run(ctx context.Context, p Producer, topic string, rate int) error {
	if topic == "" {
		return errors.New("synth: no topic")
	}
	return g.RunBySource(ctx, p, func(string) string { return topic }, rate)
}

// RunBySource is Run with a topic per source: topic(source name) gives the
// topic of each source's records ("raw.crm-na"), as when every upstream
// system writes to a topic of its own. It is called once per source, before
// the first record.
func (g *Generator) RunBySource(ctx context.Context, p Producer, topic func(source string) string, rate int) error {
	if rate <= 0 {
		return fmt.Errorf("synth: rate %d: must be positive", rate)
	}
	topics := make([]string, len(g.cfg.sources))
	for i, s := range g.cfg.sources {
		if topics[i] = topic(s.Name); topics[i] == "" {
			return fmt.Errorf("synth: no topic for source %s", s.Name)
		}
	}
	// Records are handed over under a context that outlives ctx by
	// FlushTimeout: cancelling ctx must stop the generation, not fail
	// records that are already on their way.
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopAfter := context.AfterFunc(ctx, func() { time.AfterFunc(FlushTimeout, cancel) })
	defer stopAfter()

	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	start := time.Now()
	burst := int64(rate)/10 + 1
	var sent int64
	for ctx.Err() == nil && g.stats.err() == nil {
		select {
		case <-ctx.Done():
			continue
		case <-ticker.C:
		}
		due := time.Since(start).Milliseconds() * int64(rate) / 1000
		sent = max(sent, due-burst)
		for ; sent < due && ctx.Err() == nil; sent++ {
			s := g.NextSale()
			r := g.Record(s)
			r.Topic = topics[s.source]
			kind := int(s.Defect)
			if s.Duplicate {
				kind = promiseDuplicate
			}
			p.Produce(pctx, r, g.stats.promises[s.source][kind])
		}
	}
	ferr := p.Flush(pctx)
	if err := g.stats.err(); err != nil {
		return fmt.Errorf("synth: produce: %w", err)
	}
	if ferr != nil {
		return fmt.Errorf("synth: flush: %w", ferr)
	}
	return nil
}

// Stats counts the records a generator's Run got acknowledged.
type Stats struct {
	// Sources are in the order of Generator.Sources.
	Sources []SourceStats
	// Defects counts acknowledged records by defect; Defects[DefectNone]
	// are the valid ones, duplicates included.
	Defects [NumDefects]int64
	// Duplicates counts the acknowledged exact copies of earlier records
	// (all of them valid: see WithDuplicateRate).
	Duplicates int64
	// Failed counts records the producer failed.
	Failed int64
}

// SourceStats counts one source's acknowledged records.
type SourceStats struct {
	Name string
	// Produced counts every record, broken ones included.
	Produced int64
	// Defective counts the records broken on purpose.
	Defective int64
}

// Produced is the number of acknowledged records of all sources.
func (s Stats) Produced() int64 {
	var n int64
	for _, src := range s.Sources {
		n += src.Produced
	}
	return n
}

// Stats returns the counts so far. It is safe to call concurrently with Run.
func (g *Generator) Stats() Stats {
	c := &g.stats
	st := Stats{Sources: make([]SourceStats, len(c.names)), Failed: c.failed.Load(), Duplicates: c.duplicates.Load()}
	for i, name := range c.names {
		st.Sources[i] = SourceStats{Name: name, Produced: c.produced[i].Load(), Defective: c.defective[i].Load()}
	}
	for d := range st.Defects {
		st.Defects[d] = c.defects[d].Load()
	}
	return st
}

// promiseDuplicate is the index of the promise of a duplicate, after those
// of the defects.
const promiseDuplicate = NumDefects

// counters are the figures behind Stats. One promise per source and defect
// (and one for duplicates) is made up front, so that producing a record
// allocates no closure.
type counters struct {
	names      []string
	produced   []atomic.Int64
	defective  []atomic.Int64
	defects    [NumDefects]atomic.Int64
	duplicates atomic.Int64
	failed     atomic.Int64
	firstErr   atomic.Pointer[error]
	promises   [][NumDefects + 1]func(*kgo.Record, error)
}

func (c *counters) init(sources []Source) {
	c.names = make([]string, len(sources))
	c.produced = make([]atomic.Int64, len(sources))
	c.defective = make([]atomic.Int64, len(sources))
	c.promises = make([][NumDefects + 1]func(*kgo.Record, error), len(sources))
	for i, s := range sources {
		c.names[i] = s.Name
		for kind := range NumDefects + 1 {
			d, dup := Defect(kind), kind == promiseDuplicate
			if dup {
				d = DefectNone
			}
			c.promises[i][kind] = func(_ *kgo.Record, err error) {
				if err != nil {
					c.failed.Add(1)
					c.firstErr.CompareAndSwap(nil, &err)
					return
				}
				c.produced[i].Add(1)
				c.defects[d].Add(1)
				if dup {
					c.duplicates.Add(1)
				}
				if d != DefectNone {
					c.defective[i].Add(1)
				}
			}
		}
	}
}

func (c *counters) err() error {
	if p := c.firstErr.Load(); p != nil {
		return *p
	}
	return nil
}
