package reference

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/accrue/accrue/pipeline"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// GlobalConfig configures a Global. Brokers is required.
type GlobalConfig struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// Topics names the topic each kind is read from; a kind left out is
	// read from Kind.Topic() ("ref.reps", ...). Set Kinds to read fewer.
	Topics map[Kind]string
	// Kinds are the kinds to follow; default every kind.
	Kinds []Kind
	// ClientOpts are added to the Kafka clients (TLS, SASL, ...).
	ClientOpts []kgo.Opt
	// Registerer receives the metrics; nil records none. Register one
	// Global per registry.
	Registerer prometheus.Registerer
	// Logger receives the logs; default slog.Default().
	Logger *slog.Logger
	// TopicWait is how long Run waits for missing topics; default 30s.
	TopicWait time.Duration
}

// Global is the reference tables of one process, loaded from the compacted
// ref.* topics and kept current from them: every instance of every stage
// that links or accrues reads the whole reference data, whatever partitions
// it owns (a global table, not a partitioned one).
//
// Run reads every topic from its start as a read_committed consumer with no
// group, applies each record to Tables (a row, or a tombstone that removes a
// version), and keeps following. Global is ready once it has applied every
// record up to the end offsets (last stable offsets) the topics had when Run
// started; a stage must not process records before (WaitReady), or it would
// park or reject events for reference data that is merely not read yet.
//
// A record that is not a valid row of its kind cannot be refused anywhere
// upstream of the topic: it is skipped, logged and counted
// (accrue_reference_bad_records_total). `accrue ref load` validates rows
// before publishing, so only a foreign producer writes such records.
type Global struct {
	cfg    GlobalConfig
	log    *slog.Logger
	tables Tables
	kinds  map[string]Kind // by topic

	readiness *pipeline.Readiness

	applied *prometheus.CounterVec
	bad     *prometheus.CounterVec
	loadSec prometheus.Gauge
}

// NewGlobal checks cfg and builds a Global; it does not connect (Run does).
func NewGlobal(cfg GlobalConfig) (*Global, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("reference: global tables need brokers")
	}
	if len(cfg.Kinds) == 0 {
		cfg.Kinds = Kinds
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TopicWait <= 0 {
		cfg.TopicWait = 30 * time.Second
	}
	g := &Global{cfg: cfg, log: cfg.Logger.With("component", "reference"), kinds: map[string]Kind{},
		readiness: pipeline.NewReadiness()}
	for _, k := range cfg.Kinds {
		t := cfg.Topics[k]
		if t == "" {
			t = k.Topic()
		}
		if _, dup := g.kinds[t]; dup {
			return nil, fmt.Errorf("reference: topic %q named for two kinds", t)
		}
		g.kinds[t] = k
	}
	g.applied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "reference", Name: "records_total",
		Help: "Records of the ref.* topics applied to the reference tables (rows and tombstones), by kind.",
	}, []string{"kind"})
	g.bad = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "reference", Name: "bad_records_total",
		Help: "Records of the ref.* topics that are not valid rows of their kind, skipped, by kind.",
	}, []string{"kind"})
	g.loadSec = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "accrue", Subsystem: "reference", Name: "load_seconds",
		Help: "Time from start to ready: reading the ref.* topics up to their end offsets at start.",
	})
	if reg := cfg.Registerer; reg != nil {
		reg.MustRegister(g.applied, g.bad, g.loadSec, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "accrue", Subsystem: "reference", Name: "ready",
			Help: "1 once the reference tables hold everything the ref.* topics held at start.",
		}, func() float64 {
			if g.Ready() {
				return 1
			}
			return 0
		}))
		for _, k := range cfg.Kinds {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: "accrue", Subsystem: "reference", Name: "rows",
				Help:        "Row versions in the reference tables, by kind.",
				ConstLabels: prometheus.Labels{"kind": string(k)},
			}, func() float64 { return float64(g.tables.Rows(k)) }))
		}
	}
	return g, nil
}

// BadRecords is the counter of records of kind's topic that were not valid
// rows.
func (g *Global) BadRecords(kind Kind) prometheus.Counter { return g.bad.WithLabelValues(string(kind)) }

// Tables is the tables Run keeps current. Lookups are safe while Run
// applies records.
func (g *Global) Tables() *Tables { return &g.tables }

func (g *Global) setReady(start time.Time) {
	g.readiness.MarkReady(func() {
		g.loadSec.Set(time.Since(start).Seconds())
		var rows []any
		for _, k := range g.cfg.Kinds {
			rows = append(rows, string(k), g.tables.Rows(k))
		}
		g.log.Info("reference tables ready", append(rows, "took", time.Since(start).Round(time.Millisecond))...)
	})
}

// Run loads the tables and keeps them current until ctx ends; it then
// returns nil. It returns an error when a topic is missing (after
// TopicWait) or its offsets cannot be listed. Run once.
func (g *Global) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			g.readiness.Fail(err)
		}
	}()
	start := time.Now()
	topics := make([]string, 0, len(g.kinds))
	for t := range g.kinds {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	return pipeline.Follow(ctx, pipeline.FollowConfig{
		Name: "reference", Brokers: g.cfg.Brokers, ClientOpts: g.cfg.ClientOpts,
		Topics: topics, TopicWait: g.cfg.TopicWait, Logger: g.log,
	}, func(r *kgo.Record) { g.apply(g.kinds[r.Topic], r) }, func() { g.setReady(start) })
}

func (g *Global) apply(kind Kind, r *kgo.Record) {
	if err := g.tables.Apply(kind, r.Key, r.Value); err != nil {
		g.bad.WithLabelValues(string(kind)).Inc()
		g.log.Warn("skipping a record that is not a valid row", "kind", kind, "topic", r.Topic,
			"partition", r.Partition, "offset", r.Offset, "key", string(r.Key), "err", err)
		return
	}
	g.applied.WithLabelValues(string(kind)).Inc()
}

// Ready reports whether the tables hold everything the topics held when Run started. Safe to call concurrently; a
// pipeline.ReadyCheck.
func (g *Global) Ready() bool { return g.readiness.Ready() }

// WaitReady blocks until ready (nil), ctx ends (its error) or Run fails
// before that (Run's error).
func (g *Global) WaitReady(ctx context.Context) error { return g.readiness.WaitReady(ctx) }
