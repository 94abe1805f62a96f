package benchmarks

import (
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/accrue"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
)

// accruePrograms are the programs of the accrual benchmarks, in the order
// a company adds them: an amount plan with quota, cap, spiffs, clawback,
// overrides two levels up, nudges and badges; a margin plan in EUR; a
// quantity plan; a count plan.
var accruePrograms = []string{`id: ae
version: 1
name: AE commission
currency: USD
timezone: UTC
period: month
effective_from: 2026-01-01
credit: {measure: amount}
quota: {default: "100000", by_role: {AE: "120000"}}
tiers:
  basis: attainment
  method: marginal
  bands: [{from: "0", rate: "0.02"}, {from: "0.5", rate: "0.05"}, {from: "1.0", rate: "0.08"}]
cap: {amount: "50000"}
spiffs:
  - {id: launch, when: 'product_id == "P-7"', fixed: "100", max_per_period: 10}
  - {id: kicker, rate: "0.01"}
clawback: {window_days: 90}
overrides: [{level: 1, rate: "0.01"}, {level: 2, rate: "0.005"}]
nudges:
  attainment_crossed: ["0.5", "0.8", "1.0"]
  near_next_tier: {within: "0.1"}
badges:
  - {id: first-sale, metric: count, at_least: "1"}
  - {id: quota-club, metric: attainment, at_least: "1.0"}
`, `id: gm
version: 1
name: Margin
currency: EUR
timezone: Europe/Berlin
period: quarter
effective_from: 2026-01-01
credit: {measure: margin}
tiers:
  basis: measure
  method: retroactive
  bands: [{from: "0", rate: "0.03"}, {from: "50000", rate: "0.05"}]
clawback: {window_days: 120}
overrides: [{level: 1, rate: "0.005"}]
`, `id: units
version: 1
name: Units
currency: USD
timezone: UTC
period: quarter
effective_from: 2026-01-01
credit: {measure: quantity}
tiers:
  basis: measure
  method: marginal
  bands: [{from: "0", rate: "2.5"}, {from: "400", rate: "4"}]
`, `id: deals
version: 1
name: Deals
currency: JPY
timezone: Asia/Tokyo
period: year
effective_from: 2026-01-01
credit: {measure: count}
tiers:
  basis: measure
  method: marginal
  bands: [{from: "0", rate: "1000"}]
spiffs: [{id: deal, fixed: "500"}]
`}

// accrueBatch is the accrual stage's batch in the benchmarks, the same as
// the trivial stage's: a credit makes three to four records (its accrual,
// its sale's changelog entry, and its share of the snapshots, payable
// amounts, period entries and summed override records written once per
// batch), so a batch is a transaction of some 40,000 records.
// `accrue stage accrue` defaults to the same.
const accrueBatch = benchBatch

// accrueReps is the sales force of the accrual benchmarks: 2,000 reps
// under 40 managers under 4 directors.
const accrueReps = 2000

func accrueTables() *reference.Tables {
	var tb reference.Tables
	from := benchDate("2026-01-01")
	for i := 0; i < 4; i++ {
		tb.Reps.Put(reference.Rep{RepID: "D-" + strconv.Itoa(i), Role: "DIR", ValidFrom: from})
	}
	for i := 0; i < 40; i++ {
		tb.Reps.Put(reference.Rep{RepID: "M-" + strconv.Itoa(i), Role: "MGR", ManagerID: "D-" + strconv.Itoa(i%4), ValidFrom: from})
	}
	for i := 0; i < accrueReps; i++ {
		tb.Reps.Put(reference.Rep{RepID: "R-" + strconv.Itoa(i), Role: []string{"AE", "AE", "SE"}[i%3],
			ManagerID: "M-" + strconv.Itoa(i%40), ValidFrom: from})
	}
	tb.FX.Put(reference.FXRate{From: "EUR", To: "USD", Rate: decimal.RequireFromString("1.08"), ValidFrom: from})
	tb.FX.Put(reference.FXRate{From: "USD", To: "JPY", Rate: decimal.RequireFromString("151.37"), ValidFrom: from})
	tb.FX.Put(reference.FXRate{From: "EUR", To: "JPY", Rate: decimal.RequireFromString("162.9"), ValidFrom: from})
	return &tb
}

