package synth_test

import (
	"fmt"

	"github.com/accrue/accrue/connectors/synth"
)

func ExampleNew() {
	g := synth.New(42)
	r := g.Next()
	fmt.Printf("key=%s source=%s\n%s\n", r.Key, r.Headers[0].Value, r.Value)
	// Output:
	// key=R-35 source=pos-apac
	// {"event_id":"pos-apac:POS-1001:sale","source":"pos-apac","txn_id":"POS-1001","type":"sale","event_time":"2026-11-02T08:00:01Z","rep_id":"R-35","account_id":"A-224","product_id":"P-8","quantity":"2","amount":{"value":"239928","currency":"JPY"}}
}
