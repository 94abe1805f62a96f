package wallet

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// TestProcessorOnFakeKafka runs the processor in a stage on an in-process
// broker: the sweeps expire a penny drop nobody completes, a payable
// record of a period already closed is payable at once while earlier
// ones wait for the sweep, and refused inputs reach the dead-letter topic
// (a registration masked).
func TestProcessorOnFakeKafka(t *testing.T) {
	_, brokers := pt.Fake(t)
	in := []string{TopicPayable, TopicRedemptions, TopicRegistrations, TopicResults}
	pt.CreateTopics(t, brokers, 2, append(append([]string{}, in...), TopicInstructions, TopicOutcomes, TopicLedger,
		TopicPennyDrops, TopicAccounts, "wallet.rejected"), "wallet.changelog")

	tables, err := NewTables(TablesConfig{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.PennyDropTTL = 300 * time.Millisecond
	cfg.Catalogue = tables
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	met := NewMetrics(prometheus.NewRegistry())
	proc, err := NewProcessor(StageConfig{Wallet: w, Tables: tables, SweepInterval: 100 * time.Millisecond, Metrics: met,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := pipeline.NewStage[*State](pipeline.Config{Name: "wallet", Brokers: brokers, Inputs: proc.Inputs(),
		InstanceID: "t", TickInterval: 50 * time.Millisecond, SessionTimeout: 2 * time.Second, TransactionTimeout: 5 * time.Second,
		Logger: slog.New(slog.DiscardHandler)}, Codec{}, proc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	produce := func(topic, key, value string) {
		t.Helper()
		pt.ProduceRaw(t, brokers, topic, []byte(key), []byte(value))
	}
	tables.Put(nil, []CloseRecord{{ProgramID: "quarterly", Period: "2026-Q3"}})
	produce(TopicPayable, testRep, `{"idempotency_key":"a1","program_id":"quarterly","period":"2026-Q4","rep_id":"R-1","currency":"EUR","amount":"30.00"}`)
	produce(TopicPayable, testRep, `{"idempotency_key":"a2","program_id":"quarterly","period":"2026-Q3","rep_id":"R-1","currency":"EUR","amount":"20.00"}`)
	produce(TopicRegistrations, testRep, `{"type":"register","registration_id":"reg-1","rep_id":"R-1","holder":"Ada","bank_code":"B","country":"DE","currency":"EUR","number":"`+testNumber+`"}`)
	produce(TopicRegistrations, testRep, `{"type":"register","registration_id":"reg-2","rep_id":"R-1","holder":"","country":"DE","currency":"EUR","number":"`+testNumber+`"}`)
	produce(TopicPayable, "R-2", `{"idempotency_key":"a3","program_id":"monthly","period":"2026-11","rep_id":"R-1","currency":"EUR","amount":"1.00"}`)

	lastStatus := func() string {
		var e struct{ Status string }
		recs := pt.ReadAll(t, brokers, TopicAccounts)
		if len(recs) == 0 {
			return ""
		}
		_ = json.Unmarshal(recs[len(recs)-1].Value, &e)
		return e.Status
	}
	pt.WaitFor(t, 20*time.Second, "the penny drop to expire", func() bool { return lastStatus() == StatusExpired })

	// The Q3 record was payable at once (its period closed before it
	// came); Q4's waits until its close, applied by a sweep.
	balances := func() Balances {
		var b Balances
		st := map[string][]byte{}
		for k, v := range pt.LastValues(pt.ReadAll(t, brokers, "wallet.changelog")) {
			st[k] = v
		}
		if s, err := (Codec{}).Decode(st[testRep]); err == nil {
			b = s.Balances()
		}
		return b
	}
	pt.WaitFor(t, 10*time.Second, "the payable records", func() bool { return balances().Available.Equal(dec("20")) })
	if b := balances(); !b.Earned.Equal(dec("30")) {
		t.Fatalf("earned %s, want 30 waiting for Q4's close", b.Earned)
	}
	tables.Put(nil, []CloseRecord{{ProgramID: "quarterly", Period: "2026-Q4"}})
	pt.WaitFor(t, 10*time.Second, "Q4's close", func() bool { return balances().Available.Equal(dec("50")) })

	pt.WaitFor(t, 10*time.Second, "two dead letters", func() bool { return len(pt.ReadAll(t, brokers, "wallet.rejected")) == 2 })
	for _, r := range pt.ReadAll(t, brokers, "wallet.rejected") {
		reason, _ := pipeline.Header(r, pipeline.HeaderReason)
		field, _ := pipeline.Header(r, pipeline.HeaderField)
		switch reason + "/" + field {
		case "invalid_account/holder":
			if bytes.Contains(r.Value, []byte(testNumber)) || !bytes.Contains(r.Value, []byte(`"number":"****3000"`)) {
				t.Errorf("registration dead-lettered as %s", r.Value)
			}
		case "invalid_input/rep_id":
		default:
			t.Errorf("dead letter %s/%s: %s", reason, field, r.Value)
		}
	}
	if n := testutil.ToFloat64(met.accounts.WithLabelValues(StatusExpired)); n != 1 {
		t.Errorf("expired account events counted %v, want 1", n)
	}
	if n := testutil.ToFloat64(met.inputs.WithLabelValues("register", "rejected")); n != 1 {
		t.Errorf("rejected registrations counted %v, want 1", n)
	}
}
