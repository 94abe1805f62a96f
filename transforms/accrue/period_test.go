package accrue

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/reference"
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

// The calendar of period.go against the time package's, day by day over
// five centuries and at random far beyond.
func TestCalendarMatchesTime(t *testing.T) {
	check := func(day reference.Date) {
		tm := day.Time()
		y, m, d := civilFromDays(day)
		if ty, tmo, td := tm.Date(); int64(ty) != y || int64(tmo) != m || int64(td) != d {
			t.Fatalf("civilFromDays(%d) = %d-%d-%d, want %s", day, y, m, d, tm)
		}
		if back := daysFromCivil(y, m, d); back != day {
			t.Fatalf("daysFromCivil(%d, %d, %d) = %d, want %d", y, m, d, back, day)
		}
		for _, p := range []program.Period{program.Month, program.Quarter, program.Year} {
			label := periodLabel(p, day)
			if want := makeLabel(p, tm.Year(), int(tm.Month())); label != want {
				t.Fatalf("periodLabel(%s, %s) = %s, want %s", p, tm, label, want)
			}
			if tm.Year() < 0 || tm.Year() > 9999 {
				continue
			}
			first, last, err := periodBounds(p, label)
			if err != nil {
				t.Fatal(err)
			}
			var wf, wl time.Time
			switch p {
			case program.Month:
				wf = time.Date(tm.Year(), tm.Month(), 1, 0, 0, 0, 0, time.UTC)
				wl = time.Date(tm.Year(), tm.Month()+1, 0, 0, 0, 0, 0, time.UTC)
			case program.Quarter:
				q := (int(tm.Month()) - 1) / 3
				wf = time.Date(tm.Year(), time.Month(3*q+1), 1, 0, 0, 0, 0, time.UTC)
				wl = time.Date(tm.Year(), time.Month(3*q+4), 0, 0, 0, 0, 0, time.UTC)
			case program.Year:
				wf = time.Date(tm.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
				wl = time.Date(tm.Year(), 12, 31, 0, 0, 0, 0, time.UTC)
			}
			if first != reference.DateOf(wf) || last != reference.DateOf(wl) {
				t.Fatalf("periodBounds(%s, %s) = %s, %s, want %s, %s", p, label, first, last, wf, wl)
			}
		}
	}
	for day := date("1800-01-01"); day < date("2300-01-01"); day++ {
		check(day)
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		check(reference.Date(rnd.Int64N(2*1e8) - 1e8))
	}
}

func TestLocalDateMatchesProgram(t *testing.T) {
	var zones []*time.Location
	for _, name := range []string{"UTC", "America/New_York", "Asia/Tokyo", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Kiritimati", "America/St_Johns"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		zones = append(zones, loc)
	}
	zones = append(zones, time.FixedZone("W", -11*3600-1800), time.Local)
	rnd := rand.New(rand.NewPCG(5, 6))
	for range 200000 {
		tm := time.Unix(rnd.Int64N(4e9)-1e9, rnd.Int64N(1e9))
		if rnd.IntN(4) == 0 {
			tm = tm.Truncate(time.Hour) // on the hour, as zone changes are
		}
		for _, loc := range zones {
			if got, want := localDate(tm, loc), program.LocalDate(tm, loc); got != want {
				t.Fatalf("localDate(%s, %s) = %s, want %s", tm, loc, got, want)
			}
		}
	}
}
