package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Conn is what the sink needs of a ClickHouse connection
// (clickhouse-go's driver.Conn has it).
type Conn interface {
	PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error)
}

// Config configures a Sink.
type Config struct {
	// Name labels the sink's metrics and logs; default "clickhouse".
	Name string
	// Brokers are the Kafka seed brokers.
	Brokers []string
	// Topics maps each topic to consume to its table (ParseTopics).
	Topics map[string]*Table
	// Group is the consumer group; default "accrue-sink-<Name>".
	Group string
	// Conn writes to ClickHouse; its database must hold the tables
	// (Migrate).
	Conn Conn
	// BatchRows bounds the records of a batch; default 50000. Two batches
	// at most are held: one being written, one being filled.
	BatchRows int
	// BatchInterval is the longest a record waits in a batch being filled
	// before the batch is written; default 1s.
	BatchInterval time.Duration
	// InsertTimeout bounds one insert attempt; default 60s.
	InsertTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts of an
	// insert that failed with a retryable error; defaults 200ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// CommitInterval is how often offsets of acknowledged batches are
	// committed; default 1s. Offsets are also committed when partitions
	// are revoked and on shutdown.
	CommitInterval time.Duration
	// SessionTimeout is the group session timeout; default 15s.
	SessionTimeout time.Duration
	// TopicWait is how long Run waits for missing topics to appear (they
	// may be being created) before it fails; default 30s.
	TopicWait time.Duration
	// ShutdownTimeout bounds writing the last batches on shutdown; what
	// is not written by then is read again by the next run. Default 30s.
	ShutdownTimeout time.Duration
	// Metrics receives the sink's figures; nil records nothing.
	Metrics *Metrics
	// Logger receives the sink's logs; default slog.Default().
	Logger *slog.Logger
	// ClientOpts are added to the Kafka client (TLS, SASL, hooks).
	ClientOpts []kgo.Opt
	// OnAck, when set, is called after each batch ClickHouse acknowledged,
	// on the goroutine that writes batches (keep it short; do not retain
	// the Ack's slices).
	OnAck func(Ack)
}

// Ack describes a batch ClickHouse acknowledged.
type Ack struct {
	Records int
	At      time.Time
	// KafkaTimes are the Kafka timestamps of the batch's records, by topic.
	KafkaTimes map[string][]time.Time
}

