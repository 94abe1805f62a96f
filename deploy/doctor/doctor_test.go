package doctor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kversion"

	ddl "github.com/accrue/accrue/deploy/clickhouse"
	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/sinks/clickhouse"
)

// find returns the result of check, failing the test without one.
func find(t *testing.T, rs []Result, check string) Result {
	t.Helper()
	for _, r := range rs {
		if r.Check == check {
			return r
		}
	}
	t.Fatalf("no result for %q in\n%s", check, lines(rs))
	return Result{}
}

// has says whether rs holds check with the given outcome.
func has(rs []Result, check string, ok bool) bool {
	for _, r := range rs {
		if r.Check == check {
			return r.OK == ok && !r.Skipped
		}
	}
	return false
}

func lines(rs []Result) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.String() + "\n")
	}
	return b.String()
}

// testCatalogue is a part of the catalogue under a prefix of its own, so
// that the test can break it without touching the shared broker's topics:
// the accrual stage's co-partitioned topics, a compacted one and a dead
// letter topic.
func testCatalogue(prefix string) ([]pipeline.Topic, []CoPartition) {
	names := map[string]bool{"sales.credited": true, "accrue.overrides": true, "accrue.recompute": true,
		"accrue.changelog": true, "programs": true, "sales.rejected": true}
	var ts []pipeline.Topic
	for _, t := range pipeline.Topics {
		if names[t.Name] {
			t.Name = prefix + t.Name
			ts = append(ts, t)
		}
	}
	g := CoPartition{Stage: "accrue"}
	for _, n := range CoPartitioned[1].Topics {
		g.Topics = append(g.Topics, prefix+n)
	}
	return ts, []CoPartition{g}
}

