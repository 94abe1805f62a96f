package benchmarks

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/nudge"
	"github.com/accrue/accrue/transforms/reference"
)

// runUntil runs a stage on kfake until it has committed n input records
// from topic, and returns how long that took from its first record.
func runUntil[S any](b *testing.B, brokers []string, name string, inputs []string, codec pipeline.Codec[S],
	proc pipeline.Processor[S], topic string, n int) time.Duration {
	b.Helper()
	reg := prometheus.NewRegistry()
	met := pipeline.NewMetrics(reg)
	st, err := pipeline.NewStage[S](pipeline.Config{Name: name, Brokers: brokers, Inputs: inputs, Metrics: met,
		Logger: slog.New(slog.DiscardHandler), SessionTimeout: 2 * time.Second}, codec, proc)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	defer func() { cancel(); <-done }()
	in := met.RecordsIn(name, topic)
	var start time.Time
	for pipeline.Count(in) < int64(n) {
		if start.IsZero() && pipeline.Count(in) > 0 {
			start = time.Now()
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

func produceAll(b *testing.B, brokers []string, rs []*kgo.Record) {
	produceEach(b, brokers, func(produce func(*kgo.Record)) {
		for _, r := range rs {
			produce(r)
		}
	}, kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(1<<20))
}

// BenchmarkLeaderboard is the leaderboard stage's cost per rank update:
// 100,000 snapshots of 10,000 reps on one board (one program, one period),
// each a rep's measure rising by a random step, through the keyed stage on
// kfake (state, changelog and nudges included), and the order-statistic
// tree's own cost per update on a board of 100,000 reps.
func BenchmarkLeaderboard(b *testing.B) {
	const reps, updates = 10_000, 100_000
	for i := 0; i < b.N; i++ {
		_, brokers := pt.Fake(b)
		sfx := fmt.Sprint(time.Now().UnixNano())
		in, out, name := "by-"+sfx, "nudges-"+sfx, "lb-"+sfx
		pt.CreateTopics(b, brokers, 1, []string{in, out, name + ".rejected"}, name+".changelog")
		rng := rand.New(rand.NewPCG(1, 2))
		measure := make([]int, reps)
		version := make([]int, reps)
		rs := make([]*kgo.Record, updates)
		for u := range rs {
			r := rng.IntN(reps)
			measure[r] += 1 + rng.IntN(500)
			version[r]++
			v := fmt.Sprintf(`{"program_id":"ae","period":"2026-11","rep_id":"R-%d","currency":"USD","measure":"%d.00","attainment":"0.1","earned":"1.00","version":%d,"event_id":"e%d"}`,
				r, measure[r], version[r], u)
			rs[u] = &kgo.Record{Topic: in, Key: []byte("ae|2026-11"), Value: []byte(v)}
		}
		produceAll(b, brokers, rs)
		lb, _ := nudge.NewLeaderboard(nudge.LeaderboardConfig{Output: out, TopN: 10})
		took := runUntil[nudge.Entry](b, brokers, name, []string{in}, nudge.EntryCodec{}, lb, in, updates)
		b.ReportMetric(float64(took.Microseconds())/updates, "µs/update")
		b.ReportMetric(updates/took.Seconds(), "updates/s")
		b.ReportMetric(float64(len(pt.ReadAll(b, brokers, out))), "nudges")
	}
}

// BenchmarkRender is the rendering of one message from its template: a
// near_next_tier nudge in French, with money and a percentage.
func BenchmarkRender(b *testing.B) {
	tp, err := nudge.LoadTemplates("../deploy/templates/messages.yaml")
	if err != nil {
		b.Fatal(err)
	}
	v := tp.Variant(tp.Kind(nudge.KindNearNextTier), "fr-FR")
	data := nudge.Examples[nudge.KindNearNextTier]
	b.ReportAllocs()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, _, err := nudge.Render(v, "fr-FR", data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "messages/s")
}

// BenchmarkDeliver is the delivery stage end to end on kfake: 50,000
// attainment nudges of 1,000 reps (en and fr), each decoded, rendered,
// throttled (no limit reached) and emitted as a message event.
func BenchmarkDeliver(b *testing.B) {
	const reps, n = 1_000, 50_000
	tp, err := nudge.LoadTemplates("../deploy/templates/messages.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var tables reference.Tables
	for r := 0; r < reps; r++ {
		tables.Put(reference.Rep{RepID: fmt.Sprintf("R-%d", r), Name: fmt.Sprintf("Rep %d", r), Email: "r@example.com", ValidFrom: reference.Forever})
	}
	for i := 0; i < b.N; i++ {
		_, brokers := pt.Fake(b)
		sfx := fmt.Sprint(time.Now().UnixNano())
		nudges, awards, prefs, out, sup, name := "n-"+sfx, "a-"+sfx, "p-"+sfx, "m-"+sfx, "s-"+sfx, "d-"+sfx
		pt.CreateTopics(b, brokers, 2, []string{nudges, awards, out, sup, name + ".rejected"}, prefs, name+".changelog")
		var rs []*kgo.Record
		for r := 0; r < reps; r += 2 {
			rs = append(rs, &kgo.Record{Topic: prefs, Key: []byte(fmt.Sprintf("R-%d", r)),
				Value: []byte(fmt.Sprintf(`{"rep_id":"R-%d","locale":"fr-FR","timezone":"Europe/Paris"}`, r))})
		}
		for k := 0; k < n; k++ {
			rep := fmt.Sprintf("R-%d", k%reps)
			rs = append(rs, &kgo.Record{Topic: nudges, Key: []byte(rep), Value: []byte(fmt.Sprintf(
				`{"kind":"attainment_crossed","program_id":"ae","period":"2026-11","rep_id":%q,"threshold":"%d","attainment":"0.5","event_id":"e%d"}`, rep, k, k))})
		}
		produceAll(b, brokers, rs)
		d, _ := nudge.NewDeliver(nudge.DeliverConfig{Templates: tp, Reps: &tables, Awards: awards, Prefs: prefs, Output: out, Suppressed: sup})
		took := runUntil[nudge.DeliverState](b, brokers, name, []string{nudges, awards, prefs}, nudge.DeliverCodec{}, d, nudges, n)
		b.ReportMetric(n/took.Seconds(), "messages/s")
	}
}
