package nudge

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/transforms/accrue"
	"github.com/accrue/accrue/transforms/accrue/program"
)

// The nudges of the accrual stage's timers are read with the id they
// carry, and the shipped templates render them.
func TestTimerNudges(t *testing.T) {
	tp, err := LoadTemplates("../../deploy/templates/messages.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prog := &program.Program{ID: "ae", Name: "ae", Currency: "USD", Credit: program.Credit{Measure: program.Amount},
		Tiers: program.Tiers{Bands: []program.Band{{From: decimal.Zero, Rate: decimal.RequireFromString("0.05")},
			{From: decimal.RequireFromString("1.0"), Rate: decimal.RequireFromString("0.08")}}}}
	for _, tc := range []struct {
		rec, id, en string
	}{
		{`{"kind":"inactivity","nudge_id":"ae/2026-11/R-17/inactivity/2026-11-03T10:15:00Z","program_id":"ae","period":"2026-11","rep_id":"R-17","days":7,"last_sale":"2026-11-03T10:15:00Z","at":"2026-11-10T10:15:00Z"}`,
			"ae/2026-11/R-17/inactivity/2026-11-03T10:15:00Z", "It's been 7 days since your last sale in ae."},
		{`{"kind":"period_ending","nudge_id":"ae/2026-11/R-17/period_ending","program_id":"ae","period":"2026-11","rep_id":"R-17","days_before":5,"period_end":"2026-12-01T00:00:00Z","band_from":"1.0","gap":"500.00","at":"2026-11-26T00:00:00Z"}`,
			"ae/2026-11/R-17/period_ending", "5 days left in 2026-11: you are $500.00 away from the 8% tier in ae."},
	} {
		s, err := DecodeSubject([]byte(tc.rec), false)
		if err != nil {
			t.Fatal(err)
		}
		if s.ID != tc.id || s.IdempotencyKey() != "nudge:"+tc.id {
			t.Errorf("id %q", s.ID)
		}
		kt := tp.Kind(s.Kind)
		if kt == nil {
			t.Fatalf("no template for %s", s.Kind)
		}
		_, text, err := Render(tp.Variant(kt, "en-US"), "en-US", TemplateData(s, DataInputs{Program: prog}))
		if err != nil {
			t.Fatal(err)
		}
		if text != tc.en {
			t.Errorf("%s: %q, want %q", s.Kind, text, tc.en)
		}
		for _, loc := range []string{"fr", "de"} {
			if _, _, err := Render(tp.Variant(kt, loc), loc, TemplateData(s, DataInputs{Program: prog})); err != nil {
				t.Errorf("%s %s: %v", s.Kind, loc, err)
			}
		}
	}
}

// What the accrual stage writes is what DecodeSubject reads: the same id.
func TestTimerNudgesFromAccrue(t *testing.T) {
	at := time.Date(2026, 11, 3, 10, 15, 0, 0, time.UTC)
	for _, n := range []accrue.Nudge{
		{Kind: accrue.NudgeInactivity, ProgramID: "ae", Period: "2026-11", RepID: "R-17", Days: 7, LastSale: at, At: at.AddDate(0, 0, 7)},
		{Kind: accrue.NudgePeriodEnding, ProgramID: "ae", Period: "2026-11", RepID: "R-17", Days: 5, BandFrom: decimal.RequireFromString("1.0"),
			Gap: decimal.RequireFromString("500"), GapPlaces: 2, At: at, PeriodEnd: at},
		{Kind: accrue.NudgeNearNextTier, ProgramID: "ae", Period: "2026-11", RepID: "R-17", BandFrom: decimal.RequireFromString("1.0"),
			Gap: decimal.RequireFromString("500"), GapPlaces: 2, EventID: "e"},
	} {
		s, err := DecodeSubject(n.AppendJSON(nil), false)
		if err != nil {
			t.Fatalf("%s: %v", n.Kind, err)
		}
		if s.ID != n.ID() || s.Kind != n.Kind {
			t.Errorf("%s: read as %s %q, written as %q", n.Kind, s.Kind, s.ID, n.ID())
		}
	}
}
