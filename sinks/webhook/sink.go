package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults of Config.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultMinBackoff = 200 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	DefaultMaxPoll    = 500
)

// DefaultTopics are the payout topics a sink consumes unless told
// otherwise.
var DefaultTopics = []string{"payouts.payable", "payouts.instructions"}

// Config configures a Sink. Brokers, URL and Secrets are required.
type Config struct {
	// Name labels metrics and logs; the consumer group is
	// accrue-webhook-<Name> unless Group is set. Default "webhook".
	Name  string
	Group string
	// Brokers are the seed brokers; Topics the topics to deliver
	// (DefaultTopics when empty).
	Brokers []string
	Topics  []string
	// DeadLetter is the topic of refused events; default
	// <Name>.rejected. It must exist: Run checks it before consuming.
	DeadLetter string
	// URL is where events are POSTed (http or https).
	URL string
	// Secrets sign every request (one v1 signature each; give the new
	// secret and the old one while rotating). At least one, of 16 bytes
	// or more.
	Secrets [][]byte
	// BatchSize is the most events in one request, from one partition;
	// 1 (the default) sends each event alone, as its own body.
	BatchSize int
	// Timeout bounds one request; default DefaultTimeout.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts: it
	// doubles from MinBackoff up to MaxBackoff, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts, when above zero, sends events to the dead-letter topic
	// (reason gave_up) after that many retryable failures; zero retries
	// until the sink is stopped.
	MaxAttempts int
	// MaxPollRecords bounds the records of one poll; default
	// DefaultMaxPoll. Offsets are committed after each poll's records,
	// and every CommitInterval (default 1s) while they are delivered.
	MaxPollRecords int
	CommitInterval time.Duration
	// SessionTimeout is the group's session timeout (default 15s).
	SessionTimeout time.Duration
	// HTTPClient sends the requests; default a client that follows no
	// redirects (a redirect is a refusal: the signature is not sent on).
	HTTPClient *http.Client
	// ClientOpts are added to the Kafka client's (TLS, SASL).
	ClientOpts []kgo.Opt
	Metrics    *Metrics
	Logger     *slog.Logger
	// Now is the clock of signatures; default time.Now.
	Now func() time.Time
}

// Sink delivers topics to a webhook receiver. Create it with NewSink and
// call Run once.
type Sink struct {
	cfg     Config
	log     *slog.Logger
	where   string // URL without query or user info, for messages
	ready   atomic.Bool
	failing atomic.Bool
}

