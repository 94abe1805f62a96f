package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config describes a stage. Name, Brokers and Inputs are required; every
// other field has a default.
type Config struct {
	// Name identifies the stage in metrics, logs and dead letters, and
	// derives the defaults below.
	Name string
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// Inputs are the topics consumed. They must be co-partitioned: same
	// partition count, records keyed alike.
	Inputs []string
	// Group is the consumer group; default "accrue-<Name>".
	Group string
	// InstanceID tells instances of a stage apart; it makes the
	// transactional id "<Group>-<InstanceID>". Keep it stable across restarts
	// of one instance (a restart then fences its predecessor's open
	// transaction at once) and unique among running instances. Default: the
	// host name.
	InstanceID string
	// Changelog is the compacted topic backing the state; default
	// "<Name>.changelog". It must have the inputs' partition count.
	Changelog string
	// Stateless stages keep no state: no changelog topic is needed and
	// nothing is restored. A stateless processor must not call Put.
	Stateless bool
	// DeadLetter is the topic for records the processor refuses; default
	// "<Name>.rejected".
	DeadLetter string
	// MaxPollRecords bounds the records of one batch, and so of one
	// transaction; default 10000.
	MaxPollRecords int
	// Parallelism is how many partitions of a batch are processed at
	// once, each on its own goroutine, its records in order; default 1.
	// Above 1 the Processor's Process must be safe for concurrent calls
	// on different partitions; Tick and Flush are still called from one
	// goroutine, after every partition's records are done. Records of
	// different partitions never share a key, so the outputs of a key
	// keep their order.
	Parallelism int
	// TransactionTimeout is how long the broker lets a transaction stay
	// open before aborting it; it bounds how long a crashed instance's
	// partitions stay blocked. Default 20s.
	TransactionTimeout time.Duration
	// SessionTimeout is how long the group waits for a silent member before
	// reassigning its partitions; default 15s.
	SessionTimeout time.Duration
	// TopicWait is how long Run waits for missing topics to appear (they
	// may be being created) before it fails; default 30s.
	TopicWait time.Duration
	// ShutdownTimeout bounds the end of the last batch on shutdown; default
	// 30s.
	ShutdownTimeout time.Duration
	// TickInterval is how often a processor that implements Ticker is
	// ticked for each partition; default DefaultTickInterval.
	TickInterval time.Duration
	// Metrics receives the stage's figures; nil records nothing.
	Metrics *Metrics
	// Logger receives the stage's logs; default slog.Default().
	Logger *slog.Logger
	// ClientOpts are added to every Kafka client the stage makes (TLS,
	// SASL, client id, ...).
	ClientOpts []kgo.Opt
	// SessionOpts are added to the group session's client only (hooks
	// such as kprom's, which expect one client).
	SessionOpts []kgo.Opt
}

