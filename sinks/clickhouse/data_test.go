package clickhouse

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
)

// The integration tests write generated records of the three kinds to
// topics of their own and compare what ClickHouse reports with what was
// written.

const testReps = 40

var testEpoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// genEvent is the i-th clean sale; its amount is (37i+1)/100.
func genEvent(i int) canonical.Event {
	return canonical.Event{
		Source: "crm", TxnID: "T-" + strconv.Itoa(i), Type: canonical.Sale,
		EventTime: testEpoch.Add(time.Duration(i) * time.Second),
		RepID:     "R-" + strconv.Itoa(i%testReps), ProductID: "P-" + strconv.Itoa(i%7),
		Amount: canonical.Money{Value: decimal.New(int64(i*37+1), -2), Currency: "USD"},
	}
}

// genCredit is the credit of the i-th sale to its rep; every third sale is
// split in halves with the next rep, and this returns the first half.
func genCredits(i int) []*link.Credit {
	e := genEvent(i)
	if i%3 != 0 {
		return []*link.Credit{{Event: &e, RepID: e.RepID, Share: decimal.New(1, 0), Via: "rep",
			Refs: link.Refs{Rep: reference.Forever, Account: reference.Forever, Product: reference.Forever}}}
	}
	half := decimal.New(5, -1)
	other := "R-" + strconv.Itoa((i+1)%testReps)
	e.Splits = []canonical.Split{{RepID: e.RepID, Share: half}, {RepID: other, Share: half}}
	refs := link.Refs{Rep: reference.Forever, Account: reference.Forever, Product: reference.Forever}
	return []*link.Credit{
		{Event: &e, RepID: e.RepID, Share: half, Via: "split", Refs: refs},
		{Event: &e, RepID: other, Share: half, Via: "split", Refs: refs},
	}
}

var testReasons = []string{"malformed_json", "missing_field", "invalid_amount"}

// genDeadLetter is the dead letter of the i-th raw record.
func genDeadLetter(topic string, i int) *kgo.Record {
	src := &kgo.Record{Topic: "raw.crm", Partition: int32(i % 3), Offset: int64(i), Key: []byte("k" + strconv.Itoa(i)),
		Value: []byte(`{"broken":` + strconv.Itoa(i)), Headers: []kgo.RecordHeader{{Key: "source", Value: []byte("crm-na")}}}
	return pipeline.NewDeadLetter(topic, "ingest", src,
		pipeline.Rejectf(testReasons[i%len(testReasons)], "amount", "record %d is broken", i), testEpoch.Add(time.Duration(i)*time.Millisecond))
}

// expected are the figures the generated records must give.
type expected struct {
	events, credits, rejects int
	amount                   decimal.Decimal            // sum of the events' amounts
	byRep                    map[string]decimal.Decimal // credited amount per rep
	byReason                 map[string]uint64
}

func newExpected() *expected {
	return &expected{byRep: map[string]decimal.Decimal{}, byReason: map[string]uint64{}}
}

// testTopics are one test's topics of the three kinds.
type testTopics struct{ clean, credited, rejected string }

func newTestTopics(t testing.TB, brokers []string, partitions int32) testTopics {
	sfx := strconv.FormatInt(time.Now().UnixNano(), 36)
	tt := testTopics{clean: "chsink-clean-" + sfx, credited: "chsink-credited-" + sfx, rejected: "chsink-rejected-" + sfx}
	pt.CreateTopics(t, brokers, partitions, []string{tt.clean, tt.credited, tt.rejected})
	return tt
}

func (tt testTopics) tables() map[string]*Table {
	return map[string]*Table{tt.clean: salesTable, tt.credited: creditsTable, tt.rejected: rejectsTable}
}

func (tt testTopics) specs() string {
	return tt.clean + "=sales.clean," + tt.credited + "=sales.credited," + tt.rejected + "=sales.rejected"
}

