package payoutfile

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// Read sums a real topic's committed payables of the period, leaves out an
// aborted transaction, other periods and what is written after it
// started, and its progress ends at the total.
func TestReadRealKafka(t *testing.T) {
	brokers := pt.RealBrokers(t)
	topic := fmt.Sprintf("test.payoutfile.%d", time.Now().UnixNano())
	pt.CreateTopics(t, brokers, 3, []string{topic})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pt.Admin(t, brokers).DeleteTopics(ctx, topic); err != nil {
			t.Logf("delete %s: %v", topic, err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := newFixture(5, 4000)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(topic), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	txn := func(values [][]byte, commit kgo.TransactionEndTry) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			p, _ := DecodePayable(v)
			cl.Produce(ctx, &kgo.Record{Key: []byte(p.RepID), Value: v}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Error(err)
				}
			})
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	half := len(f.records) / 2
	txn(f.records[:half], kgo.TryCommit)
	aborted := newFixture(6, 300)
	txn(aborted.records, kgo.TryAbort)
	txn(f.records[half:], kgo.TryCommit)

	var calls, lastDone, lastTotal int64
	res, err := Read(ctx, ReadConfig{Brokers: brokers, Topic: topic, Period: f.period, Progress: func(done, total int64) {
		if done < lastDone {
			t.Errorf("progress went back from %d to %d", lastDone, done)
		}
		calls++
		lastDone, lastTotal = done, total
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != len(f.records) {
		t.Errorf("read %d records, want the %d committed ones", res.Records, len(f.records))
	}
	if calls < 2 || lastDone != lastTotal || lastTotal < int64(len(f.records)+len(aborted.records)) {
		t.Errorf("progress: %d calls, last %d of %d", calls, lastDone, lastTotal)
	}
	got := map[string]int64{}
	for _, l := range res.Totals.Lines() {
		got[l.RepID+"|"+l.Currency] = toMinor(t, l.Amount.String(), l.Currency)
	}
	if mustJSON(got) != mustJSON(f.want) {
		t.Errorf("totals differ from the committed records:\n got %v\nwant %v", got, f.want)
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, f.period, res.Totals.Lines()); err != nil {
		t.Fatal(err)
	}
	rows, _ := csv.NewReader(&buf).ReadAll()
	if len(rows) != len(f.want)+1 {
		t.Errorf("%d CSV rows for %d reps", len(rows)-1, len(f.want))
	}

	// A bad record stops the read, naming where it is; a missing topic
	// and a missing period are errors too.
	txn([][]byte{[]byte(`{"period":"2026-11","currency":"USD","amount":"1"}`)}, kgo.TryCommit)
	if _, err := Read(ctx, ReadConfig{Brokers: brokers, Topic: topic, Period: f.period}); err == nil || !strings.Contains(err.Error(), "offset") {
		t.Errorf("error %v, want one naming the bad record's offset", err)
	}
	if _, err := Read(ctx, ReadConfig{Brokers: brokers, Topic: topic + ".missing", Period: f.period}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("error %v for a missing topic", err)
	}
	if _, err := Read(ctx, ReadConfig{Brokers: brokers, Topic: topic}); err != ErrNoPeriod {
		t.Errorf("error %v, want ErrNoPeriod", err)
	}
}