func (c *Config) withDefaults() error {
	if c.Name == "" {
		return errors.New("pipeline: stage needs a Name")
	}
	if len(c.Brokers) == 0 {
		return fmt.Errorf("pipeline: stage %s: no brokers", c.Name)
	}
	if len(c.Inputs) == 0 {
		return fmt.Errorf("pipeline: stage %s: no input topics", c.Name)
	}
	if c.Group == "" {
		c.Group = "accrue-" + c.Name
	}
	if c.InstanceID == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "local"
		}
		c.InstanceID = h
	}
	if c.Changelog == "" {
		c.Changelog = c.Name + ".changelog"
	}
	if c.DeadLetter == "" {
		c.DeadLetter = c.Name + ".rejected"
	}
	if c.MaxPollRecords <= 0 {
		c.MaxPollRecords = 10000
	}
	if c.Parallelism <= 0 {
		c.Parallelism = 1
	}
	if c.TransactionTimeout <= 0 {
		c.TransactionTimeout = 20 * time.Second
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 15 * time.Second
	}
	if c.TopicWait <= 0 {
		c.TopicWait = 30 * time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.TickInterval <= 0 {
		c.TickInterval = DefaultTickInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Stage runs a Processor exactly once over its input topics. Create it with
// NewStage and start it with Run; a Stage runs once.
type Stage[S any] struct {
	cfg   Config
	codec Codec[S]
	proc  Processor[S]
	log   *slog.Logger
	met   *stageMetrics

	sess  *kgo.GroupTransactSession
	admin *kgo.Client // plain client: validation, offsets, restore
	// commits counts the transactions this instance committed, across
	// sessions (see Run).
	commits int

	// parts holds the state of the partitions this instance owns and has
	// restored. Only the processing goroutine touches it.
	parts map[int32]*partitionState[S]

	// dropped collects partitions revoked or lost since the processing
	// goroutine last looked; the group's callbacks fill it.
	dropMu  sync.Mutex
	dropped map[int32]struct{}

	produceErr atomic.Pointer[error]
	promise    func(*kgo.Record, error)

	ready    atomic.Bool
	assigned atomic.Bool

	ctx     Context[S]
	encBuf  []byte
	nowFunc func() time.Time
	tick    ticking[S]
}

// NewStage checks cfg and builds a stage. It does not connect to Kafka.
func NewStage[S any](cfg Config, codec Codec[S], proc Processor[S]) (*Stage[S], error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	if codec == nil || proc == nil {
		return nil, fmt.Errorf("pipeline: stage %s: codec and processor are required", cfg.Name)
	}
	s := &Stage[S]{
		cfg: cfg, codec: codec, proc: proc,
		log:     cfg.Logger.With("stage", cfg.Name, "instance", cfg.InstanceID),
		met:     cfg.Metrics.forStage(cfg.Name),
		parts:   make(map[int32]*partitionState[S]),
		dropped: make(map[int32]struct{}),
		nowFunc: time.Now,
	}
	s.promise = func(_ *kgo.Record, err error) {
		if err != nil {
			s.produceErr.CompareAndSwap(nil, &err)
		}
	}
	s.ctx = Context[S]{stage: s, emitted: make(map[string]int)}
	s.tick.init(proc, cfg.TickInterval)
	return s, nil
}

// Config returns the stage's configuration, defaults filled in.
func (s *Stage[S]) Config() Config { return s.cfg }

// Ready reports whether the stage has joined its group and holds the
// restored state of every partition it was given. Safe to call concurrently.
func (s *Stage[S]) Ready() bool { return s.ready.Load() }

// StateSize is the number of keys in the committed state of the partitions
// this instance owns. Only meaningful after Run returns (or from a processor).
func (s *Stage[S]) StateSize() int {
	n := 0
	for _, p := range s.parts {
		n += len(p.committed)
	}
	return n
}

// Run consumes, processes and commits until ctx is cancelled or a fatal
// error occurs (a transactional producer fenced, topics missing or not
// co-partitioned, data lost, a Flush or Tick panicking). It blocks; it
// returns nil after a clean shutdown (see the package doc for the order of
// steps).
//
// Losing the brokers is not fatal: when they cannot be reached, or a
// transaction cannot be ended (the brokers restarting, say, or the
// coordinator having aborted it after this instance was frozen past its
// transaction timeout), Run drops its
// clients and all the state it holds, whose last transaction may or may
// not have committed, and starts again as a new instance would: it
// rejoins the group and restores from the changelog, from the committed
// offsets. Meanwhile /readyz reports not ready.
func (s *Stage[S]) Run(ctx context.Context) error {
	backoff := 250 * time.Millisecond
	epochLost, commitsBefore := 0, s.commits
	for {
		err := s.runSession(ctx)
		if err == nil || ctx.Err() != nil || !brokersLost(err) {
			return err
		}
		// A producer whose epoch was bumped under it again and again,
		// with nothing committed in between, is most likely not a zombie
		// woken after its transaction timed out but one of two instances
		// started with the same --instance-id, fencing each other.
		if errors.Is(err, kerr.InvalidProducerEpoch) {
			if s.commits > commitsBefore {
				epochLost = 0
			}
			epochLost++
			commitsBefore = s.commits
			if epochLost >= maxEpochLosses {
				return fmt.Errorf("%w (%d times in a row without a commit: is another instance running with --instance-id %s?)",
					err, epochLost, s.cfg.InstanceID)
			}
		}
		s.log.Warn("session lost; starting again from the committed state", "err", err, "retry_in", backoff)
		s.met.rebalance("restarted")
		s.reset()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// maxEpochLosses is how many sessions in a row may end with their
// producer's epoch bumped, with no transaction committed between them,
// before Run gives up.
const maxEpochLosses = 5

// reset forgets everything a session built: the partitions' state, what
// was revoked, readiness.
func (s *Stage[S]) reset() {
	s.ready.Store(false)
	s.assigned.Store(false)
	s.parts = make(map[int32]*partitionState[S])
	s.dropMu.Lock()
	clear(s.dropped)
	s.dropMu.Unlock()
	clear(s.tick.last)
	s.tick.deferring, s.tick.deferred = false, nil
	s.produceErr.Store(nil)
	s.met.stateSize(0)
}

// brokersLost reports whether err means this instance can go on as a new
// instance would: the brokers could not be reached or did not answer in
// time, or the transaction coordinator aborted a transaction that outlived
// its timeout (the instance was frozen, say) and bumped the producer's
// epoch, which the brokers report as INVALID_PRODUCER_EPOCH or
// TRANSACTION_ABORTABLE. A producer fenced by another one with its
// transactional id (two instances with one --instance-id: PRODUCER_FENCED)
// or refused by the brokers' ACLs is final.
func brokersLost(err error) bool {
	for _, final := range []error{kerr.ProducerFenced, kerr.TransactionalIDAuthorizationFailed,
		kerr.GroupAuthorizationFailed, kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed} {
		if errors.Is(err, final) {
			return false
		}
	}
	if errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.TransactionAbortable) {
		return true
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable
	}
	var ne net.Error
	var eof *kgo.ErrFirstReadEOF
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &eof)
}

// runSession is one life of the stage: its clients, group membership and
// state, from validation to an error or ctx's end.
func (s *Stage[S]) runSession(ctx context.Context) error {
	var err error
	base := append([]kgo.Opt{kgo.SeedBrokers(s.cfg.Brokers...)}, s.cfg.ClientOpts...)
	if s.admin, err = kgo.NewClient(base...); err != nil {
		return fmt.Errorf("stage %s: %w", s.cfg.Name, err)
	}
	defer s.admin.Close()
	if err := s.validate(ctx); err != nil {
		return err
	}

	// MetadataMinAge goes first so that ClientOpts and SessionOpts can
	// override it: see metadataMinAge.
	opts := append(append([]kgo.Opt{kgo.MetadataMinAge(metadataMinAge)}, base...), s.cfg.SessionOpts...)
	opts = append(opts,
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.cfg.Inputs...),
		kgo.Balancers(balancer(s.cfg.Inputs)),
		kgo.TransactionalID(s.cfg.Group+"-"+s.cfg.InstanceID),
		kgo.TransactionTimeout(s.cfg.TransactionTimeout),
		kgo.SessionTimeout(s.cfg.SessionTimeout),
		kgo.HeartbeatInterval(min(3*time.Second, s.cfg.SessionTimeout/5)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(newStagePartitioner(s.cfg.Changelog)),
		kgo.ProducerLinger(0),
		kgo.OnPartitionsAssigned(s.onAssigned),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			s.met.rebalance("revoked")
			s.drop(m, true)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			s.met.rebalance("lost")
			s.drop(m, true)
		}),
	)
	if s.sess, err = kgo.NewGroupTransactSession(opts...); err != nil {
		return fmt.Errorf("stage %s: %w", s.cfg.Name, err)
	}
	defer s.sess.Close()
	s.log.Info("stage started", "inputs", s.cfg.Inputs, "group", s.cfg.Group)

	for ctx.Err() == nil {
		pollCtx, cancelPoll := s.pollContext(ctx)
		fetches := s.sess.PollRecords(pollCtx, s.cfg.MaxPollRecords)
		cancelPoll()
		if fetches.IsClientClosed() {
			break
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			s.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
			if fetchErr == nil && isFatalFetchErr(err) {
				fetchErr = fmt.Errorf("stage %s: fetch %s/%d: %w", s.cfg.Name, t, p, err)
			}
		})
		if fetchErr != nil {
			return fetchErr
		}
		s.applyDrops()
		if fetches.NumRecords() == 0 {
			if s.assigned.Load() {
				s.ready.Store(true)
			}
			if err := s.tickIdle(ctx); err != nil {
				if ctx.Err() != nil {
					break
				}
				return err
			}
			continue
		}
		if err := s.restoreNew(ctx, fetches); err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		s.ready.Store(true)
		if err := s.runBatch(fetches); err != nil {
			return err
		}
	}
	s.ready.Store(false)
	s.log.Info("stage stopping: leaving group")
	return nil
}

