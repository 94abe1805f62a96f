package benchmarks

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// BenchmarkClickHouseKafkaEngine measures the rows/s the ClickHouse sink
// writes 300,000 clean sales into table sales, against ClickHouse's own
// Kafka table engine (ENGINE = Kafka, one consumer, blocks of 50,000, and a
// materialized view into the same table sales), alternating in one run:
//
//   - sink: as in BenchmarkClickHouseSink, from the first record fetched to
//     the last acknowledgement;
//   - engine_flat: the engine reading JSONEachRow from a second topic that
//     holds the same rows flattened to the table's columns (the canonical
//     JSON nests amount, margin, splits and attributes, which 18.16's
//     JSONEachRow cannot map onto columns), each record in the partition of
//     its canonical original and carrying its topic, partition, offset and
//     timestamp, so that the rows are the sink's rows column for column;
//   - engine_raw: the engine reading the sink's own topic, each record a
//     single String column (TSV, one record a line), the view extracting the
//     columns with visitParamExtract* (18.16 has no JSONExtract); the four
//     kafka_* columns are not available to a view on 18.16 (no virtual
//     columns), so they hold the topic and zeros.
//
// The engine's clock runs from its consumer group becoming Stable (it is
// assigned the partitions and fetches next) to the first count() of the
// table that sees every row, polled every 20ms. Each run checks the table
// then holds exactly the topic's rows, with the same checksum of the data
// columns as the sink's. It reports the three rates and the ratios sink/engine.
//
//	go test ./benchmarks -run '^$' -bench ClickHouseKafkaEngine -benchtime 3x
//
// Needs ACCRUE_KAFKA_BROKERS and ACCRUE_CLICKHOUSE_ADDR (deploy/local/stack.sh
// up); ACCRUE_CLICKHOUSE_KAFKA_BROKERS names the brokers as the ClickHouse
// server reaches them when that differs (containers).
func BenchmarkClickHouseKafkaEngine(b *testing.B) {
	brokers := pt.RealBrokers(b)
	o := benchDatabase(b)
	conn, err := o.Open(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	serverBrokers := brokers
	if v := os.Getenv("ACCRUE_CLICKHOUSE_KAFKA_BROKERS"); v != "" {
		serverBrokers = strings.Split(v, ",")
	}

	const n = 300_000
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	topic, flat := "bench-sales-"+suffix, "bench-sales-flat-"+suffix
	pt.CreateTopics(b, brokers, benchPartitions, []string{topic, flat})
	adm := pt.Admin(b, brokers)
	b.Cleanup(func() { deleteTopics(b, adm, topic, flat) })
	produceSales(b, brokers, topic, 0, n, 0)
	rows := salesRows(b, pt.ReadAll(b, brokers, topic))
	produceFlat(b, brokers, flat, rows)

	engine := func(kind, topic string, i int) time.Duration {
		e := kafkaEngine{db: o.Database, kind: kind, brokers: serverBrokers, topic: topic,
			group: fmt.Sprintf("bench-chkafka-%s-%s-%d", kind, suffix, i), partitions: benchPartitions, consumers: 1}
		return e.run(b, conn, adm, n)
	}
	var sinkDur, flatDur, rawDur time.Duration
	var want salesSum
	v := newVersus(b, "go test ./benchmarks -run '^$' -bench ClickHouseKafkaEngine -benchtime 3x",
		map[string]any{"rows": n, "table": "sales", "partitions": benchPartitions}, "sales", "engine (flat topic)", "engine (raw topic)")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		truncate(b, conn, "sales")
		group := fmt.Sprintf("bench-sink-%s-%d", suffix, i)
		d := sinkRun(b, brokers, conn, topic, group, n)
		sinkDur += d
		v.add(i, "sink", n, d)
		if _, err := adm.DeleteGroup(context.Background(), group); err != nil {
			b.Logf("delete group %s: %v", group, err)
		}
		want = checkSales(b, conn, n, want, true)
		truncate(b, conn, "sales")
		d = engine("flat", flat, i)
		flatDur += d
		v.add(i, "engine (flat topic)", n, d)
		checkSales(b, conn, n, want, true)
		truncate(b, conn, "sales")
		d = engine("raw", topic, i)
		rawDur += d
		v.add(i, "engine (raw topic)", n, d)
		checkSales(b, conn, n, want, false)
	}
	b.StopTimer()
	rate := func(d time.Duration) float64 { return float64(n*b.N) / d.Seconds() }
	b.ReportMetric(rate(sinkDur), "sink_rows/s")
	b.ReportMetric(rate(flatDur), "engine_flat_rows/s")
	b.ReportMetric(rate(rawDur), "engine_raw_rows/s")
	b.ReportMetric(rate(sinkDur)/rate(flatDur), "sink/flat")
	b.ReportMetric(rate(sinkDur)/rate(rawDur), "sink/raw")
	b.ReportMetric(0, "ns/op") // the rates above are the figures
	v.write(brokers, nil)
}

