package benchmarks

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/sinks/clickhouse"
)

// produceEach writes every record each hands to produce, through a client
// buffering up to 200,000 records (opts added), and returns once the
// broker has them all; a record that fails fails b.
func produceEach(b *testing.B, brokers []string, each func(produce func(*kgo.Record)), opts ...kgo.Opt) {
	b.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.MaxBufferedRecords(200_000)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	var perr atomic.Pointer[error]
	each(func(r *kgo.Record) {
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				err = fmt.Errorf("produce to %s: %w", r.Topic, err)
				perr.CompareAndSwap(nil, &err)
			}
		})
	})
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if p := perr.Load(); p != nil {
		b.Fatal(*p)
	}
}

// runningStage is a stage started in this process by startStage.
type runningStage struct {
	name    string
	met     *pipeline.Metrics
	started atomic.Int64 // wall clock of the first record processed, ns
	errc    chan error
	cancel  context.CancelFunc
}

// startStage runs proc in a stage of cfg in the background. cfg's metrics,
// logger and batch size default to a registry of its own, none, and
// benchBatch. The stage notes when it processes its first record.
func startStage[S any](b *testing.B, cfg pipeline.Config, codec pipeline.Codec[S], proc pipeline.Processor[S]) *runningStage {
	b.Helper()
	if cfg.Metrics == nil {
		cfg.Metrics = pipeline.NewMetrics(prometheus.NewRegistry())
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxPollRecords == 0 {
		cfg.MaxPollRecords = benchBatch
	}
	if cfg.Group == "" {
		cfg.Group = cfg.Name
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = "0"
	}
	rs := &runningStage{name: cfg.Name, met: cfg.Metrics, errc: make(chan error, 1)}
	st, err := pipeline.NewStage[S](cfg, codec, withClock(proc, &rs.started))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rs.cancel = cancel
	go func() { rs.errc <- st.Run(ctx) }()
	return rs
}

// withClock wraps proc so that it notes, in started, the wall clock of
// the first record it processes; the wrapper is a Flusher or a Ticker
// when proc is, since the stage finds those by type.
func withClock[S any](proc pipeline.Processor[S], started *atomic.Int64) pipeline.Processor[S] {
	c := clocked[S]{proc, started}
	f, isF := proc.(pipeline.Flusher[S])
	t, isT := proc.(pipeline.Ticker[S])
	switch {
	case isF && isT:
		return struct {
			clocked[S]
			pipeline.Flusher[S]
			pipeline.Ticker[S]
		}{c, f, t}
	case isF:
		return struct {
			clocked[S]
			pipeline.Flusher[S]
		}{c, f}
	case isT:
		return struct {
			clocked[S]
			pipeline.Ticker[S]
		}{c, t}
	}
	return c
}

type clocked[S any] struct {
	proc    pipeline.Processor[S]
	started *atomic.Int64
}

func (c clocked[S]) Process(ctx *pipeline.Context[S], r *kgo.Record) error {
	if c.started.Load() == 0 {
		c.started.CompareAndSwap(0, time.Now().UnixNano())
	}
	return c.proc.Process(ctx, r)
}

// in is the number of records the stage committed having read from topics.
func (rs *runningStage) in(topics ...string) int64 {
	var n int64
	for _, t := range topics {
		n += pipeline.Count(rs.met.RecordsIn(rs.name, t))
	}
	return n
}

// out is the number of records the stage committed to topics.
func (rs *runningStage) out(topics ...string) int64 {
	var n int64
	for _, t := range topics {
		n += pipeline.Count(rs.met.RecordsOut(rs.name, t))
	}
	return n
}

func (rs *runningStage) rejects(reason string) int64 {
	return pipeline.Count(rs.met.Rejects(rs.name, reason))
}

// wait polls done every 2ms and returns the time from the stage's first
// record to when done said so; it fails if the stage stops first.
func (rs *runningStage) wait(b *testing.B, done func() bool) time.Duration {
	b.Helper()
	for !done() {
		select {
		case err := <-rs.errc:
			b.Fatalf("stage %s stopped: %v", rs.name, err)
		case <-time.After(2 * time.Millisecond):
		}
	}
	return time.Since(time.Unix(0, rs.started.Load()))
}

// stop stops the stage and waits for it.
func (rs *runningStage) stop(b *testing.B) {
	b.Helper()
	rs.cancel()
	if err := <-rs.errc; err != nil {
		b.Fatalf("stage %s: %v", rs.name, err)
	}
}

// plainConsume is the first limit: a franz-go consumer that reads the n
// records of topics (read_committed, from the start, no group) and does
// nothing with them. The clock starts when the client buffers its first
// record, as the stages' clocks start at their first record: the wait for
// the first fetch's answer (tens to hundreds of milliseconds on a loaded
// machine, whoever asks) is left out of every figure.
func plainConsume(b *testing.B, brokers []string, topics []string, n int64) time.Duration {
	b.Helper()
	var ff firstFetch
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...), kgo.WithHooks(&ff),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	readN(b, cl, n, nil)
	return time.Since(time.Unix(0, ff.at.Load()))
}

