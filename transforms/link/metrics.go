package link

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the linking stage's own figures, beside the runtime's
// (records in and out, rejects by reason, which count committed
// transactions only). These are counted as events are processed: an event
// of a batch whose transaction aborts is counted again when it is processed
// again. A nil *Metrics records nothing.
type Metrics struct {
	credits    *prometheus.CounterVec
	parked     *prometheus.CounterVec
	released   prometheus.Counter
	expired    *prometheus.CounterVec
	violations prometheus.Counter
	swept      prometheus.Counter
	parkedNow  atomic.Int64

	viaRep, viaIdentity, viaOwner, viaOriginal prometheus.Counter
}

// NewMetrics creates the linking stage's collectors and registers them with
// reg (one set per registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		credits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "link", Name: "credits_total",
			Help: "Credits emitted to sales.credited, by how the recipient was found (rep, identity, account_owner, original).",
		}, []string{"via"}),
		parked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "link", Name: "parked_total",
			Help: "Events parked for reference data not known yet, by what was missing.",
		}, []string{"reason"}),
		released: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "link", Name: "released_total",
			Help: "Parked events linked once their reference data arrived.",
		}),
		expired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "link", Name: "expired_total",
			Help: "Parked events rejected because their deadline passed, by what was missing.",
		}, []string{"reason"}),
		violations: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "link", Name: "conservation_violations_total",
			Help: "Events whose credited shares would not add up to exactly 1, rejected (shares_not_one).",
		}),
		swept: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "link", Name: "originals_expired_total",
			Help: "Sales' recipients forgotten because they are older than the originals' retention (event time).",
		}),
	}
	reg.MustRegister(m.credits, m.parked, m.released, m.expired, m.violations, m.swept,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "accrue", Subsystem: "link", Name: "parked",
			Help: "Events parked now, in the partitions this instance owns.",
		}, func() float64 { return float64(m.parkedNow.Load()) }))
	m.viaRep = m.credits.WithLabelValues(ViaRep)
	m.viaIdentity = m.credits.WithLabelValues(ViaIdentity)
	m.viaOwner = m.credits.WithLabelValues(ViaAccountOwner)
	m.viaOriginal = m.credits.WithLabelValues(ViaOriginal)
	return m
}

// Parked is the number of events parked now in the partitions this
// instance owns.
func (m *Metrics) Parked() int64 {
	if m == nil {
		return 0
	}
	return m.parkedNow.Load()
}

func (m *Metrics) credit(via string) {
	if m == nil {
		return
	}
	switch via {
	case ViaRep:
		m.viaRep.Inc()
	case ViaIdentity:
		m.viaIdentity.Inc()
	case ViaAccountOwner:
		m.viaOwner.Inc()
	case ViaOriginal:
		m.viaOriginal.Inc()
	default:
		m.credits.WithLabelValues(via).Inc()
	}
}

func (m *Metrics) park(reason string) {
	if m != nil {
		m.parked.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) release() {
	if m != nil {
		m.released.Inc()
	}
}

func (m *Metrics) expire(reason string) {
	if m != nil {
		m.expired.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) violation() {
	if m != nil {
		m.violations.Inc()
	}
}

func (m *Metrics) sweep(n int) {
	if m != nil {
		m.swept.Add(float64(n))
	}
}

func (m *Metrics) parkedDelta(n int) {
	if m != nil && n != 0 {
		m.parkedNow.Add(int64(n))
	}
}

// Released is the counter of parked events linked once their reference
// data arrived.
func (m *Metrics) Released() prometheus.Counter { return m.released }