func accrueCatalog(b *testing.B, n int) *program.Catalog {
	cat := program.NewCatalog()
	for _, doc := range accruePrograms[:n] {
		p, err := program.Parse("bench.yaml", []byte(doc))
		if err != nil {
			b.Fatal(err)
		}
		if err := cat.Add(p); err != nil {
			b.Fatal(err)
		}
	}
	return cat
}

// accrueCredits are n credits of sales.credited as the linking stage
// writes them, over September to November: sales in USD and EUR with
// margin and quantity, a fifth of them split in two; one credit in ten a
// return of part of an earlier sale of the same rep; one in fifty an
// adjustment. About 560 bytes each.
func accrueCredits(n int) []link.Credit {
	base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	step := 91 * 24 * time.Hour / time.Duration(n)
	out := make([]link.Credit, 0, n+n/5)
	var sales []*canonical.Event
	half := decimal.New(5, -1)
	for i := 0; len(out) < n; i++ {
		rep := "R-" + strconv.Itoa(i*7%accrueReps)
		e := &canonical.Event{Source: "crm", TxnID: "T-" + strconv.Itoa(i), Type: canonical.Sale,
			EventTime: base.Add(time.Duration(i) * step), RepID: rep, ProductID: "P-" + strconv.Itoa(i%50),
			Quantity:   decimal.NewNullDecimal(decimal.NewFromInt(int64(1 + i%5))),
			Amount:     canonical.Money{Value: decimal.New(int64(10000+i*37%900000), -2), Currency: []string{"USD", "USD", "EUR"}[i%3]},
			Attributes: map[string]string{"channel": "outbound"}}
		e.Margin = &canonical.Money{Value: e.Amount.Value.Mul(decimal.New(3, -1)).Round(2), Currency: e.Amount.Currency}
		switch {
		case i%10 == 9 && len(sales) > 0:
			orig := sales[(i*13)%len(sales)]
			e.Type, e.RefTxnID, e.RepID, e.ProductID = canonical.Return, orig.TxnID, orig.RepID, orig.ProductID
			e.Amount = canonical.Money{Value: orig.Amount.Value.Div(decimal.NewFromInt(10)).Round(2), Currency: orig.Amount.Currency}
			e.Margin, e.Quantity = nil, decimal.NullDecimal{}
		case i%50 == 7:
			e.Type, e.ProductID, e.Margin, e.Quantity = canonical.Adjustment, "", nil, decimal.NullDecimal{}
		case i%5 == 3:
			e.Splits = []canonical.Split{{RepID: rep, Share: half}, {RepID: "R-" + strconv.Itoa((i*7+1)%accrueReps), Share: half}}
			e.RepID = ""
		}
		e.EventID = canonical.DefaultEventID(e.Source, e.TxnID, e.Type)
		if e.Type == canonical.Sale && e.Splits == nil {
			sales = append(sales, e)
		}
		if len(e.Splits) > 0 {
			for _, s := range e.Splits {
				out = append(out, link.Credit{Event: e, RepID: s.RepID, Share: s.Share, Via: link.ViaRep})
			}
			continue
		}
		out = append(out, link.Credit{Event: e, RepID: e.RepID, Share: decimal.NewFromInt(1), Via: link.ViaRep})
	}
	return out[:n]
}

// accrueOffline applies the credits as `accrue simulate` would, in one
// store, and returns the state they leave.
func accrueOffline(b *testing.B, cat *program.Catalog, tb *reference.Tables, credits []link.Credit) accrue.MemoryStore {
	e, err := accrue.New(accrue.CatalogPrograms(cat), tb)
	if err != nil {
		b.Fatal(err)
	}
	s := accrue.MemoryStore{}
	for i := range credits {
		applyOffline(b, e, s, &credits[i], nil)
	}
	return s
}

