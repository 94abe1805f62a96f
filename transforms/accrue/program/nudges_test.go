package program

import (
	"errors"
	"strings"
	"testing"
)

const twoBands = `id: m
version: 1
currency: USD
period: month
effective_from: 2026-01-01
credit: {measure: amount}
tiers:
  basis: measure
  method: marginal
  bands:
    - {from: 0, rate: 0.01}
    - {from: 1000, rate: 0.02}
`

func TestParseTimeNudges(t *testing.T) {
	p, err := Parse("m.yaml", []byte(twoBands+"nudges:\n  inactivity: {days: 7}\n  period_ending: {days_before: 5, within: \"200\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	n := p.Nudges
	if n.InactivityDays != 7 || n.PeriodEndingDaysBefore != 5 || !n.PeriodEndingWithin.Valid || n.PeriodEndingWithin.Decimal.String() != "200" {
		t.Fatalf("nudges %+v", n)
	}
	q, err := Parse("m.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if q.Nudges.InactivityDays != 0 || q.Nudges.PeriodEndingDaysBefore != 0 || q.Nudges.PeriodEndingWithin.Valid {
		t.Fatalf("defaults %+v", q.Nudges)
	}
}

func TestParseTimeNudgeProblems(t *testing.T) {
	attainment := strings.Replace(twoBands, "basis: measure", "basis: attainment", 1)
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"zero days", twoBands + "nudges: {inactivity: {days: 0}}\n", "m.yaml:13:29: nudges.inactivity.days: want at least 1, got 0"},
		{"negative days", twoBands + "nudges: {inactivity: {days: -3}}\n", "m.yaml:13:29: nudges.inactivity.days: want at least 1, got -3"},
		{"days as text", twoBands + "nudges: {inactivity: {days: \"7\"}}\n", `m.yaml:13:29: nudges.inactivity.days: want a whole number, got the text "7"`},
		{"too many days", twoBands + "nudges: {inactivity: {days: 400}}\n", "m.yaml:13:29: nudges.inactivity.days: want at most 366 days (no period is longer), got 400"},
		{"misspelt", twoBands + "nudges: {inactivity: {dayz: 3}}\n", `m.yaml:13:23: nudges.inactivity.dayz: unknown key "dayz"; did you mean "days"?`},
		{"days missing", twoBands + "nudges: {inactivity: {}}\n", "nudges.inactivity.days: days is missing"},
		{"within missing", twoBands + "nudges: {period_ending: {days_before: 5}}\n", "nudges.period_ending.within: within is missing"},
		{"within zero", twoBands + "nudges: {period_ending: {days_before: 5, within: 0}}\n", "m.yaml:13:50: nudges.period_ending.within: want more than 0, got 0"},
		{"days_before zero", twoBands + "nudges: {period_ending: {days_before: 0, within: 1}}\n", "m.yaml:13:39: nudges.period_ending.days_before: want at least 1, got 0"},
		{"one band", minimal + "nudges: {period_ending: {days_before: 5, within: 1}}\n", "m.yaml:12:10: nudges.period_ending: the nudge is about the gap to the next band, and tiers.bands has only one band"},
		{"attainment without quota", attainment + "nudges: {period_ending: {days_before: 5, within: \"0.1\"}}\n",
			"m.yaml:13:10: nudges.period_ending: with tiers.basis attainment the gap is a fraction of quota and needs a quota for every rep: add quota.default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(tc.doc))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("problems:\n%v\nwant:\n%s", err, tc.want)
			}
		})
	}
}

func TestSchemaTimeNudges(t *testing.T) {
	s := compileSchema(t)
	good := twoBands + "nudges:\n  inactivity: {days: 7}\n  period_ending: {days_before: 5, within: \"200\"}\n"
	if err := s.Validate(yamlValue(t, []byte(good))); err != nil {
		t.Errorf("schema refuses a valid document: %v", err)
	}
	for _, doc := range []string{
		twoBands + "nudges: {inactivity: {days: 0}}\n",
		twoBands + "nudges: {inactivity: {days: \"7\"}}\n",
		twoBands + "nudges: {inactivity: {dayz: 7}}\n",
		twoBands + "nudges: {period_ending: {days_before: 5}}\n",
		twoBands + "nudges: {period_ending: {days_before: 5, within: 0}}\n",
	} {
		if err := s.Validate(yamlValue(t, []byte(doc))); err == nil {
			t.Errorf("schema accepted:\n%s", doc)
		}
	}
}
