package ingest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/accrue/accrue/connectors/mapping"
	"github.com/accrue/accrue/transforms/ingest"
	"github.com/accrue/accrue/transforms/sanitize"
)

// BenchmarkPipelineJSON is the ingest stage's per-record work without Kafka:
// map a CRM opportunity, check it, encode the canonical event and its key
// as the processor does.
func BenchmarkPipelineJSON(b *testing.B) {
	cfg, err := mapping.Load("../../connectors/examples/crm-opportunities.yaml")
	if err != nil {
		b.Fatal(err)
	}
	m, err := mapping.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	gcfg, err := sanitize.ParseConfig([]byte("defaults:\n  amount: {min: \"0\", max: \"1000000\"}\n" +
		"  rules:\n    - {name: no_test_accounts, when: 'account_id startsWith \"TEST-\"', reason: test_account}\n"))
	if err != nil {
		b.Fatal(err)
	}
	pl := &ingest.Pipeline{Mapper: m, Gate: sanitize.MustCompile(gcfg)}
	payload := []byte(fmt.Sprintf(`{"opportunity": {"id": "OPP-2001"}, "stage": "closed_won", "closed_at": "2026-11-02T10:07:00-05:00", `+
		`"owner": {"employee_id": "E-1022", "email": "rep1@example.com"}, "account": {"id": "ACC-301", "region": "us-west"}, `+
		`"primary_product": {"sku": "SKU-CRM-ENT", "quantity": "2"}, "amount": "%s", "currency": "USD", "source_channel": "outbound"}`, "1137.01"))
	now := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	proc := ingest.NewProcessor(nil, "", nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	var out int
	for b.Loop() {
		proc.Run(pl, payload, now, func(r ingest.Result) {
			if r.Event == nil {
				b.Fatalf("rejected: %v", r.Reject)
			}
			k, v := proc.Encode(r.Event)
			out += len(k) + len(v)
		})
	}
	_ = out
}
