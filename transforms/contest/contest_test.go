package contest

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/internal/yamldoc"
)

func TestExamplesParse(t *testing.T) {
	files, _ := filepath.Glob("../../docs/contests/*.yaml")
	if len(files) < 3 {
		t.Fatalf("%d examples", len(files))
	}
	for _, f := range files {
		c, err := Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if c.Kind == Race && c.For(1) == nil {
			t.Errorf("%s: no reward for rank 1", f)
		}
	}
	c, _ := Load("../../docs/contests/q4-first-to-50k.yaml")
	if got := c.SettledAt().UTC().Format(time.RFC3339); got != "2026-12-03T05:00:00Z" {
		t.Errorf("settled at %s: the end of 30 November in New York, plus 48h", got)
	}
}

// A broken contest is refused with every problem at its line and column.
func TestParseProblems(t *testing.T) {
	doc := `id: bad contest
kind: rase
starts: 2026-11-31
ends: 2026-11-01
measure: amount
filter: 'amount >'
race: {first: 0, top: 3}
rewards:
  - {rank: 1, amount: "-5", currency: USD}
  - {ranks: {from: 1, to: 2}, badge: gold}
  - {rank: 9, amount: "5", badge: x}
reward: {badge: y}
`
	_, err := Parse("c.yaml", []byte(doc))
	var ps yamldoc.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err %v", err)
	}
	got := ps.Error()
	for _, want := range []string{
		`c.yaml:1:5: id: "bad contest" is not an id`,
		`c.yaml:2:7: kind: unknown kind "rase"; did you mean "race"?`,
		`c.yaml:3:9: starts: want a date YYYY-MM-DD`,
		`c.yaml:5:1: currency: measure amount needs the currency it is counted in`,
		`c.yaml:6:9: filter:`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	// The race's own problems, once the kind is right.
	doc = strings.Replace(strings.Replace(doc, "rase", "race", 1), "id: bad contest", "id: ok", 1)
	_, err = Parse("c.yaml", []byte(doc))
	got = err.Error()
	for _, want := range []string{
		`c.yaml:7:18: race: a race is the first N to reach the target or the top N at the end, not both`,
		`c.yaml:9:23: rewards[0].amount: want more than 0, got -5`,
		`c.yaml:10:5: rewards[1]: rank 1 is also rewarded by rewards[0]`,
		`c.yaml:11:28: rewards[2]: a reward is an amount or a badge, not both`,
		`c.yaml:12:1: reward: a race rewards by rank`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}