// applyOffline applies credit to s and each override record it makes
// right after it, as `accrue simulate` does, handing emit (when set)
// every output.
func applyOffline(b *testing.B, e *accrue.Engine, s accrue.MemoryStore, c *link.Credit, emit func(*accrue.Output)) {
	out, err := e.ApplyCredit(s, c)
	if err != nil {
		b.Fatalf("credit %s: %v", c.ID(), err)
	}
	if emit != nil {
		emit(&out)
	}
	for j := range out.Overrides {
		o, err := e.ApplyOverride(s, &out.Overrides[j])
		if err != nil {
			b.Fatal(err)
		}
		if emit != nil {
			emit(&o)
		}
	}
}

// BenchmarkAccrueVsTrivial measures the accrual stage (decode a credit,
// apply it under the programs, emit its accruals, nudges and awards; once
// per batch the latest snapshots, the summed payable amounts and the
// summed override records; apply the override records when they come
// back) against the trivial-operator stage on the same 50,000 credits,
// alternating in one run, with 1 and 4 programs. Both read the same input
// records: the ratio is the accrual stage's credits/s over the trivial
// stage's records/s. It also reports what the accrual stage wrote per
// credit (every output and changelog record, and the override records
// among them), and the state the credits leave, from the changelog codec:
// bytes per (program, period, rep) entry, per sale entry, and all state
// per (program, period, rep).
//
//	go test ./benchmarks -run '^$' -bench AccrueVsTrivial -benchtime 3x
func BenchmarkAccrueVsTrivial(b *testing.B) {
	for _, progs := range []int{1, 4} {
		b.Run(fmt.Sprintf("kfake/programs=%d", progs), func(b *testing.B) {
			_, brokers := pt.Fake(b)
			runAccrueVersus(b, brokers, 50_000, progs)
		})
		b.Run(fmt.Sprintf("kafka/programs=%d", progs), func(b *testing.B) {
			runAccrueVersus(b, pt.RealBrokers(b), 50_000, progs)
		})
	}
}

func runAccrueVersus(b *testing.B, brokers []string, n, programs int) {
	tb := accrueTables()
	cat := accrueCatalog(b, programs)
	credits := accrueCredits(n)
	// The state's figures are taken now, and the credits dropped once
	// produced: neither is live while the stages run, as neither would be
	// in a stage's process (the garbage collector would mark them).
	reportState := stateReport(accrueOffline(b, cat, tb, credits))

	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	input := "bench-credited-" + suffix
	pt.CreateTopics(b, brokers, benchPartitions, []string{input})
	produceCredits(b, brokers, input, credits)
	credits = nil
	runtime.GC()

	var trivial, accrued, matched time.Duration
	var written accrueWritten
	var shape outputShape
	v := newVersus(b, "go test ./benchmarks -run '^$' -bench AccrueVsTrivial -benchtime 3x",
		map[string]any{"credits": n, "programs": programs, "reps": accrueReps, "partitions": benchPartitions, "batch": accrueBatch},
		"accrual", "trivial", "matched")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		round := fmt.Sprintf("%s-%d", suffix, i)
		dt := runStage(b, brokers, input, round, n)
		trivial += dt
		v.add(i, "trivial", n, dt)
		d, w := timeAccrue(b, brokers, input, "bench-accrue-"+round, n, cat, tb)
		accrued += d
		v.add(i, "accrue", n, d)
		written.records += w.records
		written.overrides += w.overrides
		if i == 0 {
			b.StopTimer()
			shape = measureOutput(b, brokers, "bench-accrue-"+round, n)
			b.StartTimer()
		}
		dm := runMatched(b, brokers, input, round, n, shape)
		matched += dm
		v.add(i, "matched", n, dm)
	}
	b.StopTimer()
	tr := float64(n*b.N) / trivial.Seconds()
	cr := float64(n*b.N) / accrued.Seconds()
	mr := float64(n*b.N) / matched.Seconds()
	b.ReportMetric(tr, "trivial_rec/s")
	b.ReportMetric(cr, "credits/s")
	b.ReportMetric(cr/tr, "ratio")
	b.ReportMetric(mr, "matched_rec/s")
	b.ReportMetric(cr/mr, "ratio_matched")
	b.ReportMetric(shape.perInput, "out/credit")
	b.ReportMetric(shape.bytes, "B/out")
	b.ReportMetric(float64(written.overrides)/float64(n*b.N), "overrides/credit")
	b.ReportMetric(0, "ns/op")
	reportState(b)
	v.write(brokers, map[string]any{"out_per_credit": shape.perInput, "bytes_per_out": shape.bytes,
		"overrides_per_credit": float64(written.overrides) / float64(n*b.N)})
}

