package benchmarks

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	ddl "github.com/accrue/accrue/deploy/clickhouse"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/sinks/clickhouse"
)

// BenchmarkClickHouseSink measures the rows/s the ClickHouse sink writes
// clean sales (table sales, 22 columns) from a Kafka topic, against a plain
// clickhouse-go batch insert of the same rows (PrepareBatch with the same
// column list, Append per row, Send per 50,000 rows) from memory,
// alternating in one run. It reports both rates and their ratio
// (sink/plain), then runs the sink again with records arriving at 25%, 50%
// and 90% of its measured rate and reports the latency from each record's
// Kafka timestamp to ClickHouse's acknowledgement of its row (p50, p99).
//
//	go test ./benchmarks -run '^$' -bench ClickHouseSink -benchtime 3x
//
// Needs ACCRUE_KAFKA_BROKERS and ACCRUE_CLICKHOUSE_ADDR
// (deploy/local/stack.sh up).
func BenchmarkClickHouseSink(b *testing.B) {
	brokers := pt.RealBrokers(b)
	o := benchDatabase(b)
	conn, err := o.Open(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()

	const n = 300_000
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	topic := "bench-sales-" + suffix
	pt.CreateTopics(b, brokers, benchPartitions, []string{topic})
	produceSales(b, brokers, topic, 0, n, 0)
	rows := salesRows(b, pt.ReadAll(b, brokers, topic))

	var plainDur, sinkDur time.Duration
	v := newVersus(b, "go test ./benchmarks -run '^$' -bench ClickHouseSink -benchtime 3x",
		map[string]any{"rows": n, "table": "sales", "partitions": benchPartitions}, "sales", "plain insert")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		truncate(b, conn, "sales")
		d := plainInsert(b, conn, rows)
		plainDur += d
		v.add(i, "plain insert", n, d)
		truncate(b, conn, "sales")
		d = sinkRun(b, brokers, conn, topic, fmt.Sprintf("bench-sink-%s-%d", suffix, i), n)
		sinkDur += d
		v.add(i, "sink", n, d)
	}
	b.StopTimer()
	plain := float64(n*b.N) / plainDur.Seconds()
	sink := float64(n*b.N) / sinkDur.Seconds()
	b.ReportMetric(plain, "plain_rows/s")
	b.ReportMetric(sink, "sink_rows/s")
	b.ReportMetric(sink/plain, "ratio")

	// Latency from a sale's produce to its row acknowledged by ClickHouse,
	// at each load of loads, a fraction of the sink's rate measured above.
	lat := map[string]any{}
	for _, f := range loads {
		p50, p99 := sinkLatency(b, brokers, conn, fmt.Sprintf("%s-%.0f", suffix, f*100), sink*f, 20*time.Second)
		b.ReportMetric(float64(p50.Milliseconds()), fmt.Sprintf("p50_ms@%.0f%%", f*100))
		b.ReportMetric(float64(p99.Milliseconds()), fmt.Sprintf("p99_ms@%.0f%%", f*100))
		lat[fmt.Sprintf("%.0f%% load", f*100)] = map[string]any{"offered_per_s": round(sink*f, 0),
			"p50_ms": p50.Milliseconds(), "p99_ms": p99.Milliseconds()}
	}
	b.ReportMetric(0, "ns/op") // the rates above are the figures
	v.write(brokers, map[string]any{"latency": lat})
}

// benchDatabase migrates a database of its own and drops it at the end.
func benchDatabase(b *testing.B) clickhouse.Options {
	o := clickhouse.Options{Addr: []string{pt.ClickHouseAddr(b)}, Database: fmt.Sprintf("accrue_bench_%d", time.Now().UnixNano())}
	ms, err := clickhouse.LoadMigrations(ddl.Migrations)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := clickhouse.Migrate(ctx, o, ms, clickhouse.MigrateOptions{}); err != nil {
		b.Fatal(err)
	}
	pt.DropDatabaseAtCleanup(b, o.Addr[0], o.Database)
	return o
}

func truncate(b *testing.B, conn driver.Conn, table string) {
	if err := conn.Exec(context.Background(), "TRUNCATE TABLE "+table); err != nil {
		b.Fatal(err)
	}
}

// benchSale is the i-th sale: a CRM-like event with an account, a product,
// a quantity and an attribute.
func benchSale(i int) canonical.Event {
	return canonical.Event{
		Source: "crm-na", TxnID: "O-" + strconv.Itoa(i), Type: canonical.Sale,
		EventTime: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
		RepID:     "R-" + strconv.Itoa(i%5000), AccountID: "A-" + strconv.Itoa(i%20000), ProductID: "P-" + strconv.Itoa(i%300),
		Quantity:   decimal.NewNullDecimal(decimal.New(int64(1+i%5), 0)),
		Amount:     canonical.Money{Value: decimal.New(int64(10000+i*37%900000), -2), Currency: "USD"},
		Attributes: map[string]string{"channel": "online"},
	}
}

