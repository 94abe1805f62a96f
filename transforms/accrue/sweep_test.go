package accrue

import (
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/transforms/accrue/program"
)

func TestSweep(t *testing.T) {
	tb := tables(t, defaultReps, "", defaultFX)
	e, err := New([]*program.Program{plan()}, tb)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSimulation(e, tb)
	events := []string{
		sale("S1", "2026-01-10", "R-1", "100 USD"),
		sale("S2", "2026-03-31T23:00:00Z", "R-1", "100 USD"),
		sale("S3", "2026-04-02", "R-1", "100 USD"),
	}
	if err := s.Run(strings.NewReader(strings.Join(events, "\n"))); err != nil {
		t.Fatal(err)
	}
	st := s.Store()
	if len(st) != 6 { // three sales, three periods (Jan, Mar, Apr)
		t.Fatalf("%d keys before the sweep", len(st))
	}
	// Retention 30 days at 2026-05-01 10:00: the cutoff is 2026-04-01 10:00;
	// S1 and S2 go, and January; March ended on 03-31, within a day of the
	// cutoff's date, so it stays.
	n := e.Sweep(st, time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), 30*24*time.Hour)
	if n != 3 {
		t.Errorf("swept %d keys, want 3", n)
	}
	for _, k := range []string{SaleKey("R-1", "erp", "S3"), PeriodKey("ae", "2026-03", "R-1"), PeriodKey("ae", "2026-04", "R-1")} {
		if _, ok := st[k]; !ok {
			t.Errorf("%s was swept", k)
		}
	}
	// A return of a forgotten sale is refused like one never seen.
	if _, err := e.ApplyCredit(st, credit(t, tb, ret("R1", "S1", "2026-05-02", "10 USD"), "R-1")); asReject(err).Reason != ReasonUnknownOriginal {
		t.Errorf("return of a swept sale: %v", err)
	}
}
