package clickhouse

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
)

func dec(s string) decimal.Decimal {
	d, err := canonical.ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

func sampleEvent() canonical.Event {
	margin := canonical.Money{Value: dec("300.00"), Currency: "EUR"}
	return canonical.Event{
		Source: "erp-eu", TxnID: "SO-1001", Type: canonical.Sale,
		EventTime: time.Date(2026, 11, 3, 10, 15, 0, 0, time.UTC),
		RepID:     "R-17", AccountID: "A-3", ProductID: "P-9",
		Quantity:   decimal.NewNullDecimal(dec("2")),
		Amount:     canonical.Money{Value: dec("1250.00"), Currency: "EUR"},
		Margin:     &margin,
		Splits:     []canonical.Split{{RepID: "R-17", Share: dec("0.6")}, {RepID: "R-22", Share: dec("0.4")}},
		Attributes: map[string]string{"channel": "online", "region": "DE"},
	}
}

func record(topic string, offset int64, value []byte) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: 2, Offset: offset, Value: value,
		Timestamp: time.Date(2026, 11, 3, 10, 15, 1, 0, time.UTC)}
}

// column returns the named column of rows, by the table's column list.
func column(t *testing.T, tb *Table, rows Rows, name string) any {
	t.Helper()
	cols := rows.Columns()
	if len(cols) != len(tb.Columns) {
		t.Fatalf("%s: %d columns, table names %d", tb.Name, len(cols), len(tb.Columns))
	}
	for i, c := range tb.Columns {
		if c == name {
			return cols[i]
		}
	}
	t.Fatalf("%s has no column %s", tb.Name, name)
	return nil
}

func TestSalesRows(t *testing.T) {
	e := sampleEvent()
	rows := salesTable.NewRows()
	if err := rows.Add(record("sales.clean", 7, e.AppendJSON(nil))); err != nil {
		t.Fatal(err)
	}
	bare := canonical.Event{Source: "crm", TxnID: "O-1", Type: canonical.Return, RefTxnID: "O-0",
		EventTime: e.EventTime, Amount: canonical.Money{Value: dec("5"), Currency: "USD"}}
	if err := rows.Add(record("sales.clean", 8, bare.AppendJSON(nil))); err != nil {
		t.Fatal(err)
	}
	if rows.Len() != 2 {
		t.Fatalf("Len %d", rows.Len())
	}
	col := func(name string) any { return column(t, salesTable, rows, name) }
	if ids := col("event_id").([]string); ids[0] != "erp-eu:SO-1001:sale" || ids[1] != "crm:O-1:return" {
		t.Errorf("event ids %q", ids)
	}
	if a := col("amount").([]decimal.Decimal); !a[0].Equal(dec("1250")) || !a[1].Equal(dec("5")) {
		t.Errorf("amounts %v", a)
	}
	q := col("quantity").([]*decimal.Decimal)
	if q[0] == nil || !q[0].Equal(dec("2")) || q[1] != nil {
		t.Errorf("quantities %v", q)
	}
	if m := col("margin").([]*decimal.Decimal); m[0] == nil || !m[0].Equal(dec("300")) || m[1] != nil {
		t.Errorf("margins %v", m)
	}
	if r := col("split_rep_ids").([][]string); len(r[0]) != 2 || r[0][1] != "R-22" || len(r[1]) != 0 {
		t.Errorf("split reps %q", r)
	}
	if k, v := col("attribute_keys").([][]string), col("attribute_values").([][]string); strings.Join(k[0], ",") != "channel,region" || v[0][1] != "DE" {
		t.Errorf("attributes %q %q", k, v)
	}
	if ref := col("ref_txn_id").([]string); ref[0] != "" || ref[1] != "O-0" {
		t.Errorf("ref_txn_id %q", ref)
	}
	if tm := col("event_time").([]time.Time); !tm[0].Equal(e.EventTime) {
		t.Errorf("event_time %v", tm)
	}
	if off := col("kafka_offset").([]int64); off[0] != 7 || off[1] != 8 {
		t.Errorf("offsets %v", off)
	}
	rows.Reset()
	if rows.Len() != 0 || len(col("amount").([]decimal.Decimal)) != 0 {
		t.Errorf("Reset left rows")
	}
}

