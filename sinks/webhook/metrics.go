package webhook

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the webhook sink's Prometheus collectors, labelled by sink
// name. Create them once per registry with NewMetrics; a nil *Metrics is
// valid and records nothing. No label ever holds an event's content.
type Metrics struct {
	requests    *prometheus.CounterVec
	requestSec  *prometheus.HistogramVec
	events      *prometheus.CounterVec
	retries     *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	retrying    *prometheus.GaugeVec
	lastAck     *prometheus.GaugeVec
	commits     *prometheus.CounterVec
}

// NewMetrics creates the sink's collectors and registers them with reg
// (never the global registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "webhook", Name: "requests_total",
			Help: "Requests sent, by HTTP status (or error, when there was no answer).",
		}, []string{"sink", "code"}),
		requestSec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "accrue", Subsystem: "webhook", Name: "request_seconds",
			Help:    "Time of one request, until the receiver answered or the attempt failed.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"sink"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "webhook", Name: "events_total",
			Help: "Events done with, by topic and result (delivered, dead_lettered).",
		}, []string{"sink", "topic", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "webhook", Name: "retries_total",
			Help: "Failed attempts that were retried, by cause (status_5xx, status_408, status_429, timeout, connection).",
		}, []string{"sink", "cause"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "webhook", Name: "dead_letters_total",
			Help: "Events sent to the dead-letter topic, by reason.",
		}, []string{"sink", "reason"}),
		retrying: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "accrue", Subsystem: "webhook", Name: "retrying",
			Help: "1 while the sink is retrying a request that failed (the receiver is down or refusing), else 0.",
		}, []string{"sink"}),
		lastAck: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "accrue", Subsystem: "webhook", Name: "last_ack_timestamp_seconds",
			Help: "When the receiver last acknowledged a request (Unix time).",
		}, []string{"sink"}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "webhook", Name: "commits_total",
			Help: "Offset commits after acknowledged events, by result (ok, failed).",
		}, []string{"sink", "result"}),
	}
	reg.MustRegister(m.requests, m.requestSec, m.events, m.retries, m.deadLetters, m.retrying, m.lastAck, m.commits)
	return m
}

func (m *Metrics) request(sink string, code int, seconds float64) {
	if m == nil {
		return
	}
	c := "error"
	if code > 0 {
		c = strconv.Itoa(code)
	}
	m.requests.WithLabelValues(sink, c).Inc()
	m.requestSec.WithLabelValues(sink).Observe(seconds)
}

func (m *Metrics) event(sink, topic, result string, n int) {
	if m != nil {
		m.events.WithLabelValues(sink, topic, result).Add(float64(n))
	}
}

func (m *Metrics) retry(sink, cause string) {
	if m != nil {
		m.retries.WithLabelValues(sink, cause).Inc()
	}
}

func (m *Metrics) deadLetter(sink, reason string, n int) {
	if m != nil {
		m.deadLetters.WithLabelValues(sink, reason).Add(float64(n))
	}
}

func (m *Metrics) setRetrying(sink string, on bool) {
	if m != nil {
		v := 0.0
		if on {
			v = 1
		}
		m.retrying.WithLabelValues(sink).Set(v)
	}
}

func (m *Metrics) ack(sink string, unix float64) {
	if m != nil {
		m.lastAck.WithLabelValues(sink).Set(unix)
	}
}

func (m *Metrics) commit(sink string, err error) {
	if m != nil {
		r := "ok"
		if err != nil {
			r = "failed"
		}
		m.commits.WithLabelValues(sink, r).Inc()
	}
}
