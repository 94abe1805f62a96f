package contest

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the contest stages' own figures; a nil *Metrics records
// nothing. They are counted as records are processed (a batch processed
// again is counted again).
type Metrics struct {
	awards  *prometheus.CounterVec
	skipped *prometheus.CounterVec
	late    *prometheus.CounterVec
	settled prometheus.Counter
}

// NewMetrics creates the collectors and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		awards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "contest", Name: "awards_total",
			Help: "Contest awards emitted, by contest.",
		}, []string{"contest"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "contest", Name: "skipped_credits_total",
			Help: "Credits that did not count in a contest they were in, by reason (fx_rate_missing).",
		}, []string{"reason"}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "contest", Name: "late_progress_total",
			Help: "Progress that reached the ranking stage after its race was settled, by contest.",
		}, []string{"contest"}),
		settled: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "contest", Name: "races_settled_total",
			Help: "Races decided.",
		}),
	}
	reg.MustRegister(m.awards, m.skipped, m.late, m.settled)
	return m
}

func (m *Metrics) award(contest string) {
	if m != nil {
		m.awards.WithLabelValues(contest).Inc()
	}
}

func (m *Metrics) skip(reason string) {
	if m != nil {
		m.skipped.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) lateProgress(contest string) {
	if m != nil {
		m.late.WithLabelValues(contest).Inc()
	}
}

func (m *Metrics) settle() {
	if m != nil {
		m.settled.Inc()
	}
}