// produceSales writes sales [from, to) to topic; rate > 0 paces them at
// that many a second.
func produceSales(b *testing.B, brokers []string, topic string, from, to int, rate float64) {
	produceEach(b, brokers, func(produce func(*kgo.Record)) {
		start := time.Now()
		for i := from; i < to; i++ {
			e := benchSale(i)
			produce(&kgo.Record{Topic: topic, Key: []byte(e.Key()), Value: e.AppendJSON(nil)})
			if rate > 0 && i%100 == 99 {
				if ahead := time.Duration(float64(i-from+1)/rate*float64(time.Second)) - time.Since(start); ahead > 0 {
					time.Sleep(ahead)
				}
			}
		}
	}, kgo.UnknownTopicRetries(50))
}

// saleRow is one row of table sales as the plain insert appends it.
type saleRow struct {
	eventID, source, txnID, typ, refTxnID string
	eventTime                             time.Time
	repID, accountID, productID           string
	quantity                              *decimal.Decimal
	amount                                decimal.Decimal
	currency                              string
	margin                                *decimal.Decimal
	marginCurrency                        string
	splitReps                             []string
	splitShares                           []decimal.Decimal
	attrKeys, attrValues                  []string
	topic                                 string
	partition                             int32
	offset                                int64
	kafkaTime                             time.Time
}

// salesRows decodes the records into rows, outside the clock.
func salesRows(b *testing.B, recs []*kgo.Record) []saleRow {
	out := make([]saleRow, 0, len(recs))
	for _, r := range recs {
		var e canonical.Event
		if err := json.Unmarshal(r.Value, &e); err != nil {
			b.Fatal(err)
		}
		row := saleRow{eventID: e.EventID, source: e.Source, txnID: e.TxnID, typ: string(e.Type), refTxnID: e.RefTxnID,
			eventTime: e.EventTime, repID: e.RepID, accountID: e.AccountID, productID: e.ProductID,
			amount: e.Amount.Value, currency: e.Amount.Currency,
			topic: r.Topic, partition: r.Partition, offset: r.Offset, kafkaTime: r.Timestamp}
		if e.Quantity.Valid {
			q := e.Quantity.Decimal
			row.quantity = &q
		}
		keys := make([]string, 0, len(e.Attributes))
		for k := range e.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			row.attrKeys = append(row.attrKeys, k)
			row.attrValues = append(row.attrValues, e.Attributes[k])
		}
		out = append(out, row)
	}
	return out
}

// plainInsert is the baseline: clickhouse-go's batch API as its
// documentation shows it, with the sink's column list and batch size.
func plainInsert(b *testing.B, conn driver.Conn, rows []saleRow) time.Duration {
	ctx := context.Background()
	insert := clickhouse.Tables["sales.clean"].Insert()
	start := time.Now()
	for from := 0; from < len(rows); from += 50_000 {
		batch, err := conn.PrepareBatch(ctx, insert)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rows[from:min(from+50_000, len(rows))] {
			if err := batch.Append(r.eventID, r.source, r.txnID, r.typ, r.refTxnID, r.eventTime,
				r.repID, r.accountID, r.productID, r.quantity, r.amount, r.currency,
				r.margin, r.marginCurrency, r.splitReps, r.splitShares, r.attrKeys, r.attrValues,
				r.topic, r.partition, r.offset, r.kafkaTime); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Send(); err != nil {
			b.Fatal(err)
		}
		batch.Close()
	}
	return time.Since(start)
}

// firstFetch records when the sink's client buffered its first record.
type firstFetch struct{ at atomic.Int64 }

func (f *firstFetch) OnFetchRecordBuffered(*kgo.Record) {
	if f.at.Load() == 0 {
		f.at.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// sinkRun runs the sink over topic, as `accrue sink clickhouse` would
// (batches of 50,000, 1s), with a fresh group, until n records are
// acknowledged; the clock runs from the first record fetched to the last
// acknowledgement.
func sinkRun(b *testing.B, brokers []string, conn driver.Conn, topic, group string, n int) time.Duration {
	s := startSink(b, brokers, conn, map[string]*clickhouse.Table{topic: clickhouse.Tables["sales.clean"]}, group, nil)
	d := s.wait(b, func() bool { return s.acked.Load() >= int64(n) })
	s.stop(b)
	return d
}

// sinkLatency runs the sink while records arrive at rate a second for d,
// and returns the p50 and p99 of the time from each record's Kafka
// timestamp (set when it was produced) to ClickHouse's acknowledgement.
func sinkLatency(b *testing.B, brokers []string, conn driver.Conn, suffix string, rate float64, d time.Duration) (p50, p99 time.Duration) {
	topic := "bench-sales-live-" + suffix
	pt.CreateTopics(b, brokers, benchPartitions, []string{topic})
	truncate(b, conn, "sales")
	n := int(rate * d.Seconds())
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	s := startSink(b, brokers, conn, map[string]*clickhouse.Table{topic: clickhouse.Tables["sales.clean"]}, "bench-sink-live-"+suffix,
		func(a clickhouse.Ack) {
			mu.Lock()
			defer mu.Unlock()
			for _, ts := range a.KafkaTimes {
				for _, t := range ts {
					lat = append(lat, a.At.Sub(t))
				}
			}
		})
	time.Sleep(3 * time.Second) // joined and idle: the clock is the records'
	produceSales(b, brokers, topic, 0, n, rate)
	s.wait(b, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(lat) >= n
	})
	s.stop(b)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.Logf("latency at %.0f records/s over %v: p50 %v, p99 %v, max %v", rate, d, lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
	return lat[len(lat)/2], lat[len(lat)*99/100]
}