func (c *Config) withDefaults() error {
	if c.Name == "" {
		c.Name = "clickhouse"
	}
	switch {
	case len(c.Brokers) == 0:
		return errors.New("sink: no brokers")
	case len(c.Topics) == 0:
		return errors.New("sink: no topics")
	case c.Conn == nil:
		return errors.New("sink: no ClickHouse connection")
	}
	if c.Group == "" {
		c.Group = "accrue-sink-" + c.Name
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.BatchRows <= 0 {
		c.BatchRows = 50000
	}
	def(&c.BatchInterval, time.Second)
	def(&c.InsertTimeout, time.Minute)
	def(&c.MinBackoff, 200*time.Millisecond)
	def(&c.MaxBackoff, 30*time.Second)
	def(&c.CommitInterval, time.Second)
	def(&c.SessionTimeout, 15*time.Second)
	def(&c.ShutdownTimeout, 30*time.Second)
	def(&c.TopicWait, 30*time.Second)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Sink copies Kafka topics into ClickHouse tables, at least once, with row
// identity making repeats harmless:
//
//   - it consumes read_committed, so it sees only what accrue's stages
//     committed;
//   - records are decoded into the batch being filled, which is written
//     when it holds BatchRows records or its first record is
//     BatchInterval old; the next batch fills while one is written;
//   - an insert that fails with a retryable error is sent again after a
//     backoff, for as long as it takes; meanwhile, once the next batch is
//     full too, fetching is paused, so memory stays bounded by two
//     batches;
//   - offsets are marked for commit only after ClickHouse acknowledged
//     every table's insert of a batch, so a crash loses nothing: the
//     records after the last commit are read and inserted again, and the
//     tables' ReplacingMergeTree keys (ids derived from the records)
//     collapse the repeats.
//
// A record that fits no row of its table is written to sink_rejects with
// why, and counts as written.
type Sink struct {
	cfg     Config
	m       *sinkMetrics
	topics  []string
	tables  []*Table       // the tables written, sink_rejects last
	tableOf map[string]int // topic → index in tables

	ready   atomic.Bool // joined the group
	healthy atomic.Bool // the last insert did not fail
}

// NewSink checks cfg and builds a sink; Run starts it.
func NewSink(cfg Config) (*Sink, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	s := &Sink{cfg: cfg, m: cfg.Metrics.forSink(cfg.Name), tableOf: map[string]int{}}
	index := map[*Table]int{}
	for topic := range cfg.Topics {
		s.topics = append(s.topics, topic)
	}
	sort.Strings(s.topics)
	for _, topic := range s.topics {
		t := cfg.Topics[topic]
		i, ok := index[t]
		if !ok {
			i = len(s.tables)
			index[t] = i
			s.tables = append(s.tables, t)
		}
		s.tableOf[topic] = i
	}
	s.tables = append(s.tables, sinkRejectsTable)
	s.healthy.Store(true)
	return s, nil
}

// Ready reports whether the sink has joined its group and its last insert
// did not fail (for /readyz).
func (s *Sink) Ready() bool { return s.ready.Load() && s.healthy.Load() }

// batch is the records of one write: rows per table, where each partition
// got to, and the records' Kafka times.
type batch struct {
	tables   []*Table
	rows     []Rows
	rejects  *sinkRejectRows
	records  int
	first    time.Time
	marks    map[string]map[int32]kgo.EpochOffset
	times    map[string][]time.Time
	rejected map[string]int
	ackedAt  time.Time
	done     []bool // tables already acknowledged in this batch's attempts
}

func (s *Sink) newBatch() *batch {
	b := &batch{tables: s.tables, marks: map[string]map[int32]kgo.EpochOffset{},
		times: map[string][]time.Time{}, rejected: map[string]int{}, done: make([]bool, len(s.tables))}
	for _, t := range s.tables {
		b.rows = append(b.rows, t.NewRows())
	}
	b.rejects = b.rows[len(b.rows)-1].(*sinkRejectRows)
	return b
}

func (b *batch) reset() {
	for _, r := range b.rows {
		r.Reset()
	}
	b.records = 0
	b.first = time.Time{}
	clear(b.marks)
	for t, ts := range b.times {
		b.times[t] = ts[:0]
	}
	clear(b.rejected)
	clear(b.done)
}

// add decodes one fetched partition's records into the batch.
func (s *Sink) add(b *batch, p kgo.FetchTopicPartition) {
	if len(p.Records) == 0 {
		return
	}
	if b.records == 0 {
		b.first = time.Now()
	}
	ti := s.tableOf[p.Topic]
	rows := b.rows[ti]
	times := b.times[p.Topic]
	for _, rec := range p.Records {
		if err := rows.Add(rec); err != nil {
			b.rejects.add(rec, s.tables[ti].Name, err.Error())
			b.rejected[p.Topic]++
		}
		times = append(times, rec.Timestamp)
	}
	b.times[p.Topic] = times
	b.records += len(p.Records)
	last := p.Records[len(p.Records)-1]
	ps := b.marks[p.Topic]
	if ps == nil {
		ps = map[int32]kgo.EpochOffset{}
		b.marks[p.Topic] = ps
	}
	ps[p.Partition] = kgo.EpochOffset{Epoch: last.LeaderEpoch, Offset: last.Offset + 1}
	if p.HighWatermark > 0 {
		s.m.setLag(p.Topic, p.Partition, p.HighWatermark-last.Offset-1)
	}
}

// Run consumes and writes until ctx is cancelled or an insert fails for a
// reason that no retry mends (then it returns that error). It refuses to
// start when a topic is missing or a table cannot take inserts.
//
// Shutdown order, on cancel: polling stops; the batch being filled is
// handed to the writer; the writer finishes (at most ShutdownTimeout,
// retries included); acknowledged offsets are committed; the client
// leaves the group; Run returns.
func (s *Sink) Run(ctx context.Context) error {
	cfg := &s.cfg
	log := cfg.Logger.With("sink", cfg.Name)
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(s.topics...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(cfg.CommitInterval),
		kgo.SessionTimeout(cfg.SessionTimeout),
		// A resumed topic waits for the fetch in flight; keep that short.
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			s.ready.Store(true)
			log.Info("partitions assigned", "partitions", a)
		}),
	}, cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := s.check(ctx, cl); err != nil {
		return err
	}

	// The writer takes full batches from full and gives them back on free.
	full := make(chan *batch)
	free := make(chan *batch, 2)
	free <- s.newBatch()
	free <- s.newBatch()
	wctx, stopWriter := context.WithCancel(context.Background())
	defer stopWriter()
	rctx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var werr error
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for b := range full {
			if err := s.write(wctx, b); err != nil {
				werr = err
				stopReading()
				for range full { // let the reader hand over and stop
				}
				return
			}
			cl.MarkCommitOffsets(b.marks)
			s.m.setPending(0)
			b.reset()
			free <- b
		}
	}()

	cur := <-free
	pending := 0
	handOver := func() bool {
		n := cur.records // cur is the writer's once handed over
		select {
		case full <- cur:
		default:
			// Both batches are full: stop fetching until the writer
			// takes this one, so that memory stays bounded.
			cl.PauseFetchTopics(s.topics...)
			s.m.setPaused(true)
			select {
			case full <- cur:
			case <-rctx.Done():
				cl.ResumeFetchTopics(s.topics...)
				s.m.setPaused(false)
				return false
			}
			cl.ResumeFetchTopics(s.topics...)
			s.m.setPaused(false)
		}
		pending = n
		cur = <-free
		return true
	}
	for rctx.Err() == nil {
		if cur.records >= cfg.BatchRows || (cur.records > 0 && time.Since(cur.first) >= cfg.BatchInterval) {
			if !handOver() {
				break
			}
			continue
		}
		pctx, cancel := rctx, context.CancelFunc(func() {})
		if cur.records > 0 {
			pctx, cancel = context.WithDeadline(rctx, cur.first.Add(cfg.BatchInterval))
		}
		fs := cl.PollRecords(pctx, cfg.BatchRows-cur.records)
		cancel()
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				log.Warn("fetch", "topic", topic, "partition", p, "err", err)
			}
		})
		if fs.IsClientClosed() {
			break
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) { s.add(cur, p) })
		s.m.setPending(pending + cur.records)
	}

	// Shutdown: hand over what was read, give the writer ShutdownTimeout.
	timer := time.AfterFunc(cfg.ShutdownTimeout, stopWriter)
	defer timer.Stop()
	if cur.records > 0 {
		select {
		case full <- cur:
		case <-wctx.Done():
		}
	}
	close(full)
	<-writerDone
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.CommitMarkedOffsets(cctx); err != nil {
		log.Warn("commit on shutdown", "err", err)
	}
	cl.LeaveGroupContext(cctx)
	return werr // written by the writer before writerDone closed
}

