package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/pipeline/counter"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// TestDeadLetterExportFixReplay sends keyless records to the dead-letter
// topic, exports them as JSON lines, fixes them (gives them a key) and
// replays them: the stage then counts them, and the replayed records say
// where they came from.
func TestDeadLetterExportFixReplay(t *testing.T) {
	_, brokers := pt.Fake(t)
	setup(t, brokers, 2)
	pt.ProduceRaw(t, brokers, in, nil, []byte("first"))
	pt.ProduceRaw(t, brokers, in, nil, []byte{0xff, 0xfe}) // not text: exported as base64
	pt.ProduceKeyed(t, brokers, in, 0, 10, 2)

	stop := running(t, newCounter(t, brokers, "a", nil))
	pt.WaitFor(t, 30*time.Second, "dead letters", func() bool { return len(pt.ReadAll(t, brokers, dlq)) == 2 })

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()

	var exported bytes.Buffer
	enc := json.NewEncoder(&exported)
	err = pipeline.ReadDeadLetters(ctx, cl, brokers, nil, dlq, pipeline.DeadLetterFilter{Reason: counter.ReasonMissingKey},
		func(d pipeline.DeadLetter) error {
			if d.SourceTopic != in || d.Field != "key" || d.Message == "" {
				t.Errorf("exported dead letter lacks its place or reason: %+v", d)
			}
			d.Key = "fixed" // the correction
			return enc.Encode(d)
		})
	if err != nil {
		t.Fatal(err)
	}
	var none int
	_ = pipeline.ReadDeadLetters(ctx, cl, brokers, nil, dlq, pipeline.DeadLetterFilter{Reason: "other"},
		func(pipeline.DeadLetter) error { none++; return nil })
	if none != 0 {
		t.Errorf("reason filter let %d through", none)
	}

	res, err := pipeline.Replay(ctx, cl, "", pipeline.DeadLetterLines(&exported))
	if err != nil || res.Replayed != 2 || res.ByTopic[in] != 2 {
		t.Fatalf("replay: %+v %v", res, err)
	}
	recs := waitOutput(t, brokers, 12)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"k0": 5, "k1": 5, "fixed": 2}
	if err := pt.CheckCounts(recs, want); err != nil {
		t.Fatal(err)
	}
	replayed := 0
	for _, r := range pt.ReadAll(t, brokers, in) {
		if from, ok := pipeline.Header(r, pipeline.HeaderReplayedFrom); ok {
			replayed++
			if from == "" || (string(r.Value) != "first" && !bytes.Equal(r.Value, []byte{0xff, 0xfe})) {
				t.Errorf("replayed record %q from %q", r.Value, from)
			}
		}
	}
	if replayed != 2 {
		t.Errorf("%d replayed records on the source topic, want 2", replayed)
	}
}

// TestContextDeadLetterForPartOfARecord rejects one line of a two-line
// record: the other line is processed, the rejected one is kept with its
// line, and the reject is counted.
func TestContextDeadLetterForPartOfARecord(t *testing.T) {
	_, brokers := pt.Fake(t)
	setup(t, brokers, 1)
	pt.ProduceRaw(t, brokers, in, []byte("k"), []byte("good\nbad"))
	met := pipeline.NewMetrics(prometheus.NewRegistry())
	s, err := pipeline.NewStage[int64](pipeline.Config{Name: "count", Brokers: brokers, Inputs: []string{in}, Metrics: met},
		pipeline.Int64Codec{}, pipeline.ProcessorFunc[int64](func(c *pipeline.Context[int64], r *kgo.Record) error {
			for i, line := range bytes.Split(r.Value, []byte("\n")) {
				if string(line) == "bad" {
					c.DeadLetter(r, line, pipeline.Rejectf("bad_line", "line", "line %d is bad", i+1),
						kgo.RecordHeader{Key: "accrue.source.line", Value: []byte(strconv.Itoa(i + 1))})
					continue
				}
				c.Emit(out, r.Key, line)
			}
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	recs := waitOutput(t, brokers, 1)
	pt.WaitFor(t, 30*time.Second, "dead letter", func() bool { return len(pt.ReadAll(t, brokers, dlq)) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if string(recs[0].Value) != "good" {
		t.Errorf("output %q", recs[0].Value)
	}
	d := pipeline.DeadLetterFrom(pt.ReadAll(t, brokers, dlq)[0])
	if d.Reason != "bad_line" || d.Field != "line" || *d.Value != "bad" || d.SourceTopic != in || d.Headers["accrue.source.line"] != "2" {
		t.Errorf("dead letter %+v", d)
	}
	if got := testutil.ToFloat64(met.Rejects("count", "bad_line")); got != 1 {
		t.Errorf("rejects metric %v", got)
	}
}