// NewSink checks cfg and fills in its defaults. It connects to nothing.
func NewSink(cfg Config) (*Sink, error) {
	if cfg.Name == "" {
		cfg.Name = "webhook"
	}
	if cfg.Group == "" {
		cfg.Group = "accrue-webhook-" + cfg.Name
	}
	if cfg.DeadLetter == "" {
		cfg.DeadLetter = cfg.Name + ".rejected"
	}
	if len(cfg.Topics) == 0 {
		cfg.Topics = DefaultTopics
	}
	var problems []error
	if len(cfg.Brokers) == 0 {
		problems = append(problems, errors.New("no brokers"))
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Errorf("URL %q: want an absolute http or https URL", cfg.URL))
	}
	if len(cfg.Secrets) == 0 {
		problems = append(problems, errors.New("no signing secret"))
	}
	for i, s := range cfg.Secrets {
		if len(s) < 16 {
			problems = append(problems, fmt.Errorf("signing secret %d is %d bytes: want 16 or more", i+1, len(s)))
		}
	}
	for _, t := range cfg.Topics {
		if t == cfg.DeadLetter {
			problems = append(problems, fmt.Errorf("topic %s is also the dead-letter topic", t))
		}
	}
	if cfg.BatchSize < 0 || cfg.MaxAttempts < 0 {
		problems = append(problems, errors.New("batch size and max attempts cannot be negative"))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("webhook: %w", errors.Join(problems...))
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.MaxPollRecords <= 0 {
		cfg.MaxPollRecords = DefaultMaxPoll
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = time.Second
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 15 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Sink{cfg: cfg, log: cfg.Logger, where: u.Scheme + "://" + u.Host + u.Path}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("sink", "webhook "+cfg.Name)
	return s, nil
}

// Ready reports whether the sink has joined its group and polled, and is
// not retrying a failed request (the receiver answers): what /readyz
// shows.
func (s *Sink) Ready() bool { return s.ready.Load() && !s.failing.Load() }

// Run consumes the topics (read_committed, from the group's committed
// offsets, or from the start for a new group) and delivers every record,
// partition by partition in offset order, until ctx ends. It returns nil
// after a stop by ctx, or the error that stopped it: a dead letter that
// could not be produced, or a Kafka client that could not be made.
//
// Shutdown order, when ctx ends: the request in flight is abandoned (its
// events were not acknowledged and will be sent again, with the same
// idempotency keys, by whoever consumes the partition next); the offsets
// of the events acknowledged or dead-lettered so far are committed; the
// group is left; the client is closed.
func (s *Sink) Run(ctx context.Context) error {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(s.cfg.Brokers...),
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.cfg.Topics...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(s.cfg.SessionTimeout),
	}, s.cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("webhook: kafka client: %w", err)
	}
	defer cl.Close()
	defer cl.AllowRebalance()
	if err := s.checkDeadLetter(ctx, cl); err != nil {
		return err
	}
	s.log.Info("webhook sink started", "topics", s.cfg.Topics, "url", s.where, "group", s.cfg.Group)
	c := &committer{s: s, cl: cl, marks: map[tp]*kgo.Record{}, last: time.Now()}
	for {
		fs := cl.PollRecords(ctx, s.cfg.MaxPollRecords)
		if ctx.Err() != nil {
			return nil
		}
		s.ready.Store(true)
		fs.EachError(func(t string, p int32, err error) {
			s.log.Warn("fetch failed", "topic", t, "partition", p, "err", err)
		})
		var runErr error
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if runErr != nil || ctx.Err() != nil || len(p.Records) == 0 {
				return
			}
			if err := s.deliverPartition(ctx, c, p.Records); err != nil && ctx.Err() == nil {
				runErr = err
			}
		})
		// Everything handled is committed before the group may rebalance
		// (BlockRebalanceOnPoll), so no other member sends it again.
		c.commit(ctx)
		if runErr != nil {
			return runErr
		}
		if ctx.Err() != nil {
			return nil
		}
		cl.AllowRebalance()
	}
}

// checkDeadLetter makes sure the dead-letter topic exists before the
// first event is taken, rather than failing on the first refusal.
func (s *Sink) checkDeadLetter(ctx context.Context, cl *kgo.Client) error {
	tds, err := kadm.NewClient(cl).ListTopics(ctx, s.cfg.DeadLetter)
	if err != nil {
		return fmt.Errorf("webhook: look up dead-letter topic %s: %w", s.cfg.DeadLetter, err)
	}
	if td, ok := tds[s.cfg.DeadLetter]; !ok || td.Err != nil {
		return fmt.Errorf("webhook: dead-letter topic %s does not exist: create it first", s.cfg.DeadLetter)
	}
	return nil
}

type tp struct {
	topic     string
	partition int32
}

// committer holds the last record handled per partition and commits them:
// between polls, and every CommitInterval while a poll's records are
// being delivered, so that a long outage of the receiver holds back only
// what is not acknowledged yet.
type committer struct {
	s     *Sink
	cl    *kgo.Client
	marks map[tp]*kgo.Record
	last  time.Time
}

// done marks r as handled: acknowledged or dead-lettered.
func (c *committer) done(ctx context.Context, r *kgo.Record) {
	c.marks[tp{r.Topic, r.Partition}] = r
	if time.Since(c.last) >= c.s.cfg.CommitInterval {
		c.commit(ctx)
	}
}

func (c *committer) commit(ctx context.Context) {
	c.last = time.Now()
	if len(c.marks) == 0 {
		return
	}
	recs := make([]*kgo.Record, 0, len(c.marks))
	for _, r := range c.marks {
		recs = append(recs, r)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	err := c.cl.CommitRecords(cctx, recs...)
	cancel()
	c.s.cfg.Metrics.commit(c.s.cfg.Name, err)
	if err != nil {
		// Not fatal: the events are sent again after a restart or a
		// rebalance, with the same keys.
		c.s.log.Warn("commit failed", "err", err)
		return
	}
	clear(c.marks)
}