// check refuses to start when a topic is missing or a table does not
// take its insert (a missing table or column: migrations not applied).
func (s *Sink) check(ctx context.Context, cl *kgo.Client) error {
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(s.cfg.TopicWait)
	for {
		tds, err := adm.ListTopics(ctx, s.topics...)
		if err != nil {
			return fmt.Errorf("sink: list topics: %w", err)
		}
		var missing []string
		for _, t := range s.topics {
			if td, ok := tds[t]; !ok || td.Err != nil {
				missing = append(missing, t)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sink: topics missing after %v: %v", s.cfg.TopicWait, missing)
		}
		if !sleep(ctx, 500*time.Millisecond) {
			return ctx.Err()
		}
	}
	for _, t := range s.tables {
		b, err := s.cfg.Conn.PrepareBatch(ctx, t.Insert())
		if err != nil {
			return fmt.Errorf("sink: table %s does not take inserts (run accrue clickhouse migrate?): %w", t.Name, err)
		}
		_ = b.Abort()
	}
	return nil
}

// write inserts every table's rows of b, each retried until it is
// acknowledged, then reports the batch acknowledged.
func (s *Sink) write(ctx context.Context, b *batch) error {
	start := time.Now()
	for i, t := range b.tables {
		if b.done[i] || b.rows[i].Len() == 0 {
			continue
		}
		if err := s.insertRetrying(ctx, t, b.rows[i]); err != nil {
			return err
		}
		b.done[i] = true
	}
	b.ackedAt = time.Now()
	s.m.acked(b, b.ackedAt.Sub(start).Seconds())
	s.cfg.Logger.Debug("batch acknowledged", "sink", s.cfg.Name, "records", b.records,
		"rejected", b.rejects.Len(), "seconds", b.ackedAt.Sub(start).Seconds())
	if s.cfg.OnAck != nil {
		s.cfg.OnAck(Ack{Records: b.records, At: b.ackedAt, KafkaTimes: b.times})
	}
	return nil
}

func (s *Sink) insertRetrying(ctx context.Context, t *Table, rows Rows) error {
	bo := backoff{min: s.cfg.MinBackoff, max: s.cfg.MaxBackoff}
	for {
		start := time.Now()
		err := s.insert(ctx, t, rows)
		if err == nil {
			s.m.insert(t.Name, "ok", time.Since(start).Seconds())
			if !s.healthy.Swap(true) {
				s.cfg.Logger.Info("clickhouse takes inserts again", "sink", s.cfg.Name, "table", t.Name)
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("insert into %s: stopped: %w", t.Name, err)
		}
		if !Retryable(err) {
			s.m.insert(t.Name, "failed", 0)
			s.healthy.Store(false)
			return fmt.Errorf("insert into %s: %w", t.Name, err)
		}
		s.m.insert(t.Name, "retried", 0)
		s.healthy.Store(false)
		wait := bo.next()
		s.cfg.Logger.Warn("insert failed; retrying", "sink", s.cfg.Name, "table", t.Name,
			"rows", rows.Len(), "attempt", bo.attempt, "backoff", wait, "err", err)
		if !sleep(ctx, wait) {
			return fmt.Errorf("insert into %s: stopped while retrying: %w", t.Name, err)
		}
	}
}

// insert sends rows in one INSERT with the table's column list, column by
// column.
func (s *Sink) insert(ctx context.Context, t *Table, rows Rows) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.InsertTimeout)
	defer cancel()
	b, err := s.cfg.Conn.PrepareBatch(ctx, t.Insert())
	if err != nil {
		return err
	}
	defer b.Close()
	for i, col := range rows.Columns() {
		if err := appendColumn(b.Column(i), col); err != nil {
			return fmt.Errorf("column %s: %w", t.Columns[i], err)
		}
	}
	return b.Send()
}

// columnAppender is what a batch's column takes (driver.BatchColumn).
type columnAppender interface {
	Append(v any) error
	AppendRow(v any) error
}

// appendColumn hands one column's values to the batch. clickhouse-go's
// Append of an array column walks the outer slice by reflection and boxes
// every element through reflect.Value; appending each row's typed slice
// takes its generic path instead, a third faster for strings
// (BenchmarkAccrualRowsAppend).
func appendColumn(c columnAppender, col any) error {
	switch v := col.(type) {
	case [][]string:
		return appendRows(c, v)
	case [][]decimal.Decimal:
		return appendRows(c, v)
	case [][]*decimal.Decimal:
		return appendRows(c, v)
	case [][]uint8:
		return appendRows(c, v)
	}
	return c.Append(col)
}

func appendRows[T any](c columnAppender, rows [][]T) error {
	for _, r := range rows {
		if err := c.AppendRow(r); err != nil {
			return err
		}
	}
	return nil
}
