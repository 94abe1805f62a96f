package link

import (
	"strconv"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/transforms/reference"
)

// BenchmarkLinkRecord is the linking stage's per-record work without Kafka
// and state: decode the event, link it (a rep among 10,000 with three
// versions each), encode its credit.
//
//	go test ./transforms/link -run '^$' -bench LinkRecord -benchmem
func BenchmarkLinkRecord(b *testing.B) {
	var tb reference.Tables
	for i := 0; i < 10000; i++ {
		for j, from := range []string{"2026-01-01", "2026-06-01", "2026-11-15"} {
			d, _ := reference.ParseDate(from)
			tb.Reps.Put(reference.Rep{RepID: "R-" + strconv.Itoa(i), Team: "t" + strconv.Itoa(j), ValidFrom: d})
		}
	}
	tb.Products.Put(reference.Product{ProductID: "P-9", Category: "software", ValidFrom: reference.Forever})
	e := &canonical.Event{Source: "erp-eu", TxnID: "SO-1001", Type: canonical.Sale, EventTime: time.Date(2026, 11, 3, 10, 15, 0, 0, time.UTC),
		RepID: "R-17", AccountID: "A-3", ProductID: "P-9", Quantity: decimal.NewNullDecimal(decimal.NewFromInt(2)),
		Amount: canonical.Money{Value: decimal.RequireFromString("1250.00"), Currency: "EUR"}, Attributes: map[string]string{"channel": "online"}}
	in := e.AppendJSON(nil)
	l := &Linker{Tables: &tb, RequireProduct: true}
	orig := MemoryOriginals{}
	b.ReportAllocs()
	for b.Loop() {
		ev, err := DecodeEvent(in)
		if err != nil {
			b.Fatal(err)
		}
		credits, miss, rj := l.Link(ev, orig)
		if miss != nil || rj != nil {
			b.Fatal(miss, rj)
		}
		for i := range credits {
			_ = credits[i].AppendJSON(make([]byte, 0, len(in)+192))
		}
	}
}