// TestDoctorKafka runs the Kafka checks on a healthy set of topics, then
// with a topic missing, a co-partitioned topic with another partition
// count, a compacted topic that is not compacted, and a consumer group
// lagging more than allowed.
func TestDoctorKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real Kafka")
	}
	brokers := pt.RealBrokers(t)
	adm := pt.Admin(t, brokers)
	ctx := context.Background()
	prefix := fmt.Sprintf("doctortest-%d-", time.Now().UnixNano())
	topics, groups := testCatalogue(prefix)
	group := prefix + "group"
	var names []string
	for _, tp := range topics {
		names = append(names, tp.Name)
	}
	t.Cleanup(func() {
		_, _ = adm.DeleteGroups(context.Background(), group)
		_, _ = adm.DeleteTopics(context.Background(), names...)
	})
	if _, err := pipeline.CreateTopics(ctx, adm, topics, 2, -1); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Brokers: brokers, Topics: topics, Groups: groups, Lag: true, LagGroups: []string{group}, MaxLag: 5}
	waitFor := func(what string, cond func([]Result) bool) []Result {
		t.Helper()
		var rs []Result
		deadline := time.Now().Add(30 * time.Second)
		for {
			rs = Run(ctx, cfg)
			if cond(rs) {
				return rs
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: never seen; last results:\n%s", what, lines(rs))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	rs := waitFor("healthy", func(rs []Result) bool { return Problems(rs) == 0 })
	if r := find(t, rs, "kafka"); !r.OK || !strings.Contains(r.Message, "broker") {
		t.Errorf("kafka: %s", r)
	}
	if r := find(t, rs, "topics"); !r.OK || !strings.Contains(r.Message, "all 6 topics") {
		t.Errorf("topics: %s", r)
	}
	if r := find(t, rs, "co-partitioning accrue"); !r.OK || !strings.Contains(r.Message, "2 partitions each") {
		t.Errorf("co-partitioning: %s", r)
	}
	if r := find(t, rs, "lag "+group); !r.OK || !strings.Contains(r.Message, "not deployed") {
		t.Errorf("lag of a group that does not exist: %s", r)
	}

	// A consumer group 10 records behind on sales.credited, with --max-lag 5.
	credited := prefix + "sales.credited"
	for i := range 10 {
		pt.ProduceRaw(t, brokers, credited, []byte(fmt.Sprintf("R-%d", i)), []byte("{}"))
	}
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: credited, Partition: 0, At: 0, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: credited, Partition: 1, At: 0, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, group, offs); err != nil {
		t.Fatal(err)
	}
	rs = waitFor("lag", func(rs []Result) bool { return has(rs, "lag "+group, false) })
	if r := find(t, rs, "lag "+group); !strings.Contains(r.Message, "10 records behind") || !strings.Contains(r.Fix, "add instances") {
		t.Errorf("lag: %s", r)
	}
	cfg.Lag = false

	// A missing topic: named, with the command that creates it; its
	// co-partitioning is not checked.
	recompute := prefix + "accrue.recompute"
	if _, err := adm.DeleteTopics(ctx, recompute); err != nil {
		t.Fatal(err)
	}
	rs = waitFor("missing topic", func(rs []Result) bool { return Problems(rs) > 0 })
	if r := find(t, rs, "topics"); r.OK || r.Message != "1 of the catalogue's 6 topics missing: "+recompute ||
		!strings.Contains(r.Fix, "accrue topics create --partitions 2") {
		t.Errorf("missing topic: %s", r)
	}
	if r := find(t, rs, "co-partitioning accrue"); !r.Skipped || !strings.Contains(r.Message, recompute) {
		t.Errorf("co-partitioning with a topic missing: %s", r)
	}
	if n := Problems(rs); n != 1 {
		t.Errorf("want 1 problem, got %d:\n%s", n, lines(rs))
	}

	// The topic back with 1 partition: the others have 2.
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, recompute); err != nil {
		t.Fatal(err)
	}
	rs = waitFor("wrong partition count", func(rs []Result) bool {
		return has(rs, "topics", true) && has(rs, "co-partitioning accrue", false)
	})
	r := find(t, rs, "co-partitioning accrue")
	if r.OK || !strings.Contains(r.Message, recompute+" 1") || !strings.Contains(r.Message, "refuses to start") ||
		!strings.Contains(r.Fix, "--alter --topic "+recompute+" --partitions 2") {
		t.Errorf("co-partitioned topic with another count: %s", r)
	}
	if !strings.HasPrefix(r.String(), "PROBLEM  co-partitioning accrue: ") {
		t.Errorf("line: %s", r)
	}

	// A compacted topic created without compaction.
	programs := prefix + "programs"
	if _, err := adm.DeleteTopics(ctx, programs); err != nil {
		t.Fatal(err)
	}
	waitFor("programs gone", func(rs []Result) bool { return has(rs, "topics", false) })
	if _, err := adm.CreateTopic(ctx, 2, -1, nil, programs); err != nil {
		t.Fatal(err)
	}
	rs = waitFor("wrong cleanup policy", func(rs []Result) bool { return has(rs, "topic "+programs, false) })
	if r := find(t, rs, "topic "+programs); !strings.Contains(r.Message, `"delete"`) || !strings.Contains(r.Fix, "cleanup.policy=compact") {
		t.Errorf("cleanup policy: %s", r)
	}
}

// TestDoctorUnreachable reports servers that do not answer as problems
// and skips what depends on them.
func TestDoctorUnreachable(t *testing.T) {
	rs := Run(context.Background(), Config{Brokers: []string{"127.0.0.1:1"}, Timeout: 2 * time.Second,
		ClickHouse: &clickhouse.Options{Addr: []string{"127.0.0.1:1"}}, Lag: true})
	if n := Problems(rs); n != 2 {
		t.Fatalf("want 2 problems (kafka, clickhouse), got %d:\n%s", n, lines(rs))
	}
	if r := find(t, rs, "kafka"); r.OK || !strings.Contains(r.Fix, "--brokers") {
		t.Errorf("kafka: %s", r)
	}
	for _, c := range []string{"topics", "co-partitioning", "lag", "clickhouse schema"} {
		if r := find(t, rs, c); !r.Skipped {
			t.Errorf("%s should be skipped: %s", c, r)
		}
	}
	if r := find(t, rs, "clickhouse"); r.OK || !strings.Contains(r.Fix, "--clickhouse-addr") {
		t.Errorf("clickhouse: %s", r)
	}
}

