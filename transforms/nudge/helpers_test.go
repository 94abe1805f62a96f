package nudge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

var seq atomic.Int64

// uniq returns a name unique in this test process.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), seq.Add(1))
}

// run runs a stage until the returned function is called; that function
// returns the stage's error.
func run[S any](t *testing.T, cfg pipeline.Config, codec pipeline.Codec[S], proc pipeline.Processor[S]) (*pipeline.Stage[S], func() error) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = pipeline.NewMetrics(prometheus.NewRegistry())
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 2 * time.Second
	}
	if cfg.TransactionTimeout == 0 {
		cfg.TransactionTimeout = 5 * time.Second
	}
	if cfg.TickInterval == 0 {
		cfg.TickInterval = 50 * time.Millisecond
	}
	st, err := pipeline.NewStage[S](cfg, codec, proc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	var stopped atomic.Bool
	stop := func() error {
		if stopped.Swap(true) {
			return nil
		}
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			t.Fatal("stage did not stop within 60s")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return st, stop
}

// produce writes records in order, synchronously.
func produce(t *testing.T, brokers []string, rs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, r := range rs {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// waitRecords waits until topic holds at least n committed records and
// returns them.
func waitRecords(t *testing.T, brokers []string, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	var recs []*kgo.Record
	pt.WaitFor(t, timeout, fmt.Sprintf("%d records on %s", n, topic), func() bool {
		recs = pt.ReadAll(t, brokers, topic)
		return len(recs) >= n
	})
	return recs
}

// objects decodes JSON record values.
func objects(t *testing.T, recs []*kgo.Record) []map[string]any {
	t.Helper()
	out := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		var m map[string]any
		if err := json.Unmarshal(r.Value, &m); err != nil {
			t.Fatalf("%s: %v", r.Value, err)
		}
		m["_key"] = string(r.Key)
		out = append(out, m)
	}
	return out
}

// readUntil reads topic until it holds at least n committed records or
// timeout passes, and returns what it holds.
func readUntil(t *testing.T, brokers []string, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		recs := pt.ReadAll(t, brokers, topic)
		if len(recs) >= n || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(50 * time.Millisecond)
	}
}
