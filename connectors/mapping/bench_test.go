package mapping

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func benchMap(b *testing.B, config, file string, copies int) {
	m := loadExample(b, config)
	raw, err := os.ReadFile(filepath.Join(examplesDir, file))
	if err != nil {
		b.Fatal(err)
	}
	payload := raw
	if copies > 1 { // NDJSON: more lines, same records
		payload = []byte(strings.Repeat(string(raw), copies))
	}
	records := 0
	m.Map(payload, func(Outcome) { records++ })
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for b.Loop() {
		m.Map(payload, func(Outcome) {})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*records), "ns/record")
}

func BenchmarkMapJSON(b *testing.B) { benchMap(b, "crm-opportunities", "crm-opportunities.ndjson", 10) }
func BenchmarkMapCSV(b *testing.B)  { benchMap(b, "pos-export", "pos-export.csv", 1) }
func BenchmarkMapDebezium(b *testing.B) {
	benchMap(b, "erp-orders-debezium", "erp-orders-debezium.ndjson", 10)
}

// BenchmarkMapJSONRecord maps one CRM record a payload, as the ingest stage
// does (one pass, reusing the event), then without reusing the event, then
// the fastjson way.
func BenchmarkMapJSONRecord(b *testing.B) {
	payload := []byte(`{"opportunity": {"id": "OPP-2001"}, "stage": "closed_won", "closed_at": "2026-11-02T10:07:00-05:00", ` +
		`"owner": {"employee_id": "E-1022", "email": "rep1@example.com"}, "account": {"id": "ACC-301", "region": "us-west"}, ` +
		`"primary_product": {"sku": "SKU-CRM-ENT", "quantity": "2"}, "amount": "1137.01", "currency": "USD", "source_channel": "outbound"}`)
	for _, way := range []string{"reuse", "one-pass", "fastjson"} {
		b.Run(way, func(b *testing.B) {
			m := loadExample(b, "crm-opportunities")
			if way == "fastjson" {
				m.trie = nil
			}
			var r *Reuse
			if way == "reuse" {
				r = new(Reuse)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				m.MapReuse(r, payload, func(o Outcome) {
					if o.Event == nil {
						b.Fatal(o.Reject)
					}
				})
			}
		})
	}
}
