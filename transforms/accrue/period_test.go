package accrue

import (
	"testing"
	"time"

	"github.com/accrue/accrue/transforms/accrue/program"
)

func TestPeriods(t *testing.T) {
	for _, c := range []struct {
		p           program.Period
		day         string
		label       string
		first, last string
	}{
		{program.Month, "2026-11-03", "2026-11", "2026-11-01", "2026-11-30"},
		{program.Month, "2028-02-29", "2028-02", "2028-02-01", "2028-02-29"},
		{program.Month, "2026-12-31", "2026-12", "2026-12-01", "2026-12-31"},
		{program.Quarter, "2026-11-03", "2026-Q4", "2026-10-01", "2026-12-31"},
		{program.Quarter, "2026-01-01", "2026-Q1", "2026-01-01", "2026-03-31"},
		{program.Quarter, "2026-06-30", "2026-Q2", "2026-04-01", "2026-06-30"},
		{program.Year, "2026-11-03", "2026", "2026-01-01", "2026-12-31"},
		{program.Month, "0999-03-04", "0999-03", "0999-03-01", "0999-03-31"},
	} {
		if got := periodLabel(c.p, date(c.day)); got != c.label {
			t.Errorf("periodLabel(%s, %s) = %s, want %s", c.p, c.day, got, c.label)
		}
		first, last, err := periodBounds(c.p, c.label)
		if err != nil || first != date(c.first) || last != date(c.last) {
			t.Errorf("periodBounds(%s, %s) = %s, %s, %v", c.p, c.label, first, last, err)
		}
	}
	for _, c := range []struct {
		p     program.Period
		label string
	}{
		{program.Month, "2026-13"}, {program.Month, "2026-1"}, {program.Month, "2026-Q1"}, {program.Quarter, "2026-Q5"},
		{program.Quarter, "2026-11"}, {program.Year, "2026-11"}, {program.Year, "26"}, {program.Month, "abcd-01"}, {"week", "2026"},
	} {
		if _, _, err := periodBounds(c.p, c.label); err == nil {
			t.Errorf("periodBounds(%s, %s) accepted", c.p, c.label)
		}
	}
	// A program cut in Tokyo puts 2026-10-31 16:00 UTC in November.
	jst := time.FixedZone("JST", 9*3600)
	if got := periodLabel(program.Month, program.LocalDate(time.Date(2026, 10, 31, 16, 0, 0, 0, time.UTC), jst)); got != "2026-11" {
		t.Errorf("Tokyo: %s", got)
	}
}
