package benchmarks

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// BenchmarkRuntimeVsPlain measures the records/s of a pipeline.Stage with a
// trivial operator (re-emit each record) against a hand-written franz-go
// GroupTransactSession consume-transform-produce loop doing the same, with
// the same client settings, alternating in one run so that both see the
// same machine. It reports both rates and their ratio (stage/plain).
//
//	go test ./benchmarks -run '^$' -bench RuntimeVsPlain -benchtime 3x
//
// The kafka case needs ACCRUE_KAFKA_BROKERS (deploy/local/stack.sh up kafka).
func BenchmarkRuntimeVsPlain(b *testing.B) {
	b.Run("kfake", func(b *testing.B) {
		_, brokers := pt.Fake(b)
		runVersus(b, brokers, 300_000)
	})
	b.Run("kafka", func(b *testing.B) {
		runVersus(b, pt.RealBrokers(b), 300_000)
	})
}

const (
	benchPartitions = 6
	benchBatch      = 10_000
	benchValueBytes = 100
)

func runVersus(b *testing.B, brokers []string, n int) {
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	input := "bench-in-" + suffix
	pt.CreateTopics(b, brokers, benchPartitions, []string{input})
	produceInput(b, brokers, input, n)

	var plainDur, stageDur time.Duration
	v := newVersus(b, "go test ./benchmarks -run '^$' -bench RuntimeVsPlain -benchtime 3x",
		map[string]any{"records": n, "value_bytes": benchValueBytes, "partitions": benchPartitions, "batch": benchBatch}, "copy", "plain")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		round := fmt.Sprintf("%s-%d", suffix, i)
		d := runPlain(b, brokers, input, round, n)
		plainDur += d
		v.add(i, "plain", n, d)
		d = runStage(b, brokers, input, round, n)
		stageDur += d
		v.add(i, "stage", n, d)
	}
	b.StopTimer()
	plain := float64(n*b.N) / plainDur.Seconds()
	stage := float64(n*b.N) / stageDur.Seconds()
	b.ReportMetric(plain, "plain_rec/s")
	b.ReportMetric(stage, "stage_rec/s")
	b.ReportMetric(stage/plain, "ratio")
	b.ReportMetric(0, "ns/op") // the rates above are the figures
	v.write(brokers, nil)
}

func produceInput(b *testing.B, brokers []string, topic string, n int) {
	val := make([]byte, benchValueBytes)
	for i := range val {
		val[i] = 'a' + byte(i%26)
	}
	produceEach(b, brokers, func(produce func(*kgo.Record)) {
		for i := 0; i < n; i++ {
			produce(&kgo.Record{Topic: topic, Key: []byte(pt.Key(i, 10_000)), Value: val})
		}
	})
}

// commonOpts are the client settings both contenders use (the stage sets
// the same ones internally).
func commonOpts(brokers []string, group, txnID string, inputs ...string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(inputs...),
		kgo.TransactionalID(txnID),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.ProducerLinger(0),
		kgo.TransactionTimeout(20 * time.Second),
		kgo.SessionTimeout(15 * time.Second),
		kgo.HeartbeatInterval(3 * time.Second),
	}
}

// runPlain is the baseline: the consume-transform-produce loop of franz-go's
// GroupTransactSession documentation. The clock starts at the first record.
func runPlain(b *testing.B, brokers []string, input, round string, n int) time.Duration {
	output := "bench-plain-out-" + round
	pt.CreateTopics(b, brokers, benchPartitions, []string{output})
	return plainCTP(b, brokers, []string{input}, output, "bench-plain-"+round, int64(n))
}

// runStage runs the same work through pipeline.Stage with a trivial
// operator that re-emits each record.
func runStage(b *testing.B, brokers []string, input, round string, n int) time.Duration {
	output := "bench-stage-" + round + "-out"
	return timeStage(b, brokers, input, "bench-stage-"+round, n, []string{output},
		pipeline.ProcessorFunc[int64](func(c *pipeline.Context[int64], r *kgo.Record) error {
			c.Emit(output, r.Key, r.Value)
			return nil
		}))
}

// timeStage runs proc in a stage named name over input until n input
// records are committed, and returns the time from the first record
// processed to then. outputs are created first.
func timeStage(b *testing.B, brokers []string, input, name string, n int, outputs []string, proc pipeline.Processor[int64]) time.Duration {
	return timeStageOf(b, brokers, input, name, n, outputs, pipeline.Int64Codec{}, proc)
}
