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
