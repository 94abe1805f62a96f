package nudge

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the leaderboard and delivery stages' own figures, beside the
// runtime's. They are counted as records are processed: a record of a batch
// whose transaction aborts is counted again when it is processed again. A
// nil *Metrics records nothing.
type Metrics struct {
	updates    prometheus.Counter
	staleSnaps prometheus.Counter
	nudges     *prometheus.CounterVec
	standings  atomic.Int64
	messages   *prometheus.CounterVec
	suppressed *prometheus.CounterVec
	deferred   prometheus.Counter
	released   prometheus.Counter
	heldNow    atomic.Int64
	certs      prometheus.Counter
	certFails  prometheus.Counter
}

// NewMetrics creates the collectors and registers them with reg (one set
// per registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		updates: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "leaderboard", Name: "updates_total",
			Help: "Snapshots that changed a rep's standing on a leaderboard.",
		}),
		staleSnaps: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "leaderboard", Name: "stale_snapshots_total",
			Help: "Snapshots skipped because a newer version of the rep's snapshot was applied.",
		}),
		nudges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "leaderboard", Name: "nudges_total",
			Help: "Leaderboard nudges emitted, by kind.",
		}, []string{"kind"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "deliver", Name: "messages_total",
			Help: "Message events emitted to the messages topic, by the kind of nudge or award.",
		}, []string{"kind"}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "deliver", Name: "suppressed_total",
			Help: "Messages emitted to messages.suppressed instead of messages, by reason.",
		}, []string{"reason"}),
		deferred: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "deliver", Name: "deferred_total",
			Help: "Messages held back for the recipient's quiet hours.",
		}),
		released: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "deliver", Name: "released_total",
			Help: "Held messages released when the recipient's quiet hours ended.",
		}),
		certs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "deliver", Name: "certificates_total",
			Help: "Certificates rendered and stored.",
		}),
		certFails: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "deliver", Name: "certificate_failures_total",
			Help: "Certificates that could not be stored after retries (the award goes to the dead letters).",
		}),
	}
	reg.MustRegister(m.updates, m.staleSnaps, m.nudges, m.messages, m.suppressed, m.deferred, m.released, m.certs, m.certFails,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "accrue", Subsystem: "leaderboard", Name: "standings",
			Help: "Reps ranked on the leaderboards of the partitions this instance owns.",
		}, func() float64 { return float64(m.standings.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "accrue", Subsystem: "deliver", Name: "held",
			Help: "Messages held for quiet hours now, in the partitions this instance owns.",
		}, func() float64 { return float64(m.heldNow.Load()) }))
	return m
}

func (m *Metrics) update() {
	if m != nil {
		m.updates.Inc()
	}
}

func (m *Metrics) stale() {
	if m != nil {
		m.staleSnaps.Inc()
	}
}

func (m *Metrics) nudge(kind string) {
	if m != nil {
		m.nudges.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) size(delta int) {
	if m != nil && delta != 0 {
		m.standings.Add(int64(delta))
	}
}

func (m *Metrics) message(kind string) {
	if m != nil {
		m.messages.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) suppress(reason string) {
	if m != nil {
		m.suppressed.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) deferOne() {
	if m != nil {
		m.deferred.Inc()
		m.heldNow.Add(1)
	}
}

func (m *Metrics) release() {
	if m != nil {
		m.released.Inc()
		m.heldNow.Add(-1)
	}
}

func (m *Metrics) heldDelta(n int) {
	if m != nil && n != 0 {
		m.heldNow.Add(int64(n))
	}
}

func (m *Metrics) certificate(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.certs.Inc()
	} else {
		m.certFails.Inc()
	}
}

// Suppressed is the counter of messages suppressed with reason.
func (m *Metrics) Suppressed(reason string) prometheus.Counter {
	return m.suppressed.WithLabelValues(reason)
}

// Messages is the counter of messages emitted for kind.
func (m *Metrics) Messages(kind string) prometheus.Counter { return m.messages.WithLabelValues(kind) }
