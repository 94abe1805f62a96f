package benchmarks

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/mapping"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/ingest"
	"github.com/accrue/accrue/transforms/sanitize"
)

// crmConfig maps the JSON records of BenchmarkIngestVsTrivial.
const crmConfig = `source: crm
format: json
time: {layout: rfc3339}
type: {field: stage, map: {closed_won: sale}}
fields:
  txn_id: id
  event_time: closed_at
  rep_id: owner.id
  account_id: account.id
  product_id: product.sku
  quantity: product.quantity
  amount: {value: amount, currency: currency}
  attributes.channel: channel
`

// crmGate is a typical gatekeeper config: required fields, bounds, a time
// window and one rule.
const crmGate = `defaults:
  required: [account_id, product_id]
  amount: {min: "0", max: "1000000"}
  event_time: {future_tolerance: 10m, horizon: 3650d}
  normalize: {trim: true, upper: [amount.currency]}
  rules:
    - {name: no_test_accounts, when: 'account_id startsWith "TEST-"', reason: test_account}
`

// BenchmarkIngestVsTrivial measures the ingest stage (JSON decode, mapping,
// gatekeepers, canonical encode) against the trivial-operator stage on the
// same input, alternating in one run, and reports both rates and their
// ratio (ingest/trivial).
//
//	go test ./benchmarks -run '^$' -bench IngestVsTrivial -benchtime 3x
func BenchmarkIngestVsTrivial(b *testing.B) {
	b.Run("kfake", func(b *testing.B) {
		_, brokers := pt.Fake(b)
		runIngestVersus(b, brokers, 200_000)
	})
	b.Run("kafka", func(b *testing.B) {
		runIngestVersus(b, pt.RealBrokers(b), 200_000)
	})
}

func runIngestVersus(b *testing.B, brokers []string, n int) {
	cfg, err := mapping.Parse([]byte(crmConfig), "crm.yaml")
	if err != nil {
		b.Fatal(err)
	}
	m, err := mapping.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	gcfg, err := sanitize.ParseConfig([]byte(crmGate))
	if err != nil {
		b.Fatal(err)
	}
	pl := &ingest.Pipeline{Mapper: m, Gate: sanitize.MustCompile(gcfg)}

	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	input := "bench-crm-" + suffix
	pt.CreateTopics(b, brokers, benchPartitions, []string{input})
	produceCRM(b, brokers, input, n)

	var trivial, ing time.Duration
	v := newVersus(b, "go test ./benchmarks -run '^$' -bench IngestVsTrivial -benchtime 3x",
		map[string]any{"records": n, "source": "CRM opportunities (JSON, about 330 bytes)", "partitions": benchPartitions, "batch": benchBatch},
		"ingest", "trivial")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		round := fmt.Sprintf("%s-%d", suffix, i)
		d := runStage(b, brokers, input, round, n)
		trivial += d
		v.add(i, "trivial", n, d)
		out := "bench-canonical-" + round
		proc := ingest.NewProcessor(map[string]*ingest.Pipeline{input: pl}, out, nil)
		d = timeStage(b, brokers, input, "bench-ingest-"+round, n, []string{out}, proc)
		ing += d
		v.add(i, "ingest", n, d)
	}
	b.StopTimer()
	tr := float64(n*b.N) / trivial.Seconds()
	ir := float64(n*b.N) / ing.Seconds()
	b.ReportMetric(tr, "trivial_rec/s")
	b.ReportMetric(ir, "ingest_rec/s")
	b.ReportMetric(ir/tr, "ratio")
	b.ReportMetric(0, "ns/op")
	v.write(brokers, nil)
}

// produceCRM writes n CRM opportunities of about 330 bytes each.
func produceCRM(b *testing.B, brokers []string, topic string, n int) {
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	produceEach(b, brokers, func(produce func(*kgo.Record)) {
		for i := 0; i < n; i++ {
			v := fmt.Sprintf(`{"id":"OPP-%d","stage":"closed_won","closed_at":%q,"owner":{"id":"R-%d","email":"rep%d@example.com"},`+
				`"account":{"id":"ACC-%d","region":"us-west"},"product":{"sku":"SKU-%d","quantity":"%d"},`+
				`"amount":"%d.%02d","currency":"usd","channel":"outbound"}`,
				i, base.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i%500, i%500, i%900, i%40, 1+i%5, 100+i%9000, i%100)
			produce(&kgo.Record{Topic: topic, Key: []byte("R-" + strconv.Itoa(i%500)), Value: []byte(v)})
		}
	})
}
