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
