package feed_test

import (
	"fmt"

	"github.com/accrue/accrue/benchmarks/feed"
	"github.com/accrue/accrue/transforms/ingest"
)

// A feed, mapped by the example configs as the ingest stage maps it: what
// each record becomes is what the feed said it would.
func ExampleGenerate() {
	f, err := feed.Generate(feed.Config{Seed: 1, Records: 1000, Reps: 50})
	if err != nil {
		panic(err)
	}
	pipelines, _, err := feed.Pipelines()
	if err != nil {
		panic(err)
	}
	events, rejected, agree := 0, 0, true
	for _, it := range f.Raw() {
		i := 0
		pipelines[it.Topic].Run(it.Value, f.Now(), func(r ingest.Result) {
			want := it.Want[i]
			i++
			switch {
			case r.Event != nil:
				events++
				agree = agree && want.Reject == "" && want.Skip == ""
			case r.Reject != nil:
				rejected++
				agree = agree && r.Reject.Reason == want.Reject
			}
		})
	}
	fmt.Println(events == f.Expect.Events, rejected == f.Expect.RejectedTotal(), agree)
	// Output: true true true
}
