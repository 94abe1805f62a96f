package pipeline

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Metrics are the runtime's Prometheus collectors, shared by every stage of a
// process and labelled by stage. Create them once per registry with
// NewMetrics; a nil *Metrics is valid and records nothing.
type Metrics struct {
	recordsIn    *prometheus.CounterVec
	recordsOut   *prometheus.CounterVec
	rejects      *prometheus.CounterVec
	transactions *prometheus.CounterVec
	rebalances   *prometheus.CounterVec
	lag          *prometheus.GaugeVec
	stateKeys    *prometheus.GaugeVec
	batchSeconds *prometheus.HistogramVec
	phaseSeconds *prometheus.HistogramVec
	batchRecords *prometheus.HistogramVec
	restored     *prometheus.CounterVec
	restoreSecs  *prometheus.HistogramVec
}

// NewMetrics creates the runtime's collectors and registers them with reg.
// It never touches the global registry.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		recordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "stage", Name: "records_in_total",
			Help: "Records consumed by a stage and committed, by input topic.",
		}, []string{"stage", "topic"}),
		recordsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "stage", Name: "records_out_total",
			Help: "Records a stage produced in committed transactions, by output topic (changelog and dead letters included).",
		}, []string{"stage", "topic"}),
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "stage", Name: "rejects_total",
			Help: "Records sent to the dead-letter topic in committed transactions, by reason code.",
		}, []string{"stage", "reason"}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "stage", Name: "transactions_total",
			Help: "Transactions ended, by result (committed, aborted).",
		}, []string{"stage", "result"}),
		rebalances: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "stage", Name: "rebalances_total",
			Help: "Group rebalance callbacks, by kind (assigned, revoked, lost).",
		}, []string{"stage", "kind"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "accrue", Subsystem: "stage", Name: "consumer_lag",
			Help: "Records between a partition's high watermark and the stage's position, as of the last fetch.",
		}, []string{"stage", "topic", "partition"}),
		stateKeys: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "accrue", Subsystem: "stage", Name: "state_keys",
			Help: "Keys in the committed state of the partitions a stage owns.",
		}, []string{"stage"}),
		batchSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "accrue", Subsystem: "stage", Name: "batch_seconds",
			Help:    "Time from a batch's poll to its transaction's end.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"stage"}),
		phaseSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "accrue", Subsystem: "stage", Name: "batch_phase_seconds",
			Help: "Time a committed batch spent in each phase: process (the processor on every record), flush " +
				"(timers, Flushers and changelog records), produce (waiting for the brokers to take every record), " +
				"commit (offsets and the transaction's end).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"stage", "phase"}),
		batchRecords: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "accrue", Subsystem: "stage", Name: "batch_records",
			Help:    "Input records per transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}, []string{"stage"}),
		restored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "stage", Name: "state_restored_records_total",
			Help: "Changelog records read while rebuilding state.",
		}, []string{"stage"}),
		restoreSecs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "accrue", Subsystem: "stage", Name: "state_restore_seconds",
			Help:    "Time to rebuild the state of newly assigned partitions.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, []string{"stage"}),
	}
	reg.MustRegister(m.recordsIn, m.recordsOut, m.rejects, m.transactions, m.rebalances,
		m.lag, m.stateKeys, m.batchSeconds, m.phaseSeconds, m.batchRecords, m.restored, m.restoreSecs)
	return m
}

// stageMetrics holds the children of Metrics for one stage, looked up once so
// that the batch path does no label hashing beyond a map access per topic.
type stageMetrics struct {
	m     *Metrics
	stage string

	mu        sync.Mutex
	in, out   map[string]prometheus.Counter
	rejects   map[string]prometheus.Counter
	lag       map[lagKey]prometheus.Gauge
	committed prometheus.Counter
	aborted   prometheus.Counter
	phases    [numPhases]prometheus.Observer
}

// phases are the durations of a batch's phases, in the order of
// phaseNames, each marked as it ends.
type phases struct {
	d    [numPhases]time.Duration
	n    int
	last time.Duration
}

const numPhases = 4

var phaseNames = [numPhases]string{"process", "flush", "produce", "commit"}

// mark ends the next phase, start being the batch's start.
func (p *phases) mark(start time.Time) {
	if p.n == numPhases {
		return
	}
	t := time.Since(start)
	p.d[p.n], p.last = t-p.last, t
	p.n++
}

