package mapping

import (
	"fmt"
	"strings"
	"testing"
)

// Strings read from a JSON record alias the parser's buffer; the events
// must own copies that later records, parsed into the same buffer, leave
// alone.
func TestEventsOutliveTheParseBuffer(t *testing.T) {
	m := mustMapper(t, jsonCfg)
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf(`{"id":" T\u00e9%d ","status":"won","at":"2026-11-03T10:15:0%dZ","owner":{"id":"R-\"%d\""},`+
			`"acct":%d,"amt":"%d.50","mgn":"1","cur":"eur","ch":"web-%d","lines":[{"qty":%d}]}`, i, i%10, i, 1000+i, i, i, i+1))
	}
	var events, want []string
	payload := strings.Join(lines, "\n")
	m.Map([]byte(payload), func(o Outcome) {
		if o.Event == nil {
			t.Fatalf("line %d: %v", o.Line, o.Reject)
		}
		b, _ := o.Event.MarshalJSON()
		want = append(want, string(b))
	})
	var kept []Outcome
	m.Map([]byte(payload), func(o Outcome) { kept = append(kept, o) })
	for range 3 { // reuse the pooled parsers on other records
		m.Map([]byte(strings.Repeat(`{"id":"XXXXXXXXXXXXXXXX","status":"won","at":"2026-11-04T00:00:00Z","owner":{"id":"YYYYYYYY"},"amt":"9","cur":"usd","ch":"zzzzzzzz"}`+"\n", 30)), func(Outcome) {})
	}
	for _, o := range kept {
		b, _ := o.Event.MarshalJSON()
		events = append(events, string(b))
	}
	for i := range want {
		if events[i] != want[i] {
			t.Errorf("record %d changed after later parses:\n got %s\nwant %s", i+1, events[i], want[i])
		}
	}
	if e := kept[3].Event; e.TxnID != "Té3" || e.RepID != `R-"3"` || e.AccountID != "1003" || e.Amount.Currency != "EUR" ||
		e.Margin.Currency != "EUR" || e.EventID != "web:Té3:sale" || e.Attributes["channel"] != "web-3" || e.Quantity.Decimal.String() != "4" {
		t.Errorf("record 4 mapped to %+v", e)
	}
}
