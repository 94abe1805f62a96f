package ingest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/connectors/canonical"
)

// Keys and events carved from the slabs stay as encoded while later ones
// are, across slab boundaries and for events too large for what a slab has
// left, and appending to one cannot reach the next.
func TestEncodeCarvesSeparateRecords(t *testing.T) {
	p := NewProcessor(nil, "out", nil)
	type out struct{ key, value, wantKey, wantValue []byte }
	var outs []out
	for i := range 2000 {
		e := &canonical.Event{Source: "crm", TxnID: fmt.Sprintf("T-%d%s", i, strings.Repeat("x", (i*37)%2500)), Type: canonical.Sale,
			EventTime: time.Unix(int64(i), 0), RepID: "R", Amount: canonical.Money{Value: decimal.New(int64(i), -2), Currency: "EUR"}}
		k, v := p.encode(e)
		if cap(k) != len(k) || cap(v) != len(v) {
			t.Fatalf("record %d: key or value not capped", i)
		}
		outs = append(outs, out{k, v, Key(e), e.AppendJSON(nil)})
		r := p.record()
		r.Key, r.Value = k, v
	}
	// Appending to a record's key and value must leave the next intact.
	for i, o := range outs {
		if string(o.key) != string(o.wantKey) || string(o.value) != string(o.wantValue) {
			t.Fatalf("record %d changed:\n key %s, want %s\n value %s\n want %s", i, o.key, o.wantKey, o.value, o.wantValue)
		}
		_ = append(o.key, "!!!!"...)
		_ = append(o.value, "!!!!"...)
	}
}
