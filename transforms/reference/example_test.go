package reference_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/transforms/reference"
)

// Reference tables loaded from the ref.* topics of an embedded broker: a
// rep who changes manager mid-month, looked up as of two days.
func ExampleNewGlobal() {
	var topics []string
	for _, k := range reference.Kinds {
		topics = append(topics, k.Topic())
	}
	cluster, _ := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	pub, _ := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("ref-load"))
	defer pub.Close()
	since := func(s string) reference.Date { d, _ := reference.ParseDate(s); return d }
	err := reference.Publish(ctx, pub, "ref.reps", []reference.Row{
		reference.Rep{RepID: "R-17", Team: "north", ManagerID: "M-1", ValidFrom: since("2026-01-01")},
		reference.Rep{RepID: "R-17", Team: "south", ManagerID: "M-2", ValidFrom: since("2026-11-15")},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	g, _ := reference.NewGlobal(reference.GlobalConfig{Brokers: brokers, Logger: slog.New(slog.DiscardHandler)})
	go func() { _ = g.Run(ctx) }()
	if err := g.WaitReady(ctx); err != nil {
		fmt.Println(err)
		return
	}
	for _, day := range []string{"2026-11-14", "2026-11-15"} {
		r, _ := g.Tables().Rep("R-17", since(day))
		fmt.Println(day, r.Team, r.ManagerID)
	}
	// Output:
	// 2026-11-14 north M-1
	// 2026-11-15 south M-2
}