// metadataMinAge is the least time between two metadata requests of a
// stage's transactional client, against franz-go's default of 5s. With
// transactions v2 (KIP-890) a partition joins a transaction with its first
// produce, and a produce sent right after the previous transaction ended
// can be answered CONCURRENT_TRANSACTIONS while the broker still writes
// that transaction's markers. franz-go retries such a batch after a
// metadata refresh, and the default minimum age held those batches for up
// to 5s: in the accrual benchmark, two batches in five took 4.5s to flush
// instead of 50ms.
const metadataMinAge = 100 * time.Millisecond

// balancer is the group balancer of a stage consuming inputs. With one
// input, franz-go's default (cooperative sticky). With several, partition p
// of every input must go to the same instance, since they share partition
// p's state: the cooperative sticky balancer assigns each topic's
// partitions on their own, and so gave two instances the same state
// partition, each restoring it and writing it without the other's
// changes. The range balancer assigns partition p of topics with the same
// partition count and the same members to the same member.
func balancer(inputs []string) kgo.GroupBalancer {
	if len(inputs) > 1 {
		return kgo.RangeBalancer()
	}
	return kgo.CooperativeStickyBalancer()
}

func isFatalFetchErr(err error) bool {
	// Errors the client retries by itself (leader moves, unknown topic
	// while metadata refreshes) are logged only; a data-loss or auth error
	// means the stage cannot go on correctly.
	var de *kgo.ErrDataLoss
	return errors.As(err, &de)
}

