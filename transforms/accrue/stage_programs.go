package accrue

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/accrue/accrue/pipeline"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/transforms/accrue/program"
)

// ProgramsConfig configures Programs. Brokers is required.
type ProgramsConfig struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// Topic is the compacted topic of published programs; default
	// program.Topic.
	Topic string
	// ClientOpts are added to the Kafka clients (TLS, SASL, ...).
	ClientOpts []kgo.Opt
	// Registerer receives the metrics; nil records none.
	Registerer prometheus.Registerer
	// Logger receives the logs; default slog.Default().
	Logger *slog.Logger
	// TopicWait is how long Run waits for the topic to exist; default 30s.
	TopicWait time.Duration
}

// Programs is the catalog of published programs of one process, read from
// the compacted programs topic and kept current: every instance of the
// accrual stage computes every program, whatever partitions it owns, so
// each reads the whole topic (no consumer group, read_committed), as
// reference.Global reads the reference topics.
//
// Programs is ready once it has applied every record up to the end offsets
// the topic had when Run started; the stage must not process a credit
// before (WaitReady), or it would credit sales to no program. Version
// changes with every record applied, so the stage can tell when to build
// its Engine again.
type Programs struct {
	cfg     ProgramsConfig
	log     *slog.Logger
	catalog *program.Catalog
	version atomic.Uint64

	readiness *pipeline.Readiness

	applied prometheus.Counter
	bad     prometheus.Counter
}

// NewPrograms checks cfg and builds a Programs; it does not connect (Run
// does).
func NewPrograms(cfg ProgramsConfig) (*Programs, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("accrue: the programs catalog needs brokers")
	}
	if cfg.Topic == "" {
		cfg.Topic = program.Topic
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TopicWait <= 0 {
		cfg.TopicWait = 30 * time.Second
	}
	p := &Programs{cfg: cfg, log: cfg.Logger.With("component", "programs", "topic", cfg.Topic),
		catalog: program.NewCatalog(), readiness: pipeline.NewReadiness()}
	p.applied = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "programs", Name: "records_total",
		Help: "Records of the programs topic applied to the catalog (publications and withdrawals).",
	})
	p.bad = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "programs", Name: "bad_records_total",
		Help: "Records of the programs topic that are not valid publications (the version they name is left out).",
	})
	if reg := cfg.Registerer; reg != nil {
		reg.MustRegister(p.applied, p.bad,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: "accrue", Subsystem: "programs", Name: "ready",
				Help: "1 once the catalog holds everything the programs topic held at start.",
			}, func() float64 {
				if p.Ready() {
					return 1
				}
				return 0
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: "accrue", Subsystem: "programs", Name: "versions",
				Help: "Program versions in the catalog.",
			}, func() float64 { return float64(len(CatalogPrograms(p.catalog))) }))
	}
	return p, nil
}

// Catalog is the catalog Run keeps current; safe to query while Run
// applies records.
func (p *Programs) Catalog() *program.Catalog { return p.catalog }

// Version changes whenever a record is applied to the catalog. Safe to call
// concurrently.
func (p *Programs) Version() uint64 { return p.version.Load() }

func (p *Programs) setReady(start time.Time) {
	p.readiness.MarkReady(func() {
		p.log.Info("programs ready", "versions", len(CatalogPrograms(p.catalog)), "took", time.Since(start).Round(time.Millisecond))
	})
}

// Run loads the catalog and keeps it current until ctx ends; it then
// returns nil. It returns an error when the topic is missing (after
// TopicWait) or its offsets cannot be listed. Run once.
func (p *Programs) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			p.readiness.Fail(err)
		}
	}()
	start := time.Now()
	return pipeline.Follow(ctx, pipeline.FollowConfig{
		Name: "programs", Brokers: p.cfg.Brokers, ClientOpts: p.cfg.ClientOpts,
		Topics: []string{p.cfg.Topic}, TopicWait: p.cfg.TopicWait, Logger: p.log,
	}, p.apply, func() { p.setReady(start) })
}

func (p *Programs) apply(r *kgo.Record) {
	err := p.catalog.Apply(r.Key, r.Value)
	p.version.Add(1)
	if err != nil {
		p.bad.Inc()
		p.log.Warn("a record of the programs topic is not a valid publication; its version is left out",
			"partition", r.Partition, "offset", r.Offset, "key", string(r.Key), "err", err)
		return
	}
	p.applied.Inc()
}

// Ready reports whether the catalog holds everything the programs topic held when Run started. Safe to call concurrently; a
// pipeline.ReadyCheck.
func (p *Programs) Ready() bool { return p.readiness.Ready() }

// WaitReady blocks until ready (nil), ctx ends (its error) or Run fails
// before that (Run's error).
func (p *Programs) WaitReady(ctx context.Context) error { return p.readiness.WaitReady(ctx) }
