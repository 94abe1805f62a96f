package accrue

import (
	"fmt"
	"strings"
	"testing"

	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/link"
)

// benchPrograms are n programs of the kinds a company runs side by side:
// amount with overrides, spiffs, cap, nudges and badges; margin; quantity;
// count; then more amount programs.
func benchPrograms(n int) []*program.Program {
	c := d("5000")
	full := func(p *program.Program) {
		p.Cap = &c
		p.Spiffs = []program.Spiff{{ID: "launch", Fixed: nd("50"), MaxPerPeriod: 10}, {ID: "kicker", Rate: nd("0.01")}}
		p.Overrides = []program.Override{{Level: 1, Rate: d("0.01")}, {Level: 2, Rate: d("0.005")}}
		p.Clawback = &program.Clawback{WindowDays: 90}
		p.Nudges = program.Nudges{AttainmentCrossed: []dec{d("0.5"), d("1.0")}, NearNextTierWithin: nd("0.1")}
		p.Badges = []program.Badge{{ID: "first", Metric: program.MetricCount, AtLeast: d("1")},
			{ID: "club", Metric: program.MetricAttainment, AtLeast: d("1")}}
	}
	kinds := []func(*program.Program){
		full,
		func(p *program.Program) { p.Credit.Measure = program.Margin },
		func(p *program.Program) { p.Credit.Measure = program.Quantity; measureBands("0:5")(p) },
		func(p *program.Program) { p.Credit.Measure = program.Count; measureBands("0:10")(p) },
	}
	var out []*program.Program
	for i := range n {
		out = append(out, plan(kinds[i%len(kinds)], func(p *program.Program) { p.ID = fmt.Sprintf("p%02d", i) }))
	}
	return out
}

// benchCredits are sales by 50 reps (a third split in two), in USD and EUR,
// over one month.
func benchCredits(b *testing.B, n int) []link.Credit {
	tb := tables(b, benchReps(), "", defaultFX)
	var lines []string
	for i := range n {
		opts := []evOpt{margin("300 USD"), qty("2")}
		rep := fmt.Sprintf("R-%d", i%50)
		if i%3 == 0 {
			opts = append(opts, splits(rep+":0.5", fmt.Sprintf("R-%d:0.5", (i+7)%50)))
			rep = ""
		}
		cur := "USD"
		if i%4 == 0 {
			cur = "EUR"
			opts[0] = margin("300 EUR")
		}
		lines = append(lines, sale(fmt.Sprintf("S%d", i), fmt.Sprintf("2026-11-%02dT10:00:00Z", 1+i%28), rep, fmt.Sprintf("%d.%02d %s", 100+i%5000, i%100, cur), opts...))
	}
	l := &link.Linker{Tables: tb}
	orig := link.MemoryOriginals{}
	var out []link.Credit
	for _, line := range lines {
		cs, miss, rj := l.Link(credit(b, tb, line, "").Event, orig)
		if miss != nil || rj != nil {
			b.Fatal(miss, rj)
		}
		out = append(out, cs...)
	}
	return out
}

func benchReps() string {
	var s strings.Builder
	s.WriteString(`{"rep_id":"M-1","role":"MGR","manager_id":"D-1","valid_from":"2026-01-01"}` + "\n")
	s.WriteString(`{"rep_id":"D-1","role":"DIR","valid_from":"2026-01-01"}` + "\n")
	for i := range 50 {
		fmt.Fprintf(&s, `{"rep_id":"R-%d","role":"AE","team":"t%d","manager_id":"M-1","valid_from":"2026-01-01"}`+"\n", i, i%5)
	}
	return s.String()
}

// BenchmarkApplyCredit is the engine's cost per credited sale, and per
// program, with override records applied as they come.
func BenchmarkApplyCredit(b *testing.B) {
	for _, n := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("programs=%d", n), func(b *testing.B) {
			tb := tables(b, benchReps(), "", defaultFX)
			e, err := New(benchPrograms(n), tb)
			if err != nil {
				b.Fatal(err)
			}
			credits := benchCredits(b, 4096)
			s := MemoryStore{}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				out, err := e.ApplyCredit(s, &credits[i%len(credits)])
				if err != nil {
					b.Fatal(err)
				}
				for j := range out.Overrides {
					if _, err := e.ApplyOverride(s, &out.Overrides[j]); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/credit/program")
		})
	}
}