func TestSalesRowsRefuse(t *testing.T) {
	for _, c := range []struct{ name, value, want string }{
		{"not json", `{"event_id":`, "cannot parse"},
		{"not an object", `[1]`, "want a JSON object"},
		{"no time", `{"event_id":"a","amount":{"value":"1","currency":"EUR"}}`, "event_time is missing"},
		{"no amount", `{"event_id":"a","event_time":"2026-01-01T00:00:00Z"}`, "amount is missing"},
		{"no identity", `{"event_time":"2026-01-01T00:00:00Z","amount":{"value":"1","currency":"EUR"}}`, "no event_id"},
		{"number amount", `{"event_id":"a","event_time":"2026-01-01T00:00:00Z","amount":{"value":1,"currency":"EUR"}}`, "amount.value: want a decimal string"},
		{"too precise", `{"event_id":"a","event_time":"2026-01-01T00:00:00Z","amount":{"value":"0.00000000001","currency":"EUR"}}`, "more than 10 decimal places"},
		{"too large", `{"event_id":"a","event_time":"2026-01-01T00:00:00Z","amount":{"value":"12345678901234567890123456789","currency":"EUR"}}`, "does not fit"},
		{"before 1970", `{"event_id":"a","event_time":"1969-12-31T23:59:59Z","amount":{"value":"1","currency":"EUR"}}`, "outside"},
		{"string expected", `{"event_id":5,"event_time":"2026-01-01T00:00:00Z","amount":{"value":"1","currency":"EUR"}}`, "event_id: want a JSON string"},
		{"bad split", `{"event_id":"a","event_time":"2026-01-01T00:00:00Z","amount":{"value":"1","currency":"EUR"},"splits":[{"rep_id":"x"}]}`, "splits[0].share"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows := salesTable.NewRows()
			err := rows.Add(record("sales.clean", 1, []byte(c.value)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to say %q", err, c.want)
			}
			if rows.Len() != 0 {
				t.Fatalf("a refused record left a row")
			}
			for i, col := range rows.Columns() {
				if n := lenOf(col); n != 0 {
					t.Fatalf("column %s has %d values", salesTable.Columns[i], n)
				}
			}
		})
	}
}

// lenOf is the length of a column slice.
func lenOf(col any) int {
	switch c := col.(type) {
	case []string:
		return len(c)
	case []time.Time:
		return len(c)
	case []decimal.Decimal:
		return len(c)
	case []*decimal.Decimal:
		return len(c)
	case [][]string:
		return len(c)
	case [][]decimal.Decimal:
		return len(c)
	case []int32:
		return len(c)
	case []int64:
		return len(c)
	case []uint32:
		return len(c)
	case []uint64:
		return len(c)
	case []uint8:
		return len(c)
	case [][]*decimal.Decimal:
		return len(c)
	case [][]uint8:
		return len(c)
	}
	panic(fmt.Sprintf("unknown column type %T", col))
}

// Extra decimal places that are zeros are not a loss: they fit.
func TestFitKeepsExactValues(t *testing.T) {
	d, err := fit(dec("1.500000000000000"), 10, 38)
	if err != nil || !d.Equal(dec("1.5")) {
		t.Fatalf("fit = %v, %v", d, err)
	}
	if _, err := fit(dec("9999999999999999999999999999.9999999999"), 10, 38); err != nil {
		t.Fatalf("the largest Decimal(38, 10) did not fit: %v", err)
	}
}

