package accrue

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/link"
)

// BenchmarkTimers measures a partition's timers: n periods of one program
// with inactivity and period_ending nudges, each with its timers armed.
//
//   - rebuild: the index made again from the state (after a restore, an
//     abort, new programs), in timers held per second;
//   - fire: the watermark passes every timer, an hour at a time: each
//     period is checked twice, written back twice, and fires an
//     inactivity and a period_ending nudge; in periods per second;
//   - arm: credits applied through the partition's clock (each re-arms
//     its rep's timer), against the same credits without timers.
func BenchmarkTimers(b *testing.B) {
	e, err := New(plansOf(plan(inactivity(7), periodEnding(5, "0.5"))), nil)
	if err != nil {
		b.Fatal(err)
	}
	base := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	for _, n := range []int{10_000, 100_000} {
		s := MemoryStore{}
		for i := range n {
			rep := fmt.Sprintf("R-%d", i)
			s[PeriodKey("ae", "2026-11", rep)] = State{Period: &PeriodState{ProgramID: "ae", Period: "2026-11", RepID: rep,
				Measure: num("4000"), Count: num("1"),
				LastSale: base.Add(time.Duration(i) * time.Second)}}
		}
		b.Run(fmt.Sprintf("rebuild/timers=%d", n), func(b *testing.B) {
			var x timerIndex
			for b.Loop() {
				x.rebuild(e, memoryScan{s})
			}
			if x.held() != n {
				b.Fatalf("%d held", x.held())
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "timers/s")
		})
		b.Run(fmt.Sprintf("fire/timers=%d", n), func(b *testing.B) {
			fired := 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				st := maps.Clone(s)
				var k timerClock
				k.watermark = base
				k.timers.rebuild(e, memoryScan{st})
				b.StartTimer()
				// The watermark moves on an hour at a time: the
				// inactivity timers fall due over a day, the
				// period_ending ones all at once.
				for w := base.AddDate(0, 0, 7); w.Before(base.AddDate(0, 0, 27)); w = w.Add(time.Hour) {
					var out Output
					k.advance(e, st, w, &out)
					fired += len(out.Nudges)
				}
			}
			if fired != 2*n*b.N {
				b.Fatalf("%d nudges fired, want %d", fired, 2*n*b.N)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "periods/s")
			b.ReportMetric(float64(fired)/b.Elapsed().Seconds(), "nudges/s")
		})
	}
	var reps strings.Builder
	for i := range 10_000 {
		fmt.Fprintf(&reps, `{"rep_id":"R-%d","role":"AE","valid_from":"2026-01-01"}`+"\n", i)
	}
	tb := tables(b, reps.String(), "", "")
	credits := make([]*link.Credit, 20_000)
	for i := range credits {
		rep := fmt.Sprintf("R-%d", i%10_000)
		when := base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
		credits[i] = credit(b, tb, sale(fmt.Sprint("T", i), when, rep, "100 USD"), rep)
	}
	for _, timers := range []bool{false, true} {
		p := plan()
		if timers {
			p = plan(inactivity(7), periodEnding(5, "0.5"))
		}
		e, err := New(plansOf(p), tb)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("arm/timers=%v", timers), func(b *testing.B) {
			s := MemoryStore{}
			var k timerClock
			i := 0
			for b.Loop() {
				var fired Output
				if _, _, err := k.applyCredit(e, s, credits[i%len(credits)], &fired); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if timers && k.timers.held() == 0 {
				b.Fatal("no timer armed")
			}
		})
	}
}

func plansOf(ps ...*program.Program) []*program.Program { return ps }