// drop is called from the group's callbacks: the partitions' state must go
// before they are processed again, since another instance may change it.
//
// Partitions are dropped when they are revoked or lost and again when they
// are assigned, since a revocation can pass unseen: franz-go's
// GroupTransactSession calls OnPartitionsRevoked once between two ends of
// a transaction and swallows any further revocation until the next End.
// An instance that went through two rebalances within one batch, or while
// idle, kept the state of the partitions the second one took from it, and
// when it was given them back it carried on from that stale state instead
// of restoring what their other owner had committed meanwhile (found by
// the zombie-fenced fault scenario). A partition that is assigned (all of
// them under an eager balancer, those newly added under a cooperative one)
// is therefore always restored from the changelog.
func (s *Stage[S]) drop(m map[string][]int32, revoked bool) {
	s.dropMu.Lock()
	defer s.dropMu.Unlock()
	for _, ps := range m {
		for _, p := range ps {
			s.dropped[p] = struct{}{}
		}
	}
	if revoked && len(m) > 0 {
		s.log.Info("partitions revoked", "partitions", m)
	}
}

// onAssigned is the group's OnPartitionsAssigned: see drop for why the
// assigned partitions' state goes too.
func (s *Stage[S]) onAssigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	s.assigned.Store(true)
	s.met.rebalance("assigned")
	s.log.Info("partitions assigned", "partitions", m)
	s.drop(m, false)
}

func (s *Stage[S]) applyDrops() {
	s.dropMu.Lock()
	defer s.dropMu.Unlock()
	if len(s.dropped) == 0 {
		return
	}
	for p := range s.dropped {
		delete(s.parts, p)
	}
	clear(s.dropped)
	s.met.stateSize(s.StateSize())
}