func TestCreditRows(t *testing.T) {
	e := sampleEvent()
	c := &link.Credit{Event: &e, RepID: "R-22", Share: dec("0.4"), Via: "split",
		Refs: link.Refs{Rep: reference.Date(20454), Account: reference.Forever, Product: reference.Forever}}
	rows := creditsTable.NewRows()
	if err := rows.Add(record("sales.credited", 3, c.AppendJSON(nil))); err != nil {
		t.Fatal(err)
	}
	col := func(name string) any { return column(t, creditsTable, rows, name) }
	if id := col("credit_id").([]string)[0]; id != c.ID() {
		t.Errorf("credit_id %q, want %q", id, c.ID())
	}
	if r := col("rep_id").([]string)[0]; r != "R-22" {
		t.Errorf("rep_id %q", r)
	}
	if r := col("event_rep_id").([]string)[0]; r != "R-17" {
		t.Errorf("event_rep_id %q", r)
	}
	if a := col("credited_amount").([]decimal.Decimal)[0]; !a.Equal(dec("500")) {
		t.Errorf("credited_amount %s", a)
	}
	if m := col("credited_margin").([]*decimal.Decimal)[0]; m == nil || !m.Equal(dec("120")) {
		t.Errorf("credited_margin %v", m)
	}
	if q := col("credited_quantity").([]*decimal.Decimal)[0]; q == nil || !q.Equal(dec("0.8")) {
		t.Errorf("credited_quantity %v", q)
	}
	if ref := col("rep_ref").([]string)[0]; ref != "2026-01-01" {
		t.Errorf("rep_ref %q", ref)
	}
	if ref := col("account_ref").([]string)[0]; ref != "" {
		t.Errorf("account_ref %q", ref)
	}
	// A credit without an id of its own gets the one link gives.
	rows.Reset()
	if err := rows.Add(record("sales.credited", 4, []byte(`{"rep_id":"R-1","share":"1","event":`+string(e.AppendJSON(nil))+`}`))); err != nil {
		t.Fatal(err)
	}
	if id := col("credit_id").([]string)[0]; id != "erp-eu:SO-1001:sale/R-1" {
		t.Errorf("derived credit_id %q", id)
	}
	for _, bad := range []string{`{"share":"1","event":{}}`, `{"rep_id":"R","event":{}}`, `{"rep_id":"R","share":"1"}`,
		`{"rep_id":"R","share":"1","event":{"event_id":"a"}}`} {
		if err := rows.Add(record("sales.credited", 5, []byte(bad))); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestRejectRows(t *testing.T) {
	now := time.Date(2026, 11, 3, 10, 15, 2, 123456789, time.UTC)
	src := &kgo.Record{Topic: "raw.crm", Partition: 1, Offset: 42, Key: []byte("k"), Value: []byte(`{"bad":`),
		Headers: []kgo.RecordHeader{{Key: "source", Value: []byte("crm-na")}}}
	dl := pipeline.NewDeadLetter("sales.rejected", "ingest", src,
		pipeline.Rejectf("malformed_json", "", "unexpected end"), now)
	dl.Headers = append(dl.Headers, kgo.RecordHeader{Key: headerSourceLine, Value: []byte("3")})
	dl.Partition, dl.Offset, dl.Timestamp = 0, 9, now

	// The same record from an HTTP body: no source position.
	httpSrc := &kgo.Record{Topic: "raw.crm", Partition: -1, Offset: -1, Value: []byte(`{"bad":`)}
	dlHTTP := pipeline.NewDeadLetter("sales.rejected", "http", httpSrc,
		pipeline.Rejectf("missing_field", "rep_id", "rep_id is missing"), now)
	dlHTTP.Headers = append(dlHTTP.Headers, kgo.RecordHeader{Key: headerSourceLine, Value: []byte("3")})
	dlHTTP.Timestamp = now

	rows := rejectsTable.NewRows()
	for _, r := range []*kgo.Record{dl, dlHTTP} {
		if err := rows.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	col := func(name string) any { return column(t, rejectsTable, rows, name) }
	ids := col("reject_id").([]string)
	if ids[0] != "ingest|raw.crm/1/42#3" {
		t.Errorf("Kafka-sourced reject_id %q", ids[0])
	}
	if !strings.HasPrefix(ids[1], "http|raw.crm/-1/-1#3|raw.crm||2026-11-03T10:15:02.123456789Z|") {
		t.Errorf("HTTP-sourced reject_id %q", ids[1])
	}
	if s := col("source").([]string); s[0] != "crm-na" || s[1] != "raw.crm" {
		t.Errorf("source %q", s)
	}
	if r := col("reason").([]string); r[0] != "malformed_json" || r[1] != "missing_field" {
		t.Errorf("reason %q", r)
	}
	if f := col("field").([]string); f[1] != "rep_id" {
		t.Errorf("field %q", f)
	}
	if l := col("source_line").([]uint32); l[0] != 3 {
		t.Errorf("line %v", l)
	}
	if at := col("rejected_at").([]time.Time); !at[0].Equal(now) {
		t.Errorf("rejected_at %v", at)
	}
	if v := col("raw_value").([]string); v[0] != `{"bad":` {
		t.Errorf("raw_value %q", v)
	}

	// Identity depends on the refused record, not on where the dead letter
	// sits: the same dead letter read again, at another offset, is the
	// same row; the record replayed and refused again is another.
	again := *dl
	again.Offset = 1000
	replayed := *dl
	replayed.Headers = append(append([]kgo.RecordHeader{}, dl.Headers...),
		kgo.RecordHeader{Key: pipeline.HeaderSourceOffset, Value: []byte("77")},
		kgo.RecordHeader{Key: pipeline.HeaderReplayedFrom, Value: []byte("sales.rejected/0/9")})
	rows.Reset()
	for _, r := range []*kgo.Record{&again, &replayed} {
		if err := rows.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	ids = col("reject_id").([]string)
	if ids[0] != "ingest|raw.crm/1/42#3" || ids[1] != "ingest|raw.crm/1/77#3" {
		t.Errorf("reject ids %q", ids)
	}
	if rf := col("replayed_from").([]string); rf[1] != "sales.rejected/0/9" {
		t.Errorf("replayed_from %q", rf)
	}
}

func TestParseTopics(t *testing.T) {
	m, err := ParseTopics([]string{"sales.clean", "prod.credits=sales.credited", "dedupe.rejected"})
	if err != nil {
		t.Fatal(err)
	}
	if m["sales.clean"] != salesTable || m["prod.credits"] != creditsTable || m["dedupe.rejected"] != rejectsTable {
		t.Errorf("mapped %v", m)
	}
	for _, bad := range [][]string{{"payouts.payable"}, {"x=nothing"}, {"sales.clean", "sales.clean"}, {"=sales.clean"}} {
		if _, err := ParseTopics(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestInsertNamesColumns(t *testing.T) {
	if got := sinkRejectsTable.Insert(); got != "INSERT INTO sink_rejects (kafka_topic, kafka_partition, kafka_offset, kafka_time, table_name, error, raw_key, raw_value)" {
		t.Errorf("Insert() = %s", got)
	}
}

func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&proto.Exception{Code: 252}, true}, // TOO_MANY_PARTS
		{&proto.Exception{Code: 241}, true}, // MEMORY_LIMIT_EXCEEDED
		{&proto.Exception{Code: 60}, false}, // UNKNOWN_TABLE
		{&proto.Exception{Code: 16}, false}, // NO_SUCH_COLUMN_IN_TABLE
		{errors.New("boom"), false},
	} {
		if got := Retryable(c.err); got != c.want {
			t.Errorf("Retryable(%v) = %v", c.err, got)
		}
	}
}

func BenchmarkSalesRowsAdd(b *testing.B) {
	e := sampleEvent()
	rec := record("sales.clean", 1, e.AppendJSON(nil))
	rows := salesTable.NewRows()
	b.ReportAllocs()
	b.SetBytes(int64(len(rec.Value)))
	for i := 0; b.Loop(); i++ {
		if i%50000 == 0 {
			rows.Reset()
		}
		if err := rows.Add(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzSalesRows(f *testing.F) {
	e := sampleEvent()
	f.Add(e.AppendJSON(nil))
	f.Add([]byte(`{"event_id":"a","event_time":"2026-01-01T00:00:00Z","amount":{"value":"1","currency":"EUR"}}`))
	f.Add([]byte(`{"splits":[{"rep_id":1}],"attributes":{"a":null}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, tb := range []*Table{salesTable, creditsTable, rejectsTable} {
			rows := tb.NewRows()
			err := rows.Add(record("t", 1, b))
			want := 1
			if err != nil {
				want = 0
			}
			for i, col := range rows.Columns() {
				if lenOf(col) != want {
					t.Fatalf("%s: column %s has %d values after Add returned %v", tb.Name, tb.Columns[i], lenOf(col), err)
				}
			}
		}
	})
}