func deleteTopics(b *testing.B, adm *kadm.Client, topics ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resps, err := adm.DeleteTopics(ctx, topics...)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		b.Errorf("delete topics %v: %v", topics, err)
	}
}

// flatSale is a row of table sales as JSONEachRow reads it on 18.16:
// decimals as JSON numbers, DateTime as "YYYY-MM-DD hh:mm:ss" (UTC, the
// columns' zone), arrays never null.
type flatSale struct {
	EventID         string        `json:"event_id"`
	Source          string        `json:"source"`
	TxnID           string        `json:"txn_id"`
	Type            string        `json:"type"`
	RefTxnID        string        `json:"ref_txn_id"`
	EventTime       string        `json:"event_time"`
	RepID           string        `json:"rep_id"`
	AccountID       string        `json:"account_id"`
	ProductID       string        `json:"product_id"`
	Quantity        *json.Number  `json:"quantity"`
	Amount          json.Number   `json:"amount"`
	Currency        string        `json:"currency"`
	Margin          *json.Number  `json:"margin"`
	MarginCurrency  string        `json:"margin_currency"`
	SplitRepIDs     []string      `json:"split_rep_ids"`
	SplitShares     []json.Number `json:"split_shares"`
	AttributeKeys   []string      `json:"attribute_keys"`
	AttributeValues []string      `json:"attribute_values"`
	KafkaTopic      string        `json:"kafka_topic"`
	KafkaPartition  int32         `json:"kafka_partition"`
	KafkaOffset     int64         `json:"kafka_offset"`
	KafkaTime       string        `json:"kafka_time"`
}

const chDateTime = "2006-01-02 15:04:05"

// produceFlat writes rows to topic as flatSale JSON, each to the partition
// of the record it was decoded from.
func produceFlat(b *testing.B, brokers []string, topic string, rows []saleRow) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MaxBufferedRecords(200_000),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.UnknownTopicRetries(50))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	num := func(d *decimal.Decimal) *json.Number {
		if d == nil {
			return nil
		}
		s := json.Number(canonical.AppendDecimal(nil, *d))
		return &s
	}
	ctx := context.Background()
	for _, r := range rows {
		f := flatSale{EventID: r.eventID, Source: r.source, TxnID: r.txnID, Type: r.typ, RefTxnID: r.refTxnID,
			EventTime: r.eventTime.UTC().Format(chDateTime), RepID: r.repID, AccountID: r.accountID, ProductID: r.productID,
			Quantity: num(r.quantity), Amount: *num(&r.amount), Currency: r.currency, Margin: num(r.margin), MarginCurrency: r.marginCurrency,
			SplitRepIDs: nonNil(r.splitReps), SplitShares: []json.Number{}, AttributeKeys: nonNil(r.attrKeys), AttributeValues: nonNil(r.attrValues),
			KafkaTopic: r.topic, KafkaPartition: r.partition, KafkaOffset: r.offset, KafkaTime: r.kafkaTime.UTC().Format(chDateTime)}
		for i := range r.splitShares {
			f.SplitShares = append(f.SplitShares, *num(&r.splitShares[i]))
		}
		v, err := json.Marshal(f)
		if err != nil {
			b.Fatal(err)
		}
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: r.partition, Value: v}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// kafkaEngine is one ingestion by ClickHouse's Kafka table engine into
// table sales of db.
type kafkaEngine struct {
	db, kind   string // kind: "flat" or "raw"
	brokers    []string
	topic      string
	group      string
	partitions int32
	consumers  int
}

// salesColumns are the columns of table sales the sink fills, in its order.
// A view on 18.16 must also give inserted_at: pushing to it does not apply
// the column's DEFAULT.
const salesColumns = `event_id, source, txn_id, type, ref_txn_id, event_time, rep_id, account_id, product_id,
	quantity, amount, currency, margin, margin_currency, split_rep_ids, split_shares, attribute_keys, attribute_values,
	kafka_topic, kafka_partition, kafka_offset, kafka_time`