// errTopicMissing marks a validation failure that may pass once topics being
// created appear.
var errTopicMissing = errors.New("topic does not exist")

// validate checks, before anything is consumed, that every topic exists and
// that the inputs and the changelog are co-partitioned. It waits up to
// TopicWait for missing topics: a topic just created may not be in the
// brokers' metadata yet.
func (s *Stage[S]) validate(ctx context.Context) error {
	deadline := time.Now().Add(s.cfg.TopicWait)
	logged := false
	for {
		err := s.validateOnce(ctx)
		if err == nil || !errors.Is(err, errTopicMissing) || time.Now().After(deadline) {
			return err
		}
		if !logged {
			s.log.Info("waiting for topics", "err", err, "up_to", s.cfg.TopicWait)
			logged = true
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (s *Stage[S]) validateOnce(ctx context.Context) error {
	adm := kadm.NewClient(s.admin)
	topics := append(append([]string{}, s.cfg.Inputs...), s.cfg.DeadLetter)
	if !s.cfg.Stateless {
		topics = append(topics, s.cfg.Changelog)
	}
	td, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("stage %s: list topics: %w", s.cfg.Name, err)
	}
	want := -1
	for _, t := range topics {
		d, ok := td[t]
		if !ok || d.Err != nil {
			return fmt.Errorf("stage %s: %w: %q (create it with `accrue topics create`)", s.cfg.Name, errTopicMissing, t)
		}
		if t == s.cfg.DeadLetter {
			continue
		}
		if want == -1 {
			want = len(d.Partitions)
		} else if len(d.Partitions) != want {
			return fmt.Errorf("stage %s: topic %q has %d partitions, %q has %d: inputs and changelog must be co-partitioned",
				s.cfg.Name, t, len(d.Partitions), topics[0], want)
		}
	}
	return nil
}

// runBatch processes one polled batch in one transaction.
func (s *Stage[S]) runBatch(fetches kgo.Fetches) error {
	start := s.nowFunc()
	if err := s.sess.Begin(); err != nil {
		return fmt.Errorf("stage %s: begin transaction: %w", s.cfg.Name, err)
	}
	s.produceErr.Store(nil)
	c := &s.ctx
	clear(c.emitted)
	clear(c.rejects)
	in := make(map[string]int, len(s.cfg.Inputs))
	records := 0
	touched := make([]int32, 0, 8)

	var parts []kgo.FetchTopicPartition
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		touched = appendUnique(touched, fp.Partition)
		parts = append(parts, fp)
		in[fp.Topic] += len(fp.Records)
		records += len(fp.Records)
		last := fp.Records[len(fp.Records)-1]
		s.met.setLag(fp.Topic, fp.Partition, fp.HighWatermark-last.Offset-1)
	})
	if s.cfg.Parallelism > 1 && len(touched) > 1 {
		s.processParallel(c, parts, touched)
	} else {
		for _, fp := range parts {
			s.processRecords(c, fp)
		}
	}
	var ph phases
	ph.mark(start) // process
	touched, ticked, endErr := s.tickInBatch(c, touched)
	if endErr == nil {
		endErr = s.flushAll(c, touched)
	}
	for _, p := range touched {
		if s.cfg.Stateless {
			if len(s.parts[p].staged) > 0 {
				panic(fmt.Sprintf("pipeline: stage %s is stateless but its processor wrote state", s.cfg.Name))
			}
			continue
		}
		s.writeChangelog(c, p, s.parts[p])
	}

	ph.mark(start) // flush: ticks, Flushers, changelog
	endCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	try := kgo.TryCommit
	if perr := s.produceErr.Load(); perr != nil {
		s.log.Warn("producing failed; aborting the batch", "err", *perr)
		try = kgo.TryAbort
	}
	if endErr != nil {
		try = kgo.TryAbort
	}
	// Waiting for the produced records is timed apart from ending the
	// transaction (End would flush them itself); an error shows in
	// produceErr or in End.
	_ = s.sess.Client().Flush(endCtx)
	ph.mark(start) // produce
	committed, err := s.sess.End(s.fenced(endCtx, ticked), try)
	for _, p := range touched {
		if ps := s.parts[p]; ps != nil {
			if committed {
				ps.commit()
			} else {
				ps.rollback()
			}
		}
	}
	ph.mark(start) // commit
	s.met.batchDone(committed, in, c.emitted, c.rejects, records, time.Since(start).Seconds(), &ph)
	if committed {
		s.commits++
		s.met.stateSize(s.StateSize())
	} else {
		s.log.Info("transaction aborted; the batch will be processed again from the committed offsets", "records", records)
	}
	if err != nil {
		return fmt.Errorf("stage %s: end transaction: %w", s.cfg.Name, err)
	}
	return endErr
}

