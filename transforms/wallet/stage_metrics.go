package wallet

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the wallet stage's own figures, beside the runtime's
// (records in and out, rejects by reason, transactions). None carries a
// rep, an amount or an account: labels are kinds, statuses and reasons.
type Metrics struct {
	inputs       *prometheus.CounterVec
	outcomes     *prometheus.CounterVec
	instructions *prometheus.CounterVec
	transactions *prometheus.CounterVec
	pennyDrops   prometheus.Counter
	accounts     *prometheus.CounterVec
}

// NewMetrics registers the stage's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		inputs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "wallet", Name: "inputs_total",
			Help: "Inputs of the wallet stage by kind (payable, request, register, confirm, payout_result, penny_drop_result) and result (applied, rejected).",
		}, []string{"input", "result"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "wallet", Name: "outcomes_total",
			Help: "Request outcomes emitted, by status and reason (replays included, reason empty when accepted).",
		}, []string{"status", "reason"}),
		instructions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "wallet", Name: "instructions_total",
			Help: "Payout instructions emitted, by request type.",
		}, []string{"type"}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "wallet", Name: "transactions_total",
			Help: "Ledger transactions posted, by kind (accrual, close, reserve, settle, release, return).",
		}, []string{"kind"}),
		pennyDrops: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "wallet", Name: "penny_drops_total",
			Help: "Penny drops emitted.",
		}),
		accounts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "accrue", Subsystem: "wallet", Name: "account_events_total",
			Help: "Bank-account events emitted, by the status reached.",
		}, []string{"status"}),
	}
	if reg != nil {
		reg.MustRegister(m.inputs, m.outcomes, m.instructions, m.transactions, m.pennyDrops, m.accounts)
	}
	return m
}

func (m *Metrics) input(kind, result string) {
	if m != nil {
		m.inputs.WithLabelValues(kind, result).Inc()
	}
}

func (m *Metrics) output(out *Output) {
	if m == nil {
		return
	}
	for _, o := range out.Outcomes {
		m.outcomes.WithLabelValues(o.Status, o.Reason).Inc()
	}
	for _, i := range out.Instructions {
		m.instructions.WithLabelValues(i.Type).Inc()
	}
	for _, t := range out.Transactions {
		m.transactions.WithLabelValues(t.Kind).Inc()
	}
	m.pennyDrops.Add(float64(len(out.PennyDrops)))
	for _, e := range out.AccountEvents {
		m.accounts.WithLabelValues(e.Status).Inc()
	}
}
