package benchmarks

import (
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/benchmarks/report"
)

// versus is the report of a benchmark that times contenders on the same
// input in each round (accrue against plain franz-go, a trivial stage,
// Kafka Streams, ClickHouse's Kafka engine): every contender's records and
// time per round, each compared with the baselines of its round, written
// as results/<benchmark>.json and printed as a table and as JSON, like the
// harness's own benchmarks.
type versus struct {
	b         *testing.B
	rep       *report.Report
	stage     string
	baselines []string
	rounds    int
}

// newVersus starts the report of b (named after it: BenchmarkX/kafka/n=1
// is X-kafka-n1), whose contenders work on stage's input; baselines are
// the contenders the others are compared with, in order.
func newVersus(b *testing.B, command string, settings map[string]any, stage string, baselines ...string) *versus {
	name := strings.NewReplacer("/", "-", "=", "").Replace(strings.TrimPrefix(b.Name(), "Benchmark"))
	return &versus{b: b, rep: report.New(name, command, settings), stage: stage, baselines: baselines}
}

// add records that run, a contender, did records in d in round.
func (v *versus) add(round int, run string, records int, d time.Duration) {
	v.rep.Add(round, v.stage, run, int64(records), d)
	v.rounds = max(v.rounds, round+1)
}

// write compares every round's contenders with its baselines, adds facts
// and the version the brokers answer with, and writes the report.
func (v *versus) write(brokers []string, facts map[string]any) {
	for r := range v.rounds {
		v.rep.Compare(r, v.stage, v.baselines...)
	}
	for k, x := range facts {
		v.rep.Facts[k] = x
	}
	v.rep.Machine.Kafka = brokerVersion(v.b, brokers)
	writeReport(v.b, v.rep)
}