// readN polls cl until it has returned n records, handing each to each
// when set; it fails b on a fetch error or after five minutes.
func readN(b *testing.B, cl *kgo.Client, n int64, each func(*kgo.Record)) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var got int64
	for got < n {
		polled := cl.PollRecords(ctx, benchBatch)
		if err := polled.Err0(); err != nil {
			b.Fatalf("read %d of %d records: %v", got, n, err)
		}
		if each != nil {
			polled.EachRecord(each)
		}
		got += int64(polled.NumRecords())
	}
}

// plainCTP is the second limit: the consume-transform-produce loop of
// franz-go's GroupTransactSession documentation, copying the n records of
// inputs to output in a transaction per poll, with the client settings the
// stages use. The clock starts at the first record.
func plainCTP(b *testing.B, brokers []string, inputs []string, output, id string, n int64) time.Duration {
	b.Helper()
	sess, err := kgo.NewGroupTransactSession(commonOpts(brokers, id, id, inputs...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	ctx := context.Background()
	var start time.Time
	var done int64
	for done < n {
		fs := sess.PollRecords(ctx, benchBatch)
		if err := fs.Err0(); err != nil {
			b.Fatal(err)
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if start.IsZero() {
			start = time.Now()
		}
		if err := sess.Begin(); err != nil {
			b.Fatal(err)
		}
		var perr atomic.Pointer[error]
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Topic: output, Key: r.Key, Value: r.Value}, func(_ *kgo.Record, err error) {
				if err != nil {
					perr.CompareAndSwap(nil, &err)
				}
			})
		})
		try := kgo.TryCommit
		if perr.Load() != nil {
			try = kgo.TryAbort
		}
		committed, err := sess.End(ctx, try)
		if err != nil {
			b.Fatal(err)
		}
		if committed {
			done += int64(fs.NumRecords())
		}
	}
	return time.Since(start)
}

// runningSink is the ClickHouse sink started in this process by startSink.
type runningSink struct {
	ff     firstFetch
	acked  atomic.Int64
	last   atomic.Int64 // wall clock of the last acknowledgement, ns
	errc   chan error
	cancel context.CancelFunc
}

// startSink runs the sink over topics, as `accrue sink clickhouse` would
// (batches of 50,000 or 1s), with group; onAck, when set, is told every
// acknowledgement too.
func startSink(b *testing.B, brokers []string, conn driver.Conn, topics map[string]*clickhouse.Table, group string, onAck func(clickhouse.Ack)) *runningSink {
	s := &runningSink{errc: make(chan error, 1)}
	sink, err := clickhouse.NewSink(clickhouse.Config{
		Brokers: brokers, Topics: topics, Group: group, Conn: conn, Logger: slog.New(slog.DiscardHandler),
		ClientOpts: []kgo.Opt{kgo.WithHooks(&s.ff)},
		OnAck: func(a clickhouse.Ack) {
			if onAck != nil {
				onAck(a)
			}
			s.last.Store(a.At.UnixNano())
			s.acked.Add(int64(a.Records))
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.errc <- sink.Run(ctx) }()
	return s
}

// wait polls done every 2ms for up to 5 minutes and returns the time from
// the first record fetched to the last acknowledgement.
func (s *runningSink) wait(b *testing.B, done func() bool) time.Duration {
	b.Helper()
	deadline := time.After(5 * time.Minute)
	for !done() {
		select {
		case err := <-s.errc:
			b.Fatalf("sink stopped: %v", err)
		case <-deadline:
			b.Fatalf("sink acknowledged %d records in 5 minutes", s.acked.Load())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return time.Duration(s.last.Load() - s.ff.at.Load())
}

func (s *runningSink) stop(b *testing.B) {
	b.Helper()
	s.cancel()
	if err := <-s.errc; err != nil {
		b.Fatal(err)
	}
}