// produce writes records [from, to) of each kind (dead letters for every
// tenth i) and adds them to want. pause > 0 spreads them over time, one
// pause per 500 records.
func produce(t testing.TB, brokers []string, tt testTopics, from, to int, want *expected, pause time.Duration) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100000),
		kgo.UnknownTopicRetries(50)) // topics just made
	if err != nil {
		t.Error(err)
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var perr error
	done := func(_ *kgo.Record, err error) {
		if err != nil && perr == nil {
			perr = err
		}
	}
	for i := from; i < to; i++ {
		e := genEvent(i)
		cl.Produce(ctx, &kgo.Record{Topic: tt.clean, Key: []byte(e.Key()), Value: e.AppendJSON(nil)}, done)
		want.events++
		want.amount = want.amount.Add(e.Amount.Value)
		for _, c := range genCredits(i) {
			cl.Produce(ctx, &kgo.Record{Topic: tt.credited, Key: []byte(c.RepID), Value: c.AppendJSON(nil)}, done)
			want.credits++
			want.byRep[c.RepID] = want.byRep[c.RepID].Add(c.Event.Amount.Value.Mul(c.Share))
		}
		if i%10 == 0 {
			cl.Produce(ctx, genDeadLetter(tt.rejected, i), done)
			want.rejects++
			want.byReason[testReasons[i%len(testReasons)]]++
		}
		if pause > 0 && i%500 == 499 {
			time.Sleep(pause)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Error(err)
	}
	if perr != nil {
		t.Errorf("produce: %v", perr)
	}
}

// waitRows waits until each table holds the expected rows through FINAL.
func waitRows(t testing.TB, conn driver.Conn, want *expected, timeout time.Duration) {
	t.Helper()
	q := func(query string) uint64 { return count(t, conn, query) }
	pt.WaitFor(t, timeout, fmt.Sprintf("%d sales, %d credits, %d rejects in ClickHouse", want.events, want.credits, want.rejects), func() bool {
		return q("SELECT count() FROM sales FINAL") == uint64(want.events) &&
			q("SELECT count() FROM credits FINAL") == uint64(want.credits) &&
			q("SELECT count() FROM rejects FINAL") == uint64(want.rejects)
	})
}

// checkReports compares the reports with want: every row once (through
// FINAL and the views), every sum exact.
func checkReports(t testing.TB, conn driver.Conn, want *expected) {
	t.Helper()
	ctx := context.Background()
	for table, n := range map[string]int{"sales": want.events, "credits": want.credits, "rejects": want.rejects} {
		if got := count(t, conn, "SELECT count() FROM "+table+" FINAL"); got != uint64(n) {
			t.Errorf("%s: %d rows through FINAL, want %d", table, got, n)
		}
	}
	var amount decimal.Decimal
	if err := conn.QueryRow(ctx, "SELECT sum(amount) FROM sales FINAL").Scan(&amount); err != nil {
		t.Fatal(err)
	}
	if !amount.Equal(want.amount) {
		t.Errorf("sales sum to %s, want %s", amount, want.amount)
	}
	rows, err := conn.Query(ctx, "SELECT rep_id, sum(credited_amount) FROM credits FINAL GROUP BY rep_id")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]decimal.Decimal{}
	for rows.Next() {
		var rep string
		var sum decimal.Decimal
		if err := rows.Scan(&rep, &sum); err != nil {
			t.Fatal(err)
		}
		got[rep] = sum
	}
	rows.Close()
	if len(got) != len(want.byRep) {
		t.Errorf("credits for %d reps, want %d", len(got), len(want.byRep))
	}
	for rep, w := range want.byRep {
		if !got[rep].Equal(w) {
			t.Errorf("rep %s credited %s, want %s", rep, got[rep], w)
		}
	}
	rows, err = conn.Query(ctx, "SELECT reason, sum(rejects) FROM rejects_daily GROUP BY reason")
	if err != nil {
		t.Fatal(err)
	}
	byReason := map[string]uint64{}
	for rows.Next() {
		var reason string
		var n uint64
		if err := rows.Scan(&reason, &n); err != nil {
			t.Fatal(err)
		}
		byReason[reason] = n
	}
	rows.Close()
	for r, n := range want.byReason {
		if byReason[r] != n {
			t.Errorf("rejects_daily: %d %s, want %d", byReason[r], r, n)
		}
	}
	if n := count(t, conn, "SELECT count() FROM sink_rejects"); n != 0 {
		t.Errorf("%d records in sink_rejects", n)
	}
}
