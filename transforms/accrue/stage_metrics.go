package accrue

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the accrual stage's own figures, beside the runtime's
// (records in and out per topic, dead letters by reason in
// accrue_stage_rejects_total, state keys), which count committed
// transactions only. These are counted as records are processed: a record
// of a batch whose transaction aborts is counted again when it is
// processed again. A nil *Metrics records nothing.
type Metrics struct {
	credits, overrides prometheus.Counter
	deltas             prometheus.Counter
	expired            prometheus.Counter
	builds             prometheus.Counter
	refused            prometheus.Counter
	swept              prometheus.Counter
	runs               *prometheus.CounterVec
	adjustments        prometheus.Counter
	flushSnaps         prometheus.Counter
	flushPays          prometheus.Counter
	flushOverrides     prometheus.Counter
	timerNudges        *prometheus.CounterVec
	timerBuilds        prometheus.Counter
	versions           atomic.Int64
	periods, sales     atomic.Int64
}

// NewMetrics creates the accrual stage's collectors and registers them with
// reg (one set per registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{}
	inputs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "accrual", Name: "inputs_total",
		Help: "Inputs applied (not rejected): credits of sales.credited and override records, by kind.",
	}, []string{"kind"})
	m.credits = inputs.WithLabelValues("credit")
	m.overrides = inputs.WithLabelValues("override")
	m.deltas = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "accrual", Name: "deltas_total",
		Help: "Accrual deltas emitted (changes of a rep's reported earned in a program's period).",
	})
	m.expired = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "accrual", Name: "clawback_window_expired_total",
		Help: "Returns and cancels that changed nothing in a program because they came after its clawback window, per program.",
	})
	m.builds = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "accrual", Name: "engine_builds_total",
		Help: "Engines built from the program catalog: at start and whenever it changed.",
	})
	m.refused = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "accrual", Name: "versions_refused_total",
		Help: "Program versions left out of an engine build because they do not fit the other versions of their id.",
	})
	m.swept = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "accrual", Name: "swept_total",
		Help: "Sales and periods forgotten because they are older than the retention (event time).",
	})
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "accrual", Name: "recompute_records_total",
		Help: "What recompute runs did on this instance's partitions: begun, replayed, replay_skipped, replay_rejected, parked, ended, swapped, twin_dropped, cancelled, stale.",
	}, []string{"what"})
	m.adjustments = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "accrual", Name: "recompute_adjustments_total",
		Help: "Adjustment deltas emitted when a recompute run swapped its figures in.",
	})
	flushed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "accrual", Name: "flushed_total",
		Help: "Records written once per batch and partition, each standing for one or more of the batch's outputs, by kind: snapshot (the latest of a statement), payable (the sum of a statement's deltas), override (the sum of the contributions to one manager, program version, period and level).",
	}, []string{"kind"})
	m.flushSnaps = flushed.WithLabelValues("snapshot")
	m.flushPays = flushed.WithLabelValues("payable")
	m.flushOverrides = flushed.WithLabelValues("override")
	m.timerNudges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "accrual", Name: "timer_nudges_total",
		Help: "Nudges fired by timers in event time, by kind (inactivity, period_ending).",
	}, []string{"kind"})
	m.timerBuilds = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "accrual", Name: "timer_index_builds_total",
		Help: "Times a partition's index of timers was rebuilt from its state: after it was assigned or restored, a transaction aborted, or the programs changed.",
	})
	entries := func(kind string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "accrue", Subsystem: "accrual", Name: "state_entries",
			Help:        "State entries of the partitions this instance owns, by kind (period: a program, period and rep; sale: a sale of a rep), as of each partition's last sweep.",
			ConstLabels: prometheus.Labels{"kind": kind},
		}, func() float64 { return float64(v.Load()) })
	}
	reg.MustRegister(inputs, flushed, m.timerNudges, m.timerBuilds, m.deltas, m.expired, m.builds, m.refused, m.swept, m.runs, m.adjustments,
		entries("period", &m.periods), entries("sale", &m.sales),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "accrue", Subsystem: "accrual", Name: "engine_versions",
			Help: "Program versions the engine computes now.",
		}, func() float64 { return float64(m.versions.Load()) }))
	return m
}

func (m *Metrics) applied(override bool, out *Output) {
	if m == nil {
		return
	}
	if override {
		m.overrides.Inc()
	} else {
		m.credits.Inc()
	}
	if n := len(out.Accruals); n > 0 {
		m.deltas.Add(float64(n))
	}
	if n := len(out.Expired); n > 0 {
		m.expired.Add(float64(n))
	}
}

func (m *Metrics) timersFired(out *Output) {
	if m == nil {
		return
	}
	for i := range out.Nudges {
		if n := &out.Nudges[i]; n.timer() {
			m.timerNudges.WithLabelValues(n.Kind).Inc()
		}
	}
}

func (m *Metrics) timersBuilt() {
	if m != nil {
		m.timerBuilds.Inc()
	}
}

func (m *Metrics) flushed(snaps, pays, overrides int) {
	if m == nil {
		return
	}
	m.flushSnaps.Add(float64(snaps))
	m.flushPays.Add(float64(pays))
	m.flushOverrides.Add(float64(overrides))
}

func (m *Metrics) built(refused, versions int) {
	if m == nil {
		return
	}
	m.builds.Inc()
	m.refused.Add(float64(refused))
	m.versions.Store(int64(versions))
}

func (m *Metrics) state(periods, sales, swept int) {
	if m == nil {
		return
	}
	m.periods.Add(int64(periods))
	m.sales.Add(int64(sales))
	if swept > 0 {
		m.swept.Add(float64(swept))
	}
}

func (m *Metrics) recompute(what string) {
	if m != nil {
		m.runs.WithLabelValues(what).Inc()
	}
}

func (m *Metrics) recomputeAdjustments(n int) {
	if m != nil {
		m.adjustments.Add(float64(n))
		m.deltas.Add(float64(n))
	}
}
