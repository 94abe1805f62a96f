package clickhouse

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the ClickHouse sink's Prometheus collectors, labelled by sink
// name. Create them once per registry with NewMetrics; a nil *Metrics is
// valid and records nothing.
type Metrics struct {
	records   *prometheus.CounterVec
	rows      *prometheus.CounterVec
	rejects   *prometheus.CounterVec
	inserts   *prometheus.CounterVec
	insertSec *prometheus.HistogramVec
	batchRecs *prometheus.HistogramVec
	batchSec  *prometheus.HistogramVec
	latency   *prometheus.HistogramVec
	pending   *prometheus.GaugeVec
	paused    *prometheus.GaugeVec
	lag       *prometheus.GaugeVec
}

// NewMetrics creates the sink's collectors and registers them with reg
// (never the global registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "sink", Name: "records_total",
			Help: "Records read and acknowledged by ClickHouse (offsets then marked for commit), by topic.",
		}, []string{"sink", "topic"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "sink", Name: "rows_total",
			Help: "Rows acknowledged by ClickHouse, by table.",
		}, []string{"sink", "table"}),
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "sink", Name: "rejects_total",
			Help: "Records that fit no row of their table and went to sink_rejects, by topic.",
		}, []string{"sink", "topic"}),
		inserts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "sink", Name: "inserts_total",
			Help: "Insert attempts by table and result (ok, retried, failed).",
		}, []string{"sink", "table", "result"}),
		insertSec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "accrue", Subsystem: "sink", Name: "insert_seconds",
			Help:    "Time of one successful insert, from PrepareBatch to the server's acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"sink", "table"}),
		batchRecs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "accrue", Subsystem: "sink", Name: "batch_records",
			Help:    "Records per batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}, []string{"sink"}),
		batchSec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "accrue", Subsystem: "sink", Name: "batch_seconds",
			Help:    "Time to write a batch to every table, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}, []string{"sink"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "accrue", Subsystem: "sink", Name: "latency_seconds",
			Help:    "Time from a record's Kafka timestamp to ClickHouse's acknowledgement of its row, by topic.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
		}, []string{"sink", "topic"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "accrue", Subsystem: "sink", Name: "pending_records",
			Help: "Records read and not yet acknowledged by ClickHouse (the batch being filled and the one being written).",
		}, []string{"sink"}),
		paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "accrue", Subsystem: "sink", Name: "fetch_paused",
			Help: "1 while fetching is paused because both batches are full (ClickHouse slow or down).",
		}, []string{"sink"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "accrue", Subsystem: "sink", Name: "consumer_lag",
			Help: "Records between a partition's high watermark and the sink's position, as of the last fetch.",
		}, []string{"sink", "topic", "partition"}),
	}
	reg.MustRegister(m.records, m.rows, m.rejects, m.inserts, m.insertSec, m.batchRecs, m.batchSec,
		m.latency, m.pending, m.paused, m.lag)
	return m
}

// sinkMetrics holds one sink's children, looked up once.
type sinkMetrics struct {
	m    *Metrics
	name string

	mu  sync.Mutex
	lag map[lagKey]prometheus.Gauge
}

type lagKey struct {
	topic     string
	partition int32
}

func (m *Metrics) forSink(name string) *sinkMetrics {
	return &sinkMetrics{m: m, name: name, lag: map[lagKey]prometheus.Gauge{}}
}

func (s *sinkMetrics) setLag(topic string, partition int32, lag int64) {
	if s.m == nil {
		return
	}
	s.mu.Lock()
	g, ok := s.lag[lagKey{topic, partition}]
	if !ok {
		g = s.m.lag.WithLabelValues(s.name, topic, strconv.Itoa(int(partition)))
		s.lag[lagKey{topic, partition}] = g
	}
	s.mu.Unlock()
	g.Set(float64(lag))
}

func (s *sinkMetrics) insert(table, result string, seconds float64) {
	if s.m == nil {
		return
	}
	s.m.inserts.WithLabelValues(s.name, table, result).Inc()
	if result == "ok" {
		s.m.insertSec.WithLabelValues(s.name, table).Observe(seconds)
	}
}

func (s *sinkMetrics) setPending(n int) {
	if s.m != nil {
		s.m.pending.WithLabelValues(s.name).Set(float64(n))
	}
}

func (s *sinkMetrics) setPaused(p bool) {
	if s.m == nil {
		return
	}
	v := 0.0
	if p {
		v = 1
	}
	s.m.paused.WithLabelValues(s.name).Set(v)
}

// acked records a batch ClickHouse acknowledged.
func (s *sinkMetrics) acked(b *batch, seconds float64) {
	if s.m == nil {
		return
	}
	s.m.batchRecs.WithLabelValues(s.name).Observe(float64(b.records))
	s.m.batchSec.WithLabelValues(s.name).Observe(seconds)
	for topic, ts := range b.times {
		if len(ts) == 0 {
			continue
		}
		s.m.records.WithLabelValues(s.name, topic).Add(float64(len(ts)))
		h := s.m.latency.WithLabelValues(s.name, topic)
		for _, t := range ts {
			h.Observe(b.ackedAt.Sub(t).Seconds())
		}
	}
	for topic, n := range b.rejected {
		s.m.rejects.WithLabelValues(s.name, topic).Add(float64(n))
	}
	for i, r := range b.rows {
		if n := r.Len(); n > 0 {
			s.m.rows.WithLabelValues(s.name, b.tables[i].Name).Add(float64(n))
		}
	}
}

// Records returns the counter of acknowledged records of sink from topic
// (for summaries and tests).
func (m *Metrics) Records(sink, topic string) prometheus.Counter {
	return m.records.WithLabelValues(sink, topic)
}

// Rows returns the counter of acknowledged rows of sink in table.
func (m *Metrics) Rows(sink, table string) prometheus.Counter {
	return m.rows.WithLabelValues(sink, table)
}