// outputShape is what an accrual stage wrote per credit: records (every
// output and changelog record) and their mean size, key and value.
type outputShape struct{ perInput, bytes float64 }

// measureOutput reads back what the accrual stage name wrote for n
// credits.
func measureOutput(b *testing.B, brokers []string, name string, n int) outputShape {
	var recs, bytes int
	for _, topic := range append(accrueTopics(name).all(), name+".changelog") {
		for _, r := range pt.ReadAll(b, brokers, topic) {
			recs++
			bytes += len(r.Key) + len(r.Value)
		}
	}
	return outputShape{perInput: float64(recs) / float64(n), bytes: float64(bytes) / float64(recs)}
}

// matchedOutputs is how many topics the output-matched stage spreads its
// records over, as the accrual stage spreads its own over its outputs and
// changelog.
const matchedOutputs = 4

// runMatched is the trivial stage writing what the accrual stage writes:
// per input record, shape.perInput records (on average) of shape.bytes,
// over matchedOutputs topics, and nothing else. Against it, the accrual
// stage's ratio is the cost of its work alone; against the trivial stage,
// the cost of its work and of the records the work must write.
func runMatched(b *testing.B, brokers []string, input, round string, n int, shape outputShape) time.Duration {
	var outputs []string
	for i := range matchedOutputs {
		outputs = append(outputs, fmt.Sprintf("bench-matched-%s-out%d", round, i))
	}
	var seen atomic.Int64
	return timeStage(b, brokers, input, "bench-matched-"+round, n, outputs,
		pipeline.ProcessorFunc[int64](func(c *pipeline.Context[int64], r *kgo.Record) error {
			i := seen.Add(1) - 1
			k := int(float64(i+1)*shape.perInput) - int(float64(i)*shape.perInput)
			v := r.Value[:min(len(r.Value), max(int(shape.bytes)-len(r.Key), 1))]
			for j := range k {
				c.Emit(outputs[(int(i)+j)%matchedOutputs], r.Key, v)
			}
			return nil
		}))
}

// stateReport measures the state's size as the changelog holds it: key
// and value bytes per (program, period, rep) entry and per sale entry, and
// all of it per (program, period, rep); the returned function reports it.
func stateReport(s accrue.MemoryStore) func(b *testing.B) {
	var periods, sales, pBytes, sBytes int
	var buf []byte
	for k, v := range s {
		buf = accrue.Codec{}.Encode(buf[:0], v)
		switch {
		case v.Period != nil:
			periods++
			pBytes += len(k) + len(buf)
		case v.Sale != nil:
			sales++
			sBytes += len(k) + len(buf)
		}
	}
	return func(b *testing.B) {
		b.ReportMetric(float64(pBytes)/float64(periods), "B/period")
		b.ReportMetric(float64(sBytes)/float64(sales), "B/sale")
		b.ReportMetric(float64(pBytes+sBytes)/float64(periods), "state_B/period")
	}
}

func produceCredits(b *testing.B, brokers []string, topic string, credits []link.Credit) {
	produceEach(b, brokers, func(produce func(*kgo.Record)) {
		for i := range credits {
			produce(&kgo.Record{Topic: topic, Key: []byte(credits[i].RepID), Value: credits[i].AppendJSON(nil)})
		}
	})
}

