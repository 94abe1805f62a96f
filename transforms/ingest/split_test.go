package ingest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/connectors/httpingest"
	"github.com/accrue/accrue/connectors/mapping"
	"github.com/accrue/accrue/transforms/ingest"
	"github.com/accrue/accrue/transforms/sanitize"
)

// TestHTTPSplitWithRealMapping checks what HTTP ingest hands to Kafka for a
// body of the CRM example: good records keyed by identity, bad ones with
// their line, reason and field (from mapping and from the gatekeepers).
func TestHTTPSplitWithRealMapping(t *testing.T) {
	cfg, err := mapping.Load("../../connectors/examples/crm-opportunities.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := mapping.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gcfg, err := sanitize.ParseConfig([]byte("defaults:\n  amount: {max: \"5000\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	pl := &ingest.Pipeline{Mapper: m, Gate: sanitize.MustCompile(gcfg)}
	body := strings.Join([]string{
		`{"opportunity":{"id":"O-1"},"stage":"closed_won","closed_at":"2026-11-02T10:00:00Z","owner":{"employee_id":"E-1"},"amount":"100.00","currency":"USD"}`,
		`{"opportunity":{"id":"O-2"},"stage":"closed_won","closed_at":"2026-11-02T10:00:00Z","amount":"100.00","currency":"USD"}`,
		`{"opportunity":{"id":"O-3"},"stage":"closed_won","closed_at":"2026-11-02T10:00:00Z","owner":{"employee_id":"E-1"},"amount":"9000.00","currency":"USD"}`,
		`{"opportunity":`,
	}, "\n")
	var got []httpingest.Record
	if err := pl.HTTPSplit(func() time.Time { return time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC) })([]byte(body),
		func(r httpingest.Record) { got = append(got, r) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d records, want 4", len(got))
	}
	if got[0].Reject != nil || got[0].Key != "crm-na:O-1" || got[0].Line != 1 {
		t.Errorf("record 1: %+v", got[0])
	}
	for i, want := range []struct {
		line          int
		reason, field string
	}{{2, "missing_field", "rep_id"}, {3, sanitize.ReasonAmountAboveMax, "amount.value"}, {4, "malformed_json", ""}} {
		r := got[i+1]
		if r.Reject == nil || r.Line != want.line || r.Reject.Reason != want.reason || r.Reject.Field != want.field {
			t.Errorf("record %d: line %d reject %+v, want line %d %s %s", i+2, r.Line, r.Reject, want.line, want.reason, want.field)
		}
	}
}