type lagKey struct {
	topic     string
	partition int32
}

func (m *Metrics) forStage(stage string) *stageMetrics {
	s := &stageMetrics{m: m, stage: stage,
		in: map[string]prometheus.Counter{}, out: map[string]prometheus.Counter{},
		rejects: map[string]prometheus.Counter{}, lag: map[lagKey]prometheus.Gauge{}}
	if m != nil {
		s.committed = m.transactions.WithLabelValues(stage, "committed")
		s.aborted = m.transactions.WithLabelValues(stage, "aborted")
		for i, name := range phaseNames {
			s.phases[i] = m.phaseSeconds.WithLabelValues(stage, name)
		}
	}
	return s
}

func child[K comparable, C any](cache map[K]C, k K, mk func() C) C {
	c, ok := cache[k]
	if !ok {
		c = mk()
		cache[k] = c
	}
	return c
}

// batchDone records a batch's outcome.
func (s *stageMetrics) batchDone(committed bool, in, out, rejects map[string]int, records int, seconds float64, ph *phases) {
	if s.m == nil {
		return
	}
	if !committed {
		s.aborted.Inc()
		return
	}
	s.committed.Inc()
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, n := range in {
		child(s.in, t, func() prometheus.Counter { return s.m.recordsIn.WithLabelValues(s.stage, t) }).Add(float64(n))
	}
	for t, n := range out {
		child(s.out, t, func() prometheus.Counter { return s.m.recordsOut.WithLabelValues(s.stage, t) }).Add(float64(n))
	}
	for r, n := range rejects {
		child(s.rejects, r, func() prometheus.Counter { return s.m.rejects.WithLabelValues(s.stage, r) }).Add(float64(n))
	}
	s.m.batchSeconds.WithLabelValues(s.stage).Observe(seconds)
	for i := range ph.n {
		s.phases[i].Observe(ph.d[i].Seconds())
	}
	s.m.batchRecords.WithLabelValues(s.stage).Observe(float64(records))
}

func (s *stageMetrics) setLag(topic string, partition int32, lag int64) {
	if s.m == nil {
		return
	}
	s.mu.Lock()
	g := child(s.lag, lagKey{topic, partition}, func() prometheus.Gauge {
		return s.m.lag.WithLabelValues(s.stage, topic, strconv.Itoa(int(partition)))
	})
	s.mu.Unlock()
	g.Set(float64(lag))
}

func (s *stageMetrics) rebalance(kind string) {
	if s.m != nil {
		s.m.rebalances.WithLabelValues(s.stage, kind).Inc()
	}
}

func (s *stageMetrics) stateSize(keys int) {
	if s.m != nil {
		s.m.stateKeys.WithLabelValues(s.stage).Set(float64(keys))
	}
}

func (s *stageMetrics) restoreDone(records int, seconds float64) {
	if s.m != nil {
		s.m.restored.WithLabelValues(s.stage).Add(float64(records))
		s.m.restoreSecs.WithLabelValues(s.stage).Observe(seconds)
	}
}

// RecordsIn returns the counter of committed input records of stage from
// topic (for summaries and tests).
func (m *Metrics) RecordsIn(stage, topic string) prometheus.Counter {
	return m.recordsIn.WithLabelValues(stage, topic)
}

// RecordsOut returns the counter of committed output records of stage to
// topic.
func (m *Metrics) RecordsOut(stage, topic string) prometheus.Counter {
	return m.recordsOut.WithLabelValues(stage, topic)
}

// Rejects returns the counter of dead letters of stage with reason.
func (m *Metrics) Rejects(stage, reason string) prometheus.Counter {
	return m.rejects.WithLabelValues(stage, reason)
}

// Transactions returns the counter of transactions of stage with result
// "committed" or "aborted".
func (m *Metrics) Transactions(stage, result string) prometheus.Counter {
	return m.transactions.WithLabelValues(stage, result)
}

// Count reads a counter's current value as a whole number of records (exact
// in a float64 far beyond any real count). For summaries and benchmarks; a
// counter that cannot be read counts 0.
func Count(c prometheus.Counter) int64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return int64(m.GetCounter().GetValue())
}