// accrueWritten counts what an accrual stage run wrote: every output and
// changelog record, and the override records among them.
type accrueWritten struct{ records, overrides int64 }

// timeAccrue runs the accrual stage named name over input until its n
// credits, and every override record they made, are committed, and
// returns the time from the first record processed to then.
func timeAccrue(b *testing.B, brokers []string, input, name string, n int, cat *program.Catalog, tb *reference.Tables) (time.Duration, accrueWritten) {
	topics := accrueTopics(name)
	pt.CreateTopics(b, brokers, benchPartitions, append(topics.all(), name+".rejected"), name+".changelog")
	st := startAccrue(b, brokers, name, input, topics, cat, tb, "")
	d := st.wait(b, func() bool { return accrueDone(st, input, topics, int64(n)) })
	st.stop(b)
	checkAccrueRejects(b, st)
	return d, accrueWrote(st, name, topics)
}

// accrueOutputs are the topics an accrual stage writes.
type accrueOutputs struct{ overrides, accruals, attainment, nudges, awards, payable string }

func accrueTopics(prefix string) accrueOutputs {
	return accrueOutputs{prefix + "-overrides", prefix + "-accruals", prefix + "-attainment", prefix + "-nudges",
		prefix + "-awards", prefix + "-payable"}
}

func (t accrueOutputs) all() []string {
	return []string{t.overrides, t.accruals, t.attainment, t.nudges, t.awards, t.payable}
}

// startAccrue starts the accrual stage named name over the credits of
// input and its own override records, with every core, as `accrue stage
// accrue` runs; deadLetter "" is name.rejected.
func startAccrue(b *testing.B, brokers []string, name, input string, topics accrueOutputs, cat *program.Catalog, tb *reference.Tables, deadLetter string) *runningStage {
	proc, err := accrue.NewProcessor(accrue.Config{Tables: tb, Catalog: cat, Overrides: topics.overrides,
		Accruals: topics.accruals, Attainment: topics.attainment, Nudges: topics.nudges, Awards: topics.awards,
		Payable: topics.payable, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	return startStage(b, pipeline.Config{Name: name, Brokers: brokers, Inputs: []string{input, topics.overrides},
		MaxPollRecords: accrueBatch, Parallelism: runtime.GOMAXPROCS(0), DeadLetter: deadLetter}, accrue.EntryCodec{}, proc)
}

// accrueDone: both counters move when a transaction commits, so once
// every credit is in and every override record written has come back,
// the work is done.
func accrueDone(st *runningStage, input string, topics accrueOutputs, n int64) bool {
	return st.in(input) >= n && st.in(topics.overrides) >= st.out(topics.overrides)
}

func checkAccrueRejects(b *testing.B, st *runningStage) {
	b.Helper()
	var rejects []string
	for _, r := range []string{accrue.ReasonInvalidInput, accrue.ReasonFXRateMissing, accrue.ReasonUnknownOriginal,
		accrue.ReasonReturnExceedsOriginal, accrue.ReasonUnknownRep, accrue.ReasonUnknownProgram} {
		if n := st.rejects(r); n > 0 {
			rejects = append(rejects, fmt.Sprintf("%s %d", r, n))
		}
	}
	if len(rejects) > 0 {
		b.Fatalf("stage %s rejected inputs: %s", st.name, strings.Join(rejects, ", "))
	}
}

// accrueWrote counts every output and changelog record the stage wrote.
func accrueWrote(st *runningStage, name string, topics accrueOutputs) accrueWritten {
	return accrueWritten{overrides: st.out(topics.overrides), records: st.out(append(topics.all(), name+".changelog")...)}
}

// startClock starts the clock at the first record and passes ticks on.
type startClock struct {
	*accrue.Processor
	started *atomic.Int64
}

func (s startClock) Process(c *pipeline.Context[accrue.Entry], r *kgo.Record) error {
	if s.started.Load() == 0 {
		s.started.Store(time.Now().UnixNano())
	}
	return s.Processor.Process(c, r)
}