// ddl returns the engine table's and the view's CREATE statements.
func (e kafkaEngine) ddl() (table, view string) {
	settings := fmt.Sprintf(`kafka_broker_list = '%s', kafka_topic_list = '%s', kafka_group_name = '%s',
	kafka_num_consumers = %d, kafka_max_block_size = 50000, kafka_row_delimiter = '\n'`,
		strings.Join(e.brokers, ","), e.topic, e.group, e.consumers)
	name := e.db + ".kafka_" + e.kind
	switch e.kind {
	case "flat":
		table = `CREATE TABLE ` + name + ` (
	event_id String, source String, txn_id String, type String, ref_txn_id String, event_time DateTime('UTC'),
	rep_id String, account_id String, product_id String, quantity Nullable(Decimal(38, 10)), amount Decimal(38, 10),
	currency String, margin Nullable(Decimal(38, 10)), margin_currency String, split_rep_ids Array(String),
	split_shares Array(Decimal(38, 18)), attribute_keys Array(String), attribute_values Array(String),
	kafka_topic String, kafka_partition Int32, kafka_offset Int64, kafka_time DateTime('UTC')
) ENGINE = Kafka SETTINGS kafka_format = 'JSONEachRow', ` + settings
		view = `CREATE MATERIALIZED VIEW ` + e.db + `.kafka_flat_mv TO ` + e.db + `.sales AS SELECT ` + salesColumns + `, now() AS inserted_at FROM ` + name
	case "raw":
		// The canonical JSON as written by canonical.Event.AppendJSON:
		// top-level fields before nested ones, so that the first "rep_id"
		// is the event's and not a split's; strings without escapes, which
		// both TSV and these extractions would mangle. if() evaluates
		// both branches on 18.16, and it has no toDecimal128OrNull: an
		// absent decimal is parsed as '0' and then replaced by NULL.
		table = `CREATE TABLE ` + name + ` (raw String) ENGINE = Kafka SETTINGS kafka_format = 'TSV', ` + settings
		view = `CREATE MATERIALIZED VIEW ` + e.db + `.kafka_raw_mv TO ` + e.db + `.sales AS SELECT
	visitParamExtractString(raw, 'event_id') AS event_id,
	visitParamExtractString(raw, 'source') AS source,
	visitParamExtractString(raw, 'txn_id') AS txn_id,
	visitParamExtractString(raw, 'type') AS type,
	visitParamExtractString(raw, 'ref_txn_id') AS ref_txn_id,
	toDateTime(parseDateTimeBestEffort(visitParamExtractString(raw, 'event_time')), 'UTC') AS event_time,
	visitParamExtractString(raw, 'rep_id') AS rep_id,
	visitParamExtractString(raw, 'account_id') AS account_id,
	visitParamExtractString(raw, 'product_id') AS product_id,
	if((visitParamExtractString(raw, 'quantity') AS quantity_s) = '', NULL,
		toNullable(toDecimal128(if(quantity_s = '', '0', quantity_s), 10))) AS quantity,
	toDecimal128(visitParamExtractString(visitParamExtractRaw(raw, 'amount') AS amount_json, 'value'), 10) AS amount,
	visitParamExtractString(amount_json, 'currency') AS currency,
	if((visitParamExtractRaw(raw, 'margin') AS margin_json) = '', NULL,
		toNullable(toDecimal128(if((visitParamExtractString(margin_json, 'value') AS margin_s) = '', '0', margin_s), 10))) AS margin,
	visitParamExtractString(margin_json, 'currency') AS margin_currency,
	extractAll(visitParamExtractRaw(raw, 'splits') AS splits_json, '"rep_id":"([^"]*)"') AS split_rep_ids,
	arrayMap(s -> toDecimal128(s, 18), extractAll(splits_json, '"share":"([^"]*)"')) AS split_shares,
	extractAll(visitParamExtractRaw(raw, 'attributes') AS attributes_json, '"([^"]*)":') AS attribute_keys,
	extractAll(attributes_json, ':"([^"]*)"') AS attribute_values,
	'` + e.topic + `' AS kafka_topic, toInt32(0) AS kafka_partition, toInt64(0) AS kafka_offset, toDateTime(0, 'UTC') AS kafka_time,
	now() AS inserted_at
FROM ` + name
	default:
		panic("kafkaEngine: unknown kind " + e.kind)
	}
	return table, view
}

