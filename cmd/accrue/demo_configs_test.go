package main

import (
	"testing"
	"time"

	"github.com/accrue/accrue/connectors/synth"
	"github.com/accrue/accrue/transforms/ingest"
)

// TestDemoDefectReasons runs synth's records (30% broken, some sent twice)
// through the demo's mapping configs and gate, and checks that every valid
// record passes and that every broken one is refused with the reason the
// demo's checks expect.
func TestDemoDefectReasons(t *testing.T) {
	g := synth.New(3, synth.WithDefectRate(300), synth.WithDuplicateRate(demoDupPerMille))
	var sources []string
	for _, s := range g.Sources() {
		sources = append(sources, s.Name)
	}
	pls, _, err := demoPipelines(sources)
	if err != nil {
		t.Fatal(err)
	}
	got := map[synth.Defect]map[string]int{}
	for i := range 20_000 {
		s := g.NextSale()
		r := g.Record(s)
		outcomes := 0
		pls[demoRawTopic(s.Source)].Run(r.Value, time.Now(), func(res ingest.Result) {
			outcomes++
			switch {
			case res.Skip != "":
				t.Fatalf("record %d skipped (%s): %s", i, res.Skip, r.Value)
			case s.Defect == synth.DefectNone && res.Reject != nil:
				t.Fatalf("record %d refused: %v: %s", i, res.Reject, r.Value)
			case s.Defect != synth.DefectNone && res.Reject == nil:
				t.Fatalf("record %d (%s) passed: %s", i, s.Defect, r.Value)
			case res.Reject != nil:
				if got[s.Defect] == nil {
					got[s.Defect] = map[string]int{}
				}
				got[s.Defect][res.Reject.Reason]++
			}
		})
		if outcomes != 1 {
			t.Fatalf("record %d: %d outcomes, want 1: %s", i, outcomes, r.Value)
		}
	}
	for d, reason := range demoDefectReasons {
		if len(got[d]) != 1 || got[d][reason] == 0 {
			t.Errorf("%s: reasons %v, want only %s", d, got[d], reason)
		}
	}
}
