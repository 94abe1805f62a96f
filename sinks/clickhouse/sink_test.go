package clickhouse

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"

	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// startSink runs a sink until the returned function cancels it; that
// function returns Run's error.
func startSink(t testing.TB, cfg Config) func() error {
	t.Helper()
	s, err := NewSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Minute):
			t.Fatal("sink did not stop within a minute")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestSinkWritesEveryTopic(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Kafka and ClickHouse")
	}
	brokers := pt.RealBrokers(t)
	_, conn := migrated(t)
	tt := newTestTopics(t, brokers, 3)
	want := newExpected()
	produce(t, brokers, tt, 0, 3000, want, 0)
	// Records that fit no row go to sink_rejects, whole.
	pt.ProduceRaw(t, brokers, tt.clean, []byte("k"), []byte(`{"event_id":`))
	pt.ProduceRaw(t, brokers, tt.credited, []byte("k"), []byte(`{"rep_id":"R-1"}`))

	m := NewMetrics(prometheus.NewRegistry())
	group := "chsink-" + tt.clean
	stop := startSink(t, Config{Brokers: brokers, Topics: tt.tables(), Group: group, Conn: conn,
		BatchRows: 1000, BatchInterval: 200 * time.Millisecond, SessionTimeout: 6 * time.Second, Metrics: m})
	waitRows(t, conn, want, 2*time.Minute)
	pt.WaitFor(t, 30*time.Second, "2 rows in sink_rejects", func() bool {
		return count(t, conn, "SELECT count() FROM sink_rejects FINAL") == 2
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, conn, "SELECT count() FROM sink_rejects WHERE raw_value = '{\"event_id\":' AND table_name = 'sales' AND error LIKE '%parse%'"); n != 1 {
		t.Errorf("the unparsable record is not in sink_rejects as it was")
	}
	if n := count(t, conn, "SELECT count() FROM sink_rejects WHERE table_name = 'credits' AND error = 'share is missing'"); n != 1 {
		t.Errorf("the credit without a share is not in sink_rejects with why")
	}
	if err := conn.Exec(context.Background(), "TRUNCATE TABLE sink_rejects"); err != nil {
		t.Fatal(err)
	}
	checkReports(t, conn, want)
	for table, ts := range map[string]string{"sales": "event_time", "credits": "event_time", "rejects": "rejected_at"} {
		if n := count(t, conn, "SELECT count() FROM "+table+" WHERE toYear("+ts+") != 2026 OR kafka_time < toDateTime('2026-01-01 00:00:00')"); n != 0 {
			t.Errorf("%s: %d rows with times that did not round-trip", table, n)
		}
	}
	if n := count(t, conn, "SELECT sum(rows) FROM freshness"); n < uint64(want.events+want.credits+want.rejects) {
		t.Errorf("freshness counts %d arrivals, want at least %d", n, want.events+want.credits+want.rejects)
	}
	if got := testutil.ToFloat64(m.records.WithLabelValues("clickhouse", tt.clean)); got != float64(want.events+1) {
		t.Errorf("records_total{topic=clean} = %v, want %d", got, want.events+1)
	}
	if got := testutil.ToFloat64(m.rejects.WithLabelValues("clickhouse", tt.credited)); got != 1 {
		t.Errorf("rejects_total{topic=credited} = %v, want 1", got)
	}

	// Every partition's committed offset is its end: a restart reads
	// nothing again.
	adm := pt.Admin(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, tt.clean, tt.credited, tt.rejected)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(o.Topic, o.Partition)
		if o.Offset > 0 && (!ok || c.At != o.Offset) {
			t.Errorf("%s/%d: committed %d, end %d", o.Topic, o.Partition, c.At, o.Offset)
		}
	})
}

// While ClickHouse cannot be reached the sink retries, holds at most two
// batches (fetching pauses), commits nothing new, and when ClickHouse is
// back it writes everything.
func TestSinkRidesOutClickHouseOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Kafka and ClickHouse")
	}
	brokers := pt.RealBrokers(t)
	o, conn := migrated(t)
	px := newProxy(t, o.Addr[0])
	po := o
	po.Addr = []string{px.addr}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pconn, err := po.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pconn.Close()
	tt := newTestTopics(t, brokers, 3)
	want := newExpected()
	produce(t, brokers, tt, 0, 300, want, 0)

	const batchRows = 400
	m := NewMetrics(prometheus.NewRegistry())
	s, err := NewSink(Config{Brokers: brokers, Topics: tt.tables(), Group: "chsink-" + tt.clean, Conn: pconn,
		BatchRows: batchRows, BatchInterval: 100 * time.Millisecond, SessionTimeout: 6 * time.Second,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond, InsertTimeout: 5 * time.Second, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(sctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitRows(t, conn, want, time.Minute)

	px.down()
	produce(t, brokers, tt, 300, 3000, want, 0) // ~6,000 records: 15 batches
	paused := m.paused.WithLabelValues("clickhouse")
	pending := m.pending.WithLabelValues("clickhouse")
	pt.WaitFor(t, time.Minute, "fetching paused", func() bool { return testutil.ToFloat64(paused) == 1 })
	time.Sleep(time.Second) // retries go on; nothing more is read
	if p := testutil.ToFloat64(pending); p > 2*batchRows {
		t.Errorf("%v records held while ClickHouse is down, want at most two batches (%d)", p, 2*batchRows)
	}
	if s.Ready() {
		t.Error("ready while inserts fail")
	}
	if got := testutil.ToFloat64(m.inserts.WithLabelValues("clickhouse", "sales", "retried")) +
		testutil.ToFloat64(m.inserts.WithLabelValues("clickhouse", "credits", "retried")) +
		testutil.ToFloat64(m.inserts.WithLabelValues("clickhouse", "rejects", "retried")); got == 0 {
		t.Error("no insert was retried")
	}

	px.up()
	waitRows(t, conn, want, 2*time.Minute)
	checkReports(t, conn, want)
	pt.WaitFor(t, 10*time.Second, "ready again", s.Ready)
}

// Without the tables, the sink refuses to start and says what to run.
func TestSinkRefusesToStartWithoutTables(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Kafka and ClickHouse")
	}
	brokers := pt.RealBrokers(t)
	o := testDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := o.open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Exec(ctx, "CREATE DATABASE "+quoteIdent(o.Database)); err != nil {
		t.Fatal(err)
	}
	conn, err := o.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tt := newTestTopics(t, brokers, 1)
	s, err := NewSink(Config{Brokers: brokers, Topics: tt.tables(), Group: "chsink-" + tt.clean, Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), "accrue clickhouse migrate") {
		t.Fatalf("Run = %v", err)
	}
}

// A topic that does not appear within TopicWait stops the sink before it
// reads anything.
func TestSinkRefusesMissingTopics(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Kafka and ClickHouse")
	}
	brokers := pt.RealBrokers(t)
	_, conn := migrated(t)
	missing := "chsink-missing-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	s, err := NewSink(Config{Brokers: brokers, Topics: map[string]*Table{missing: salesTable}, Group: missing,
		Conn: conn, TopicWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Run = %v", err)
	}
}
