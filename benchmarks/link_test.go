package benchmarks

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/ingest"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/accrue/accrue/transforms/sanitize"
)

// benchReps is the number of reps of the linking benchmarks; each has three
// versions (valid_from 2026-01-01, -06-01, -11-15), and half of them are
// known to the CRM under an e-mail.
const benchReps = 100_000

func benchDate(s string) reference.Date {
	d, err := reference.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// benchTables builds the reference tables of the linking benchmarks.
func benchTables() *reference.Tables {
	var tb reference.Tables
	for i := 0; i < benchReps; i++ {
		id := "R-" + strconv.Itoa(i)
		for j, from := range []string{"2026-01-01", "2026-06-01", "2026-11-15"} {
			tb.Reps.Put(reference.Rep{RepID: id, Team: "t" + strconv.Itoa(j), ManagerID: "M-" + strconv.Itoa(i%100), ValidFrom: benchDate(from)})
		}
		if i%2 == 0 {
			tb.Identities.Put(reference.Identity{Source: "crm", Key: "rep" + strconv.Itoa(i) + "@example.com", RepID: id, ValidFrom: reference.Forever})
		}
	}
	for i := 0; i < 1000; i++ {
		tb.Products.Put(reference.Product{ProductID: "P-" + strconv.Itoa(i), Category: "software", ValidFrom: benchDate("2026-01-01")})
		tb.Accounts.Put(reference.Account{AccountID: "A-" + strconv.Itoa(i), OwnerRepID: "R-" + strconv.Itoa(i), ValidFrom: reference.Forever})
	}
	for d := 0; d < 365; d++ {
		from := benchDate("2026-01-01") + reference.Date(d)
		tb.FX.Put(reference.FXRate{From: "EUR", To: "USD", Rate: decimal.New(108+int64(d%5), -2), ValidFrom: from})
	}
	return &tb
}

// BenchmarkAsOfLookups measures as-of lookups in the reference tables
// (100,000 reps with three versions each, a rate per day for a year): a
// rep by id, a rep through the identity map, and an FX rate, on one
// goroutine and on every core at once.
//
//	go test ./benchmarks -run '^$' -bench AsOfLookups
func BenchmarkAsOfLookups(b *testing.B) {
	tb := benchTables()
	ids := make([]string, 4096)
	emails := make([]string, 4096)
	days := make([]reference.Date, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range ids {
		n := rng.IntN(benchReps)
		ids[i] = "R-" + strconv.Itoa(n)
		emails[i] = "rep" + strconv.Itoa(n&^1) + "@example.com"
		days[i] = benchDate("2026-01-01") + reference.Date(rng.IntN(365))
	}
	lookups := map[string]func(i int) bool{
		"rep": func(i int) bool {
			_, ok := tb.Rep(ids[i&4095], days[i&4095])
			return ok
		},
		"identity+rep": func(i int) bool {
			id, ok := tb.Identity("crm", emails[i&4095], days[i&4095])
			if ok {
				_, ok = tb.Rep(id.RepID, days[i&4095])
			}
			return ok
		},
		"fx": func(i int) bool {
			_, ok := tb.Rate("USD", "EUR", days[i&4095])
			return ok
		},
	}
	for _, name := range []string{"rep", "identity+rep", "fx"} {
		fn := lookups[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if !fn(i) {
					b.Fatal("lookup missed")
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			var seed atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(seed.Add(1)) * 997
				for pb.Next() {
					if !fn(i) {
						panic("lookup missed")
					}
					i++
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
		})
	}
}

// BenchmarkLinkVsDedupe measures the linking stage (dedupe, full decode,
// as-of links, one credit per recipient, a sale's recipients kept in state)
// against the dedupe stage alone (ingest.Dedupe: reads the event's identity
// only, passes the record on) on the same 200,000 canonical events,
// alternating in one run, and reports both rates and their ratio
// (link/dedupe).
//
//	go test ./benchmarks -run '^$' -bench LinkVsDedupe -benchtime 3x
func BenchmarkLinkVsDedupe(b *testing.B) {
	b.Run("kfake", func(b *testing.B) {
		_, brokers := pt.Fake(b)
		runLinkVersus(b, brokers, 200_000)
	})
	b.Run("kafka", func(b *testing.B) {
		runLinkVersus(b, pt.RealBrokers(b), 200_000)
	})
}

func runLinkVersus(b *testing.B, brokers []string, n int) {
	tb := benchTables()
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	input := "bench-canonical-" + suffix
	pt.CreateTopics(b, brokers, benchPartitions, []string{input})
	produceCanonical(b, brokers, input, n)

	var dedupe, linked time.Duration
	v := newVersus(b, "go test ./benchmarks -run '^$' -bench LinkVsDedupe -benchtime 3x",
		map[string]any{"records": n, "partitions": benchPartitions, "batch": benchBatch}, "link", "dedupe")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		round := fmt.Sprintf("%s-%d", suffix, i)
		out := "bench-clean-" + round
		d := timeStageOf(b, brokers, input, "bench-dedupe-"+round, n, []string{out}, pipeline.Int64Codec{},
			ingest.NewDedupe(sanitize.NewDeduper(24*time.Hour), out))
		dedupe += d
		v.add(i, "dedupe", n, d)
		credited := "bench-credited-" + round
		proc, err := link.NewProcessor(link.Config{Linker: &link.Linker{Tables: tb, RequireProduct: true},
			Deduper: sanitize.NewDeduper(24 * time.Hour), Output: credited})
		if err != nil {
			b.Fatal(err)
		}
		d = timeStageOf(b, brokers, input, "bench-link-"+round, n, []string{credited}, link.EntryCodec{}, proc)
		linked += d
		v.add(i, "link", n, d)
	}
	b.StopTimer()
	dr := float64(n*b.N) / dedupe.Seconds()
	lr := float64(n*b.N) / linked.Seconds()
	b.ReportMetric(dr, "dedupe_rec/s")
	b.ReportMetric(lr, "link_rec/s")
	b.ReportMetric(lr/dr, "ratio")
	b.ReportMetric(0, "ns/op")
	v.write(brokers, nil)
}

// produceCanonical writes n canonical events keyed as ingest keys them:
// 90% sales (by rep id, by CRM e-mail, by account, some split in two),
// 10% returns of earlier sales, about 380 bytes each.
func produceCanonical(b *testing.B, brokers []string, topic string, n int) {
	produceEach(b, brokers, func(produce func(*kgo.Record)) {
		for _, e := range benchEvents(n) {
			produce(&kgo.Record{Topic: topic, Key: ingest.Key(e), Value: e.AppendJSON(nil)})
		}
	})
}

func benchEvents(n int) []*canonical.Event {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]*canonical.Event, 0, n)
	var sales []*canonical.Event
	for i := 0; i < n; i++ {
		e := &canonical.Event{Source: []string{"crm", "erp"}[i%2], TxnID: "T-" + strconv.Itoa(i), Type: canonical.Sale,
			EventTime: base.Add(time.Duration(i) * 150 * time.Second),
			ProductID: "P-" + strconv.Itoa(i%1000), AccountID: "A-" + strconv.Itoa(i%1000),
			Quantity:   decimal.NewNullDecimal(decimal.NewFromInt(int64(1 + i%5))),
			Amount:     canonical.Money{Value: decimal.New(int64(10000+i%90000), -2), Currency: "EUR"},
			Attributes: map[string]string{"channel": "outbound"}}
		switch {
		case i%10 == 9 && len(sales) > 0:
			orig := sales[(i*7)%len(sales)]
			e.Type, e.RefTxnID, e.Source, e.ProductID = canonical.Return, orig.TxnID, orig.Source, orig.ProductID
		case i%10 == 1:
			// no rep: credited to the account's owner
		case i%10 == 2 && e.Source == "crm":
			e.RepID = "rep" + strconv.Itoa((i%benchReps)&^1) + "@example.com"
		case i%10 == 3:
			e.Splits = []canonical.Split{{RepID: "R-" + strconv.Itoa(i%benchReps), Share: decimal.New(6, -1)},
				{RepID: "R-" + strconv.Itoa((i+1)%benchReps), Share: decimal.New(4, -1)}}
		default:
			e.RepID = "R-" + strconv.Itoa(i%benchReps)
		}
		if e.Type == canonical.Sale {
			sales = append(sales, e)
		}
		e.EventID = canonical.DefaultEventID(e.Source, e.TxnID, e.Type)
		out = append(out, e)
	}
	return out
}

// timeStageOf is timeStage for a processor with any state type.
func timeStageOf[S any](b *testing.B, brokers []string, input, name string, n int, outputs []string,
	codec pipeline.Codec[S], proc pipeline.Processor[S]) time.Duration {
	pt.CreateTopics(b, brokers, benchPartitions, append(outputs, name+".rejected"), name+".changelog")
	st := startStage(b, pipeline.Config{Name: name, Brokers: brokers, Inputs: []string{input}}, codec, proc)
	d := st.wait(b, func() bool { return st.in(input) >= int64(n) })
	st.stop(b)
	if rj := st.rejects(link.ReasonUnknownRep) + st.rejects("malformed_canonical"); rj > 0 {
		b.Fatalf("stage %s rejected %d events", name, rj)
	}
	return d
}