// run starts the engine on the topic from its beginning and waits until
// table sales holds n rows; it returns the time from the group's first
// assignment to the last row visible, and drops what it created.
func (e kafkaEngine) run(b *testing.B, conn driver.Conn, adm *kadm.Client, n int) time.Duration {
	ctx := context.Background()
	// A new group starts at the end of the topic: 18.16 leaves librdkafka's
	// auto.offset.reset at "largest", and only a <kafka> section in the
	// server's config.xml could change that. Committing offset 0 for every
	// partition before the group exists makes it start at the beginning.
	var start kadm.Offsets
	for p := int32(0); p < e.partitions; p++ {
		start.Add(kadm.Offset{Topic: e.topic, Partition: p, At: 0, LeaderEpoch: -1})
	}
	if err := adm.CommitAllOffsets(ctx, e.group, start); err != nil {
		b.Fatalf("commit start offsets for %s: %v", e.group, err)
	}
	table, view := e.ddl()
	mv := e.db + ".kafka_" + e.kind + "_mv"
	defer func() {
		for _, q := range []string{"DROP TABLE IF EXISTS " + mv, "DROP TABLE IF EXISTS " + e.db + ".kafka_" + e.kind} {
			if err := conn.Exec(ctx, q); err != nil {
				b.Error(err)
			}
		}
		if _, err := adm.DeleteGroup(ctx, e.group); err != nil {
			b.Logf("delete group %s: %v", e.group, err)
		}
	}()
	for _, q := range []string{table, view} {
		if err := conn.Exec(ctx, q); err != nil {
			b.Fatalf("%v\n%s", err, q)
		}
	}

	assigned := e.waitAssigned(b, adm)
	var first, last time.Time
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got := countSales(b, conn)
		if got > 0 && first.IsZero() {
			first = time.Now()
		}
		if got >= uint64(n) {
			last = time.Now()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("Kafka engine (%s) wrote %d of %d rows in 2 minutes (see the server's error log)", e.kind, got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var parts uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'sales' AND active").Scan(&parts); err != nil {
		b.Fatal(err)
	}
	b.Logf("Kafka engine (%s, %d consumer): first rows visible %v after the assignment, all %d after %v, in %d parts",
		e.kind, e.consumers, first.Sub(assigned).Round(time.Millisecond), n, last.Sub(assigned).Round(time.Millisecond), parts)
	return last.Sub(assigned)
}

// waitAssigned returns when the engine's group is Stable with every
// partition assigned: its consumer fetches next.
func (e kafkaEngine) waitAssigned(b *testing.B, adm *kadm.Client) time.Time {
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for {
		gs, err := adm.DescribeGroups(ctx, e.group)
		if err != nil {
			b.Fatal(err)
		}
		g := gs[e.group]
		if g.State == "Stable" {
			var parts int
			for _, m := range g.Members {
				if c, ok := m.Assigned.AsConsumer(); ok {
					for _, t := range c.Topics {
						parts += len(t.Partitions)
					}
				}
			}
			if parts == int(e.partitions) {
				return time.Now()
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("Kafka engine (%s): group %s not assigned after a minute: %+v", e.kind, e.group, g)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func countSales(b *testing.B, conn driver.Conn) uint64 {
	var c uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM sales").Scan(&c); err != nil {
		b.Fatal(err)
	}
	return c
}

// salesSum is a checksum of table sales: of the data columns, and of the
// four kafka_* columns.
type salesSum struct{ data, kafka uint64 }

// checkSales checks that table sales holds exactly n rows and, when want is
// set, that they have its checksums (the kafka_* columns only with
// withKafka); it returns the table's checksums.
func checkSales(b *testing.B, conn driver.Conn, n int, want salesSum, withKafka bool) salesSum {
	const q = `SELECT count(),
	sum(cityHash64(event_id, source, txn_id, type, ref_txn_id, toString(event_time), rep_id, account_id, product_id,
		ifNull(toString(quantity), 'null'), toString(amount), currency, ifNull(toString(margin), 'null'), margin_currency,
		arrayStringConcat(split_rep_ids, ','), arrayStringConcat(arrayMap(x -> toString(x), split_shares), ','),
		arrayStringConcat(attribute_keys, ','), arrayStringConcat(attribute_values, ','))),
	sum(cityHash64(kafka_topic, toString(kafka_partition), toString(kafka_offset), toString(kafka_time)))
FROM sales`
	var c uint64
	var got salesSum
	if err := conn.QueryRow(context.Background(), q).Scan(&c, &got.data, &got.kafka); err != nil {
		b.Fatal(err)
	}
	if c != uint64(n) {
		b.Fatalf("table sales holds %d rows, want %d", c, n)
	}
	if want != (salesSum{}) && (got.data != want.data || withKafka && got.kafka != want.kafka) {
		b.Fatalf("table sales checksums %+v, want %+v (kafka_* columns compared: %v)", got, want, withKafka)
	}
	return got
}
