package pipeline_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
)

// A stage that keeps a running total per key and emits it, on an embedded
// broker.
func ExampleNewStage() {
	cluster, _ := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "clicks", "totals", "sum.rejected"))
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	cl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...))
	defer cl.Close()
	ctx := context.Background()
	compact := "compact"
	_, _ = kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": &compact}, "sum.changelog")
	for _, k := range []string{"ann", "bob", "ann"} {
		cl.ProduceSync(ctx, &kgo.Record{Topic: "clicks", Key: []byte(k)})
	}

	stage, err := pipeline.NewStage[int64](pipeline.Config{
		Name: "sum", Brokers: brokers, Inputs: []string{"clicks"},
		Logger: slog.New(slog.DiscardHandler),
	}, pipeline.Int64Codec{}, pipeline.ProcessorFunc[int64](func(c *pipeline.Context[int64], r *kgo.Record) error {
		n, _ := c.Get(string(r.Key))
		c.Put(string(r.Key), n+1)
		c.Emit("totals", r.Key, fmt.Appendf(nil, "%d", n+1))
		return nil
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- stage.Run(runCtx) }()

	rd, _ := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("totals"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	defer rd.Close()
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for seen := 0; seen < 3; {
		rd.PollFetches(waitCtx).EachRecord(func(r *kgo.Record) {
			fmt.Printf("%s %s\n", r.Key, r.Value)
			seen++
		})
		if waitCtx.Err() != nil {
			break
		}
	}
	stop()
	fmt.Println("stopped:", <-done)
	// Output:
	// ann 1
	// bob 1
	// ann 2
	// stopped: <nil>
}