// TestDoctorClickHouseSchema checks a database with migrations applied only
// up to an earlier version (behind), one whose applied migration has
// changed since, and one up to date.
func TestDoctorClickHouseSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real ClickHouse")
	}
	addr := pt.ClickHouseAddr(t)
	ctx := context.Background()
	db := fmt.Sprintf("doctortest_%d", time.Now().UnixNano())
	o := clickhouse.Options{Addr: []string{addr}, Database: db}
	pt.DropDatabaseAtCleanup(t, addr, db)
	ms, err := clickhouse.LoadMigrations(ddl.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 3 {
		t.Fatalf("want at least 3 migrations, have %d", len(ms))
	}
	run := func(ms []clickhouse.Migration) Result {
		rs := checkClickHouse(ctx, Config{ClickHouse: &o, Migrations: ms, Timeout: 30 * time.Second})
		if r := find(t, rs, "clickhouse"); !r.OK || !strings.Contains(r.Message, "version") {
			t.Fatalf("clickhouse: %s", r)
		}
		return find(t, rs, "clickhouse schema")
	}

	if r := run(ms); r.OK || !strings.Contains(r.Message, "no migration applied") {
		t.Errorf("database missing: %s", r)
	}
	// Applied up to the second migration only.
	if _, err := clickhouse.Migrate(ctx, o, ms[:2], clickhouse.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := run(ms)
	if r.OK || !strings.Contains(r.Message, "behind") || !strings.Contains(r.Message, "at "+ms[1].Name) ||
		!strings.Contains(r.Message, fmt.Sprintf("%d pending: %s", len(ms)-2, ms[2].Name)) ||
		r.Fix != "accrue clickhouse migrate --database "+db {
		t.Errorf("schema behind: %s", r)
	}
	// An applied migration edited since.
	changed := append([]clickhouse.Migration(nil), ms...)
	changed[1].Checksum = strings.Repeat("0", 64)
	if r := run(changed); r.OK || !strings.Contains(r.Message, ms[1].Name) || !strings.Contains(r.Fix, "new migration") {
		t.Errorf("changed migration: %s", r)
	}
	if _, err := clickhouse.Migrate(ctx, o, ms, clickhouse.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := run(ms); !r.OK || !strings.Contains(r.Message, fmt.Sprintf("all %d migrations", len(ms))) ||
		strings.Contains(r.Message, "newer") {
		t.Errorf("up to date: %s", r)
	}
	// A binary older than the schema: healthy, and said.
	if r := run(ms[:len(ms)-1]); !r.OK || !strings.Contains(r.Message, "1 newer than this binary ("+ms[len(ms)-1].Name+")") {
		t.Errorf("older binary: %s", r)
	}
}

// TestDoctorOldBroker reports brokers that predate KIP-447 (Kafka 2.5):
// the stages' transactions need it. A fake cluster speaks 2.4's protocol.
func TestDoctorOldBroker(t *testing.T) {
	for _, c := range []struct {
		v  *kversion.Versions
		ok bool
	}{{kversion.V2_4_0(), false}, {kversion.V2_5_0(), true}} {
		_, brokers := pt.Fake(t, kfake.MaxVersions(c.v))
		rs := Run(context.Background(), Config{Brokers: brokers, Topics: []pipeline.Topic{}, Groups: []CoPartition{},
			Timeout: 5 * time.Second})
		r := find(t, rs, "kafka")
		if r.OK != c.ok || (!c.ok && !strings.Contains(r.Message, "need Kafka 2.5 or later")) {
			t.Errorf("broker speaking %v: %s", c.v.VersionGuess(), r)
		}
	}
}