// BenchmarkSimulation is `accrue simulate`'s cost per event: decode, the
// gatekeepers, deduplication, linking and the engine, with 4 programs.
func BenchmarkSimulation(b *testing.B) {
	tb := tables(b, benchReps(), "", defaultFX)
	e, err := New(benchPrograms(4), tb)
	if err != nil {
		b.Fatal(err)
	}
	const n = 4096
	lines := make([][]byte, n)
	for i := range n {
		lines[i] = []byte(sale(fmt.Sprintf("S%d", i), fmt.Sprintf("2026-11-%02dT10:00:00Z", 1+i%28),
			fmt.Sprintf("R-%d", i%50), fmt.Sprintf("%d.00 USD", 100+i%5000), qty("1"), margin("30 USD")))
	}
	b.ReportAllocs()
	b.ResetTimer()
	var s *Simulation
	for i := range b.N {
		if i%n == 0 {
			b.StopTimer()
			s = NewSimulation(e, tb)
			b.StartTimer()
		}
		s.Event(i%n+1, lines[i%n])
	}
}

// benchInputs are credits as sales.credited carries them, and an engine of
// n programs over the same reference data.
func benchInputs(b *testing.B, n int) (*Engine, [][]byte) {
	tb := tables(b, benchReps(), "", defaultFX)
	e, err := New(benchPrograms(n), tb)
	if err != nil {
		b.Fatal(err)
	}
	credits := benchCredits(b, 4096)
	recs := make([][]byte, len(credits))
	for i := range credits {
		recs[i] = credits[i].AppendJSON(nil)
	}
	return e, recs
}

// changelog is a Store that encodes every value put, as the stage's
// changelog does for every key an input changed.
type changelog struct {
	MemoryStore
	buf []byte
}

func (c *changelog) Put(k string, v State) {
	c.buf = Codec{}.Encode(c.buf[:0], v)
	c.MemoryStore[k] = v
}

// appendOutput encodes every record of out, as the stage emits them.
func appendOutput(buf []byte, out *Output) []byte {
	for i := range out.Accruals {
		buf = out.Accruals[i].AppendJSON(buf)
	}
	for i := range out.Snapshots {
		buf = out.Snapshots[i].AppendJSON(buf)
	}
	for i := range out.Nudges {
		buf = out.Nudges[i].AppendJSON(buf)
	}
	for i := range out.Awards {
		buf = out.Awards[i].AppendJSON(buf)
	}
	for i := range out.Overrides {
		buf = out.Overrides[i].AppendJSON(buf)
	}
	return buf
}

// BenchmarkCreditPath is the accrual stage's own work per credit, short of
// Kafka: decode the record (DecodeCredit), apply it, apply the override records it makes
// (as they come back on the managers' partitions), encode every output
// record and every state value it changed.
func BenchmarkCreditPath(b *testing.B) {
	for _, n := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("programs=%d", n), func(b *testing.B) {
			e, recs := benchInputs(b, n)
			s := &changelog{MemoryStore: MemoryStore{}}
			var buf []byte
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				c, err := DecodeCredit(recs[i%len(recs)])
				if err != nil {
					b.Fatal(err)
				}
				out, err := e.ApplyCredit(s, c)
				if err != nil {
					b.Fatal(err)
				}
				buf = appendOutput(buf[:0], &out)
				for j := range out.Overrides {
					o, err := e.ApplyOverride(s, &out.Overrides[j])
					if err != nil {
						b.Fatal(err)
					}
					buf = appendOutput(buf[:0], &o)
				}
			}
		})
	}
}

