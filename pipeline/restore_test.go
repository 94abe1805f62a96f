package pipeline

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A restore must not end while the previous owner's last transaction is
// still open on the changelog: its offsets can already be committed (their
// marker is written apart from the changelog's), and a restore that stopped
// at the last stable offset then resumed after input whose state it never
// read (found by the rebalances fault scenario under load: sales missing
// for their returns, measures short).
func TestRestoreWaitsForAnOpenTransaction(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "changelog"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	owner, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("previous-owner"),
		kgo.DefaultProduceTopic("changelog"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	write := func(v int64, commit bool) {
		if err := owner.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := owner.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: Int64Codec{}.Encode(nil, v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := owner.EndTransaction(ctx, kgo.TryCommit); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(1, true)
	write(2, false) // the last batch: written, its markers not yet

	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var waited atomic.Bool
	type result struct {
		v   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		states, _, err := restorePartitions(ctx, admin, nil, brokers, "changelog", []int32{0}, Codec[int64](Int64Codec{}),
			func(time.Duration) { waited.Store(true) })
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{v: states[0].committed["k"]}
	}()
	select {
	case r := <-done:
		t.Fatalf("restore ended (k=%d, %v) while a transaction was open on the changelog", r.v, r.err)
	case <-time.After(500 * time.Millisecond):
	}
	if !waited.Load() {
		t.Error("the restore did not report waiting")
	}
	if err := owner.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.v != 2 {
		t.Fatalf("restored k=%d (%v), want the last committed transaction's 2", r.v, r.err)
	}

	// With nothing open, a restore does not wait.
	waited.Store(false)
	if _, _, err := restorePartitions(ctx, admin, nil, brokers, "changelog", []int32{0}, Codec[int64](Int64Codec{}),
		func(time.Duration) { waited.Store(true) }); err != nil || waited.Load() {
		t.Fatalf("restore with no open transaction: waited %v, %v", waited.Load(), err)
	}
}