// processRecords processes the records of fp in order, sending those the
// processor refuses to the dead-letter topic.
func (s *Stage[S]) processRecords(c *Context[S], fp kgo.FetchTopicPartition) {
	c.part = s.parts[fp.Partition]
	for _, rec := range fp.Records {
		if err := s.process(c, rec); err != nil {
			reason, _ := reasonOf(err)
			if c.rejects == nil {
				c.rejects = make(map[string]int)
			}
			c.rejects[reason]++
			c.EmitRecord(deadLetter(s.cfg.DeadLetter, s.cfg.Name, rec, err, s.nowFunc()))
		}
	}
}

// processParallel processes the batch's partitions on up to Parallelism
// goroutines, each partition (of every input topic, in fetch order) on
// one, with a Context of its own; their counts are added to c's.
func (s *Stage[S]) processParallel(c *Context[S], parts []kgo.FetchTopicPartition, touched []int32) {
	work := make(chan int32, len(touched))
	for _, p := range touched {
		work <- p
	}
	close(work)
	n := min(s.cfg.Parallelism, len(touched))
	ctxs := make([]Context[S], n)
	var wg sync.WaitGroup
	for i := range ctxs {
		w := &ctxs[i]
		w.stage, w.emitted = s, make(map[string]int)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				for _, fp := range parts {
					if fp.Partition == p {
						s.processRecords(w, fp)
					}
				}
			}
		}()
	}
	wg.Wait()
	for i := range ctxs {
		for t, k := range ctxs[i].emitted {
			c.emitted[t] += k
		}
		for r, k := range ctxs[i].rejects {
			if c.rejects == nil {
				c.rejects = make(map[string]int)
			}
			c.rejects[r] += k
		}
	}
}

// process calls the processor, turning a panic into an error so that one
// record cannot stop its partition.
func (s *Stage[S]) process(c *Context[S], rec *kgo.Record) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("processor panicked", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset,
				"panic", r, "stack", string(debug.Stack()))
			err = &Reject{Reason: ReasonProcessorPanic, Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	return s.proc.Process(c, rec)
}

func (s *Stage[S]) writeChangelog(c *Context[S], partition int32, ps *partitionState[S]) {
	for k, w := range ps.staged {
		r := &kgo.Record{Topic: s.cfg.Changelog, Partition: partition, Key: []byte(k)}
		if !w.deleted {
			r.Value = s.codec.Encode(nil, w.v)
		}
		c.EmitRecord(r)
	}
}

// produce buffers r in the open transaction. It blocks while the client's
// buffer is full (Produce, not TryProduce): a batch larger than the buffer
// must wait, not fail.
func (s *Stage[S]) produce(r *kgo.Record) {
	if s.tick.deferring {
		s.tick.deferred = append(s.tick.deferred, r)
		return
	}
	s.sess.Produce(context.Background(), r, s.promise)
}

func appendUnique(ps []int32, p int32) []int32 {
	for _, q := range ps {
		if q == p {
			return ps
		}
	}
	return append(ps, p)
}

// EachState calls fn for every key in the committed state of the partitions
// this instance owns. Call it from a processor, or after Run has returned:
// it is not safe concurrently with Run.
func (s *Stage[S]) EachState(fn func(partition int32, key string, v S)) {
	for p, ps := range s.parts {
		for k, v := range ps.committed {
			fn(p, k, v)
		}
	}
}