// BenchmarkDecodeCredit reads records of sales.credited with
// link.DecodeCredit (encoding/json); BenchmarkStageDecodeCredit with the
// stage's DecodeCredit.
func BenchmarkDecodeCredit(b *testing.B) {
	_, recs := benchInputs(b, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := link.DecodeCredit(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// benchStates are the state values a month of the benchmark's sales leaves,
// periods and sales alike.
func benchStates(b *testing.B) []State {
	e, recs := benchInputs(b, 4)
	s := MemoryStore{}
	for _, r := range recs {
		c, err := link.DecodeCredit(r)
		if err != nil {
			b.Fatal(err)
		}
		out, err := e.ApplyCredit(s, c)
		if err != nil {
			b.Fatal(err)
		}
		for j := range out.Overrides {
			if _, err := e.ApplyOverride(s, &out.Overrides[j]); err != nil {
				b.Fatal(err)
			}
		}
	}
	var out []State
	for _, v := range s {
		out = append(out, v)
	}
	return out
}

// BenchmarkCodec encodes and decodes state values for the changelog.
func BenchmarkCodec(b *testing.B) {
	states := benchStates(b)
	enc := make([][]byte, len(states))
	size := 0
	for i, v := range states {
		enc[i] = Codec{}.Encode(nil, v)
		size += len(enc[i])
	}
	b.Run("encode", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for i := range b.N {
			buf = Codec{}.Encode(buf[:0], states[i%len(states)])
		}
		b.ReportMetric(float64(size)/float64(len(states)), "bytes/value")
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			if _, err := (Codec{}).Decode(enc[i%len(enc)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOutputJSON encodes what one credit produces with 4 programs.
func BenchmarkOutputJSON(b *testing.B) {
	e, recs := benchInputs(b, 4)
	s := MemoryStore{}
	var outs []Output
	for _, r := range recs[:512] {
		c, err := link.DecodeCredit(r)
		if err != nil {
			b.Fatal(err)
		}
		out, err := e.ApplyCredit(s, c)
		if err != nil {
			b.Fatal(err)
		}
		outs = append(outs, out)
	}
	var buf []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		buf = appendOutput(buf[:0], &outs[i%len(outs)])
	}
}

// BenchmarkApplyCreditExpr is BenchmarkApplyCredit with 4 programs whose
// first has a credit.filter on the product and the rep, and spiffs on an
// attribute and the currency, as real programs do.
func BenchmarkApplyCreditExpr(b *testing.B) {
	var products strings.Builder
	for i := range 20 {
		fmt.Fprintf(&products, `{"product_id":"P-%d","category":"%s","price":%d,"valid_from":"2026-01-01"}`+"\n",
			i, []string{"software", "services", "hardware"}[i%3], 10*i)
	}
	tb := tables(b, benchReps(), products.String(), defaultFX)
	progs := benchPrograms(4)
	progs[0].Credit.Filter = mustExpr(`product.category in ["software", "services"] and rep.role == "AE"`)
	progs[0].Spiffs[0].When = mustExpr(`attributes["channel"] == "online"`)
	progs[0].Spiffs[1].When = mustExpr(`currency == "EUR" and product.price > 50`)
	e, err := New(progs, tb)
	if err != nil {
		b.Fatal(err)
	}
	credits := benchCredits(b, 4096)
	for i := range credits {
		ev := *credits[i].Event
		ev.ProductID = fmt.Sprintf("P-%d", i%20)
		ev.Attributes = map[string]string{"channel": []string{"online", "retail"}[i%2]}
		credits[i].Event = &ev
	}
	s := MemoryStore{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		out, err := e.ApplyCredit(s, &credits[i%len(credits)])
		if err != nil {
			b.Fatal(err)
		}
		for j := range out.Overrides {
			if _, err := e.ApplyOverride(s, &out.Overrides[j]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkDecodeOverride reads override records as the stage gets them
// back from TopicOverrides.
func BenchmarkDecodeOverride(b *testing.B) {
	e, recs := benchInputs(b, 1)
	s := MemoryStore{}
	var overrides [][]byte
	for _, r := range recs[:256] {
		c, err := DecodeCredit(r)
		if err != nil {
			b.Fatal(err)
		}
		out, err := e.ApplyCredit(s, c)
		if err != nil {
			b.Fatal(err)
		}
		for j := range out.Overrides {
			overrides = append(overrides, out.Overrides[j].AppendJSON(nil))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := DecodeOverride(overrides[i%len(overrides)]); err != nil {
			b.Fatal(err)
		}
	}
}
