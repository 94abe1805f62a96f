// Package pipelinetest holds what the runtime's tests and benchmarks share:
// finding or faking a broker, creating topics, producing keyed input, reading
// a topic whole, and checking a counting stage's output for exactly-once.
package pipelinetest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	chdriver "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
)

// RealBrokers returns the brokers named by ACCRUE_KAFKA_BROKERS. Without it
// the test is skipped, except under CI=true, where a missing server is a
// failure: CI must never pass by skipping.
func RealBrokers(tb testing.TB) []string {
	tb.Helper()
	if os.Getenv("ACCRUE_KAFKA_BROKERS") == "" && startKafka != nil {
		return startKafka(tb)
	}
	return requireEnv(tb, "ACCRUE_KAFKA_BROKERS", "Kafka (deploy/local/stack.sh up kafka)")
}

// startKafka and startClickHouse start servers in containers; they are set
// only in builds with the "containers" tag (containers.go).
var (
	startKafka      func(testing.TB) []string
	startClickHouse func(testing.TB) string
)

// ClickHouseAddr returns ACCRUE_CLICKHOUSE_ADDR with the same rule as
// RealBrokers.
func ClickHouseAddr(tb testing.TB) string {
	tb.Helper()
	if os.Getenv("ACCRUE_CLICKHOUSE_ADDR") == "" && startClickHouse != nil {
		return startClickHouse(tb)
	}
	return requireEnv(tb, "ACCRUE_CLICKHOUSE_ADDR", "ClickHouse (deploy/local/stack.sh up clickhouse)")[0]
}

func requireEnv(tb testing.TB, name, what string) []string {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: CI needs a real %s", name, what)
		}
		tb.Skipf("%s is not set; start %s to run this test", name, what)
	}
	return splitComma(v)
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// Fake starts an in-process kfake cluster for the test and returns its
// addresses. Topics are created by the caller (CreateTopics), as on a real
// broker.
func Fake(tb testing.TB, opts ...kfake.Opt) (*kfake.Cluster, []string) {
	tb.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c, c.ListenAddrs()
}

// Admin returns a kadm client for brokers, closed at the end of the test.
func Admin(tb testing.TB, brokers []string) *kadm.Client {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// CreateTopics creates topics with partitions each (replication factor 1);
// compacted names get cleanup.policy=compact.
func CreateTopics(tb testing.TB, brokers []string, partitions int32, topics []string, compacted ...string) {
	tb.Helper()
	adm := Admin(tb, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	isCompacted := map[string]bool{}
	for _, t := range compacted {
		isCompacted[t] = true
	}
	for _, t := range append(append([]string{}, topics...), compacted...) {
		var cfg map[string]*string
		if isCompacted[t] {
			c := "compact"
			cfg = map[string]*string{"cleanup.policy": &c}
		}
		resp, err := adm.CreateTopic(ctx, partitions, 1, cfg, t)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			tb.Fatalf("create topic %s: %v", t, err)
		}
	}
	// A new topic's partitions get leaders after CreateTopic answers.
	if err := pipeline.WaitLeaders(ctx, adm, append(append([]string{}, topics...), compacted...)...); err != nil {
		tb.Fatal(err)
	}
}

// Key returns the i-th of n keys.
func Key(i, n int) string { return "k" + strconv.Itoa(i%n) }

// ProduceKeyed writes records keyed Key(i, keys) for i in [from, to), and
// returns the number written per key.
func ProduceKeyed(tb testing.TB, brokers []string, topic string, from, to, keys int) map[string]int64 {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(100000))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	want := map[string]int64{}
	errc := make(chan error, 1)
	for i := from; i < to; i++ {
		k := Key(i, keys)
		want[k]++
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(k), Value: []byte(strconv.Itoa(i))}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		tb.Fatal(err)
	}
	select {
	case err := <-errc:
		tb.Fatalf("produce: %v", err)
	default:
	}
	return want
}

// ReadAll reads topic from the start to its current end as a read_committed
// consumer and returns the records in partition order.
func ReadAll(tb testing.TB, brokers []string, topic string) []*kgo.Record {
	tb.Helper()
	recs, err := ReadTopic(context.Background(), brokers, topic)
	if err != nil {
		tb.Fatal(err)
	}
	return recs
}

// ReadTopic is ReadAll returning an error rather than failing a test.
func ReadTopic(ctx context.Context, brokers []string, topic string) ([]*kgo.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []*kgo.Record
	if err := pipeline.ScanTopic(ctx, cl, brokers, nil, topic, func(r *kgo.Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// CheckCounts checks the output of a counting stage against the number of
// input records per key: for every key the emitted counts must be exactly
// 1..want[key], each once, in order. It returns a description of the first
// problems found, or nil.
func CheckCounts(out []*kgo.Record, want map[string]int64) error {
	seen := map[string]int64{}
	var problems []string
	note := func(f string, a ...any) {
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(f, a...))
		}
	}
	for _, r := range out {
		k := string(r.Key)
		n, err := strconv.ParseInt(string(r.Value), 10, 64)
		if err != nil {
			note("key %s: value %q is not a count", k, r.Value)
			continue
		}
		if n != seen[k]+1 {
			note("key %s: count %d follows %d (offset %d/%d)", k, n, seen[k], r.Partition, r.Offset)
		}
		seen[k] = n
	}
	for k, n := range want {
		if seen[k] != n {
			note("key %s: final count %d, want %d", k, seen[k], n)
		}
	}
	for k := range seen {
		if _, ok := want[k]; !ok {
			note("key %s: counted but never produced", k)
		}
	}
	if len(out) != int(sum(want)) {
		note("%d output records, want %d", len(out), sum(want))
	}
	if len(problems) > 0 {
		return fmt.Errorf("exactly-once violated: %v", problems)
	}
	return nil
}

// LastValues folds a changelog into its last value per key (tombstones
// remove the key).
func LastValues(recs []*kgo.Record) map[string][]byte {
	m := map[string][]byte{}
	for _, r := range recs {
		if r.Value == nil {
			delete(m, string(r.Key))
		} else {
			m[string(r.Key)] = r.Value
		}
	}
	return m
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// WaitFor polls cond every 50ms until it is true or timeout passes.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ProduceRaw writes one record with key and value to topic.
func ProduceRaw(tb testing.TB, brokers []string, topic string, key, value []byte) {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: key, Value: value}).FirstErr(); err != nil {
		tb.Fatal(err)
	}
}

// DropDatabaseAtCleanup drops ClickHouse database db at addr when tb ends,
// reporting a failure to drop it as an error of tb.
func DropDatabaseAtCleanup(tb testing.TB, addr, db string) {
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := chdriver.Open(&chdriver.Options{Addr: []string{addr}, Auth: chdriver.Auth{Database: "system"}})
		if err == nil {
			defer conn.Close()
			err = conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+strings.ReplaceAll(db, "`", "\\`")+"`")
		}
		if err != nil {
			tb.Errorf("drop test database %s: %v", db, err)
		}
	})
}
