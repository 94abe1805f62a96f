package accrue

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/transforms/accrue/program"
	shopspring "github.com/shopspring/decimal"
)

// The golden cases: every figure below was worked out by hand from
// PROGRAMS.md, with the arithmetic beside it, never by running the code.
//
// Statements are written one a line as
//
//	program version period rep currency measure quota attainment commission spiff override earned capped
//
// (quota and attainment "null" when there is none), nudges as
//
//	program period rep kind threshold|band_from attainment|gap event_id
//
// awards as "program period rep badge event_id", accrual deltas (when
// checked) as "program rep period delta", and the summary as
// "read=N credited=N duplicates=N expired=N rejected=reason:N,...".
//
// Unless a case says otherwise the program is plan(): "ae" v1, USD, UTC,
// monthly from 2026-01-01, measure amount, default quota 10000, marginal
// bands on attainment 0 → 2%, 0.5 → 5%, 1.0 → 8% (lower bounds 0, 5000,
// 10000 at that quota). Reps are defaultReps (R-1, R-2: AE under M-1, who
// reports to D-1; R-3: SE, no manager), rates defaultFX (EUR→USD 1.1, 1.2
// from 2026-11-15; USD→JPY 150).
type goldenCase struct {
	name     string
	clause   string
	programs []*program.Program
	reps, fx string // "" for the defaults
	products string
	events   []string
	want     []string // statements
	nudges   []string
	awards   []string
	accruals []string // checked when non-nil
	summary  string   // checked when non-empty
}

var goldenCases = []goldenCase{
	{
		name: "marginal", clause: "§4.3 marginal",
		programs: []*program.Program{plan()},
		events:   []string{sale("S1", "2026-11-03", "R-1", "6000 USD")},
		// M 6000: band 0: (5000−0)×0.02 = 100; band 0.5: (6000−5000)×0.05 = 50;
		// band 1.0: 6000 < 10000, 0. Commission 150; attainment 6000/10000.
		want: []string{"ae 1 2026-11 R-1 USD 6000.00 10000 0.6000 150.00 0.00 0.00 150.00 false"},
	},
	{
		name: "retroactive", clause: "§4.3 retroactive",
		programs: []*program.Program{plan(func(p *program.Program) { p.Tiers.Method = program.Retroactive })},
		events:   []string{sale("S1", "2026-11-03", "R-1", "6000 USD"), sale("S2", "2026-11-03", "R-2", "12000 USD")},
		// highest band with L ≤ 6000 is 0.5 (L 5000): 6000×0.05 = 300.
		// L 10000 ≤ 12000: 12000×0.08 = 960; attainment 1.2.
		want: []string{
			"ae 1 2026-11 R-1 USD 6000.00 10000 0.6000 300.00 0.00 0.00 300.00 false",
			"ae 1 2026-11 R-2 USD 12000.00 10000 1.2000 960.00 0.00 0.00 960.00 false",
		},
	},
	{
		name: "marginal-every-band", clause: "§4.3 marginal, top band open",
		programs: []*program.Program{plan()},
		events:   []string{sale("S1", "2026-11-03", "R-1", "12000 USD")},
		// 5000×0.02 = 100; 5000×0.05 = 250; (12000−10000)×0.08 = 160; 510.
		want: []string{"ae 1 2026-11 R-1 USD 12000.00 10000 1.2000 510.00 0.00 0.00 510.00 false"},
	},
	{
		name: "measure-basis", clause: "§4.3 basis measure (L = from), no quota",
		programs: []*program.Program{plan(measureBands("0:0.01", "1000:0.03"))},
		events:   []string{sale("S1", "2026-11-03", "R-1", "1500 USD")},
		// 1000×0.01 = 10; (1500−1000)×0.03 = 15; 25. No quota: nulls.
		want: []string{"ae 1 2026-11 R-1 USD 1500.00 null null 25.00 0.00 0.00 25.00 false"},
	},
	{
		name: "negative-measure", clause: "§4.3 M < 0 earns 0 (marginal and retroactive); §1 adjustment is signed",
		programs: []*program.Program{plan(), plan(func(p *program.Program) { p.ID = "ae-r"; p.Tiers.Method = program.Retroactive })},
		events:   []string{adjustment("A1", "2026-11-03", "R-1", "-500 USD")},
		// M = −500: marginal slices min(M, upper) − L are all ≤ 0; retroactive
		// pays max(M, 0) × rate = 0. Attainment −500/10000 = −0.05.
		want: []string{
			"ae 1 2026-11 R-1 USD -500.00 10000 -0.0500 0.00 0.00 0.00 0.00 false",
			"ae-r 1 2026-11 R-1 USD -500.00 10000 -0.0500 0.00 0.00 0.00 0.00 false",
		},
	},
	{
		name: "quota-precedence", clause: "§4.3 quota: by_rep, else by_role, else default",
		programs: []*program.Program{plan(func(p *program.Program) {
			p.Quota = &program.Quota{Default: nd("10000"), ByRole: map[string]dec{"AE": d("12000")}, ByRep: map[string]dec{"R-1": d("8000")}}
		})},
		events: []string{
			sale("S1", "2026-11-03", "R-1", "6000 USD"),
			sale("S2", "2026-11-03", "R-2", "6000 USD"),
			sale("S3", "2026-11-03", "R-3", "6000 USD"),
		},
		// R-1 by_rep Q 8000, L 0/4000/8000: 4000×0.02 + 2000×0.05 = 80 + 100 = 180; 6000/8000 = 0.75.
		// R-2 AE by_role Q 12000, L 0/6000/12000: 6000×0.02 = 120, band 0.5 slice 0; 0.5.
		// R-3 SE default Q 10000: 150; 0.6.
		want: []string{
			"ae 1 2026-11 R-1 USD 6000.00 8000 0.7500 180.00 0.00 0.00 180.00 false",
			"ae 1 2026-11 R-2 USD 6000.00 12000 0.5000 120.00 0.00 0.00 120.00 false",
			"ae 1 2026-11 R-3 USD 6000.00 10000 0.6000 150.00 0.00 0.00 150.00 false",
		},
	},
	{
		name: "quota-role-on-last-day", clause: "§4.3 by_role with the rep's role on the period's last day",
		programs: []*program.Program{plan(func(p *program.Program) {
			p.Quota = &program.Quota{Default: nd("10000"), ByRole: map[string]dec{"AE": d("12000")}}
		})},
		reps: defaultReps + "\n" + `{"rep_id":"R-4","role":"SE","valid_from":"2026-01-01"}
{"rep_id":"R-4","role":"AE","valid_from":"2026-11-21"}`,
		events: []string{
			sale("S1", "2026-10-05", "R-4", "6000 USD"),
			sale("S2", "2026-11-05", "R-4", "6000 USD"),
		},
		// October: role on 10-31 is SE → default 10000: 150; 0.6.
		// November: SE on the sale's date, AE on 11-30 → 12000: 6000×0.02 = 120; 0.5.
		want: []string{
			"ae 1 2026-10 R-4 USD 6000.00 10000 0.6000 150.00 0.00 0.00 150.00 false",
			"ae 1 2026-11 R-4 USD 6000.00 12000 0.5000 120.00 0.00 0.00 120.00 false",
		},
	},
	{
		name: "participants-as-of-event", clause: "§4.1 participants as of the event; returns follow their original",
		programs: []*program.Program{plan(func(p *program.Program) { p.Participants.Roles = []string{"AE"} })},
		reps: defaultReps + "\n" + `{"rep_id":"R-5","role":"SE","valid_from":"2026-01-01"}
{"rep_id":"R-5","role":"AE","valid_from":"2026-11-15"}`,
		events: []string{
			sale("S1", "2026-11-10", "R-5", "1000 USD"), // SE then: not a participant
			sale("S2", "2026-11-20", "R-5", "1000 USD"), // AE by then
			ret("R1", "S1", "2026-11-21", "500 USD"),    // follows S1: nothing to reverse
			sale("S3", "2026-11-20", "R-3", "1000 USD"), // SE: no line
		},
		// M = 1000 (S2 only): 1000×0.02 = 20; 0.1. The return of the
		// ineligible S1 is credited and changes nothing.
		want:    []string{"ae 1 2026-11 R-5 USD 1000.00 10000 0.1000 20.00 0.00 0.00 20.00 false"},
		summary: "read=4 credited=4 duplicates=0 expired=0 rejected=",
	},
	{
		name: "timezone", clause: "§4.1 effective dates and §4 periods in the program's timezone",
		programs: []*program.Program{plan(func(p *program.Program) {
			p.Location, p.TimezoneName = time.FixedZone("JST", 9*3600), "Asia/Tokyo"
			p.EffectiveFrom, p.EffectiveTo, p.HasEnd = date("2026-11-01"), date("2026-11-30"), true
		})},
		events: []string{
			sale("S1", "2026-10-31T14:00:00Z", "R-1", "1000 USD"), // 10-31 23:00 JST: before effective_from
			sale("S2", "2026-10-31T16:00:00Z", "R-1", "1000 USD"), // 11-01 01:00 JST: counts, period 2026-11
			sale("S3", "2026-11-30T16:00:00Z", "R-1", "1000 USD"), // 12-01 01:00 JST: after effective_to
		},
		// M = 1000 (S2), in 2026-11 although its UTC date is in October: 20; 0.1.
		want: []string{"ae 1 2026-11 R-1 USD 1000.00 10000 0.1000 20.00 0.00 0.00 20.00 false"},
	},
	{
		name: "quarter-and-year", clause: "§4 period labels 2026-Q4 and 2026",
		programs: []*program.Program{
			plan(measureBands("0:0.1"), func(p *program.Program) { p.ID, p.Period = "q", program.Quarter }),
			plan(measureBands("0:0.1"), func(p *program.Program) { p.ID, p.Period = "y", program.Year }),
		},
		events: []string{sale("S1", "2026-11-03", "R-1", "1000 USD"), sale("S2", "2026-02-10", "R-1", "500 USD")},
		// q: Q1 500×0.1 = 50, Q4 1000×0.1 = 100; y: 1500×0.1 = 150.
		want: []string{
			"q 1 2026-Q1 R-1 USD 500.00 null null 50.00 0.00 0.00 50.00 false",
			"q 1 2026-Q4 R-1 USD 1000.00 null null 100.00 0.00 0.00 100.00 false",
			"y 1 2026 R-1 USD 1500.00 null null 150.00 0.00 0.00 150.00 false",
		},
	},
	{
		name: "fx-as-of-utc-date", clause: "§2 FX: the C→P rate in force on the event's UTC date",
		programs: []*program.Program{plan()},
		events: []string{
			sale("S1", "2026-11-03", "R-1", "1000 EUR"),           // 1.1 → 1100
			sale("S2", "2026-11-14T23:30:00Z", "R-1", "1000 EUR"), // UTC date 11-14: 1.1 → 1100
			sale("S3", "2026-11-15T00:30:00Z", "R-1", "1000 EUR"), // 11-15: 1.2 → 1200
		},
		// M = 3400: 3400×0.02 = 68; 0.34.
		want: []string{"ae 1 2026-11 R-1 USD 3400.00 10000 0.3400 68.00 0.00 0.00 68.00 false"},
	},
	{
		name: "fx-inverse", clause: "§2 FX: only P→C exists, inverse to 16 places half-even; §4.7 compare exactly",
		programs: []*program.Program{plan(func(p *program.Program) {
			p.Badges = []program.Badge{{ID: "k", Metric: program.MetricMeasure, AtLeast: d("1000")}}
		})},
		fx:     defaultFX + "\n" + `{"from":"USD","to":"ILS","rate":"3","valid_from":"2026-01-01"}`,
		events: []string{sale("S1", "2026-11-03", "R-1", "3000 ILS"), sale("S2", "2026-11-04", "R-1", "3 ILS")},
		// ILS→USD = 1/3 to 16 places = 0.3333333333333333 (the 17th digit, 3, rounds down).
		// S1: 3000 × 0.3333333333333333 = 999.9999999999999 < 1000: no badge yet.
		// S2: + 0.9999999999999999 → M = 1000.9999999999998 ≥ 1000: badge k.
		// Commission 1000.9999999999998 × 0.02 = 20.019999999999996 → 20.02;
		// attainment 0.10009999999999998 → 0.1001; measure → 1001.00.
		want:   []string{"ae 1 2026-11 R-1 USD 1001.00 10000 0.1001 20.02 0.00 0.00 20.02 false"},
		awards: []string{"ae 2026-11 R-1 k erp:S2:sale"},
	},
	{
		name: "fx-missing", clause: "§2 no rate: fx_rate_missing",
		programs: []*program.Program{plan()},
		events:   []string{sale("S1", "2026-11-03", "R-1", "1000 GBP"), sale("S2", "2026-11-03", "R-1", "1000 USD")},
		// S1 has no GBP→USD nor USD→GBP rate: rejected. S2: 1000×0.02 = 20.
		want:    []string{"ae 1 2026-11 R-1 USD 1000.00 10000 0.1000 20.00 0.00 0.00 20.00 false"},
		summary: "read=2 credited=1 duplicates=0 expired=0 rejected=fx_rate_missing:1",
	},
	{
		name: "splits", clause: "§4.2 each recipient gets share of the event",
		programs: []*program.Program{plan()},
		events:   []string{sale("S1", "2026-11-03", "", "1000 USD", splits("R-1:0.6", "R-2:0.4"))},
		// 600×0.02 = 12; R-2: 400×0.02 = 8.
		want: []string{
			"ae 1 2026-11 R-1 USD 600.00 10000 0.0600 12.00 0.00 0.00 12.00 false",
			"ae 1 2026-11 R-2 USD 400.00 10000 0.0400 8.00 0.00 0.00 8.00 false",
		},
	},
	{
		name: "margin", clause: "§4.2 margin × share, 0 where absent, in program currency",
		programs: []*program.Program{plan(func(p *program.Program) { p.Credit.Measure = program.Margin })},
		events: []string{
			sale("S1", "2026-11-03", "R-1", "1000 USD", margin("300 USD")),
			sale("S2", "2026-11-03", "R-2", "1000 USD"),
			sale("S3", "2026-11-03", "R-1", "1000 EUR", margin("100 EUR")),
		},
		// 300 + 100×1.1 = 410: 410×0.02 = 8.20. R-2: no margin, 0.
		want: []string{
			"ae 1 2026-11 R-1 USD 410.00 10000 0.0410 8.20 0.00 0.00 8.20 false",
			"ae 1 2026-11 R-2 USD 0.00 10000 0.0000 0.00 0.00 0.00 0.00 false",
		},
	},
	{
		name: "quantity", clause: "§4.2 quantity × share; a return takes back the returned quantity",
		programs: []*program.Program{plan(measureBands("0:10"), func(p *program.Program) { p.Credit.Measure = program.Quantity })},
		events: []string{
			sale("S1", "2026-11-03", "", "1000 USD", qty("3"), splits("R-1:0.5", "R-2:0.5")),
			ret("R1", "S1", "2026-11-04", "100 USD", qty("1")),
		},
		// Each: 3×0.5 = 1.5, less 1×0.5 = 0.5 → 1 (exact); 1×10 = 10.
		want: []string{
			"ae 1 2026-11 R-1 USD 1 null null 10.00 0.00 0.00 10.00 false",
			"ae 1 2026-11 R-2 USD 1 null null 10.00 0.00 0.00 10.00 false",
		},
	},
	{
		name: "count", clause: "§4.2 count: +share a sale, −share a cancel, 0 a return",
		programs: []*program.Program{plan(measureBands("0:50"), func(p *program.Program) { p.Credit.Measure = program.Count })},
		events: []string{
			sale("S1", "2026-11-03", "R-1", "1000 USD"),
			sale("S2", "2026-11-03", "R-1", "1000 USD"),
			ret("R1", "S2", "2026-11-04", "200 USD"),
			cancel("C1", "S1", "2026-11-05"),
		},
		// 1 + 1 + 0 − 1 = 1: 1×50 = 50.
		want: []string{"ae 1 2026-11 R-1 USD 1 null null 50.00 0.00 0.00 50.00 false"},
	},
	{
		name: "return-proportional", clause: "§4.2 a return reverses return.amount / original.amount of amount and margin",
		programs: []*program.Program{plan(), plan(func(p *program.Program) { p.ID, p.Credit.Measure = "gm", program.Margin })},
		events: []string{
			sale("S1", "2026-11-03", "R-1", "2000 USD", margin("500 USD")),
			ret("R1", "S1", "2026-11-04", "500 USD"),
			ret("R2", "S1", "2026-11-05", "700 USD"),
		},
		// Returned 1200 of 2000 = 0.6. ae: 2000 − 1200 = 800: 16; gm: 500 × (1 − 0.6) = 200: 4.
		want: []string{
			"ae 1 2026-11 R-1 USD 800.00 10000 0.0800 16.00 0.00 0.00 16.00 false",
			"gm 1 2026-11 R-1 USD 200.00 10000 0.0200 4.00 0.00 0.00 4.00 false",
		},
	},
	{
		name: "return-exceeds", clause: "§4.2 return_exceeds_original",
		programs: []*program.Program{plan()},
		events: []string{
			sale("S1", "2026-11-03", "R-1", "1000 USD"),
			ret("R1", "S1", "2026-11-04", "600 USD"),
			ret("R2", "S1", "2026-11-05", "500 USD"), // 600 + 500 > 1000: rejected
			ret("R3", "S1", "2026-11-06", "400 USD"), // 600 + 400 = 1000: fine
		},
		// M = 1000 − 600 − 400 = 0.
		want:    []string{"ae 1 2026-11 R-1 USD 0.00 10000 0.0000 0.00 0.00 0.00 0.00 false"},
		summary: "read=4 credited=3 duplicates=0 expired=0 rejected=return_exceeds_original:1",
	},
	{
		name: "cancel-after-return", clause: "§4.2 a cancel reverses what is left after earlier returns",
		programs: []*program.Program{plan()},
		events: []string{
			sale("S1", "2026-11-03", "R-1", "1000 USD"),
			ret("R1", "S1", "2026-11-04", "300 USD"),
			cancel("C1", "S1", "2026-11-05"),
			sale("S2", "2026-11-03", "R-1", "500 USD"),
		},
		// S1: 1000 − 300 − 700 = 0; S2 500: 500×0.02 = 10.
		want: []string{"ae 1 2026-11 R-1 USD 500.00 10000 0.0500 10.00 0.00 0.00 10.00 false"},
	},
	{
		name: "after-cancel", clause: "§4.2 return after cancel, cancel after cancel: already_cancelled",
		programs: []*program.Program{plan()},
		events: []string{
			sale("S1", "2026-11-03", "R-1", "1000 USD"),
			cancel("C1", "S1", "2026-11-04"),
			ret("R1", "S1", "2026-11-05", "100 USD"),
			cancel("C2", "S1", "2026-11-06"),
			sale("S2", "2026-11-03", "R-1", "700 USD"),
		},
		// S1 voided; R1 and C2 change nothing. 700×0.02 = 14.
		want:    []string{"ae 1 2026-11 R-1 USD 700.00 10000 0.0700 14.00 0.00 0.00 14.00 false"},
		summary: "read=5 credited=3 duplicates=0 expired=0 rejected=already_cancelled:2",
	},
	{
		name: "reversal-in-original-period", clause: "§4.2 reversals land in the original's period, at the original's FX rate",
		programs: []*program.Program{plan()},
		events: []string{
			sale("S1", "2026-10-20", "R-1", "1000 EUR"), // 1.1: 1100 in 2026-10
			ret("R1", "S1", "2026-11-20", "500 EUR"),    // rate now 1.2, but 500×1.1 = 550 leaves 2026-10
			sale("S2", "2026-11-20", "R-1", "100 EUR"),  // 1.2: 120 in 2026-11
		},
		// 2026-10: 1100 − 550 = 550: 11; 2026-11: 120: 2.40.
		want: []string{
			"ae 1 2026-10 R-1 USD 550.00 10000 0.0550 11.00 0.00 0.00 11.00 false",
			"ae 1 2026-11 R-1 USD 120.00 10000 0.0120 2.40 0.00 0.00 2.40 false",
		},
	},
	{
		name: "clawback-window", clause: "§4.2 clawback window: later than window_days changes nothing, counted",
		programs: []*program.Program{plan(func(p *program.Program) { p.Clawback = &program.Clawback{WindowDays: 30} })},
		events: []string{
			sale("S1", "2026-11-01T10:00:00Z", "R-1", "1000 USD"),
			ret("R1", "S1", "2026-12-01T10:00:01Z", "400 USD"), // 30 days and 1 s: expired
			sale("S2", "2026-11-02T10:00:00Z", "R-1", "500 USD"),
			cancel("C2", "S2", "2026-12-02T10:00:00Z"), // exactly 30 days: reverses
		},
		// 1000 + 500 − 500 = 1000: 20.
		want:    []string{"ae 1 2026-11 R-1 USD 1000.00 10000 0.1000 20.00 0.00 0.00 20.00 false"},
		summary: "read=4 credited=4 duplicates=0 expired=1 rejected=",
	},
	{
		name: "no-clawback-section", clause: "§4.2 without clawback every return reverses",
		programs: []*program.Program{plan()},
		events:   []string{sale("S1", "2026-01-10", "R-1", "1000 USD"), ret("R1", "S1", "2026-11-10", "400 USD")},
		// Ten months later, still: 2026-01: 600×0.02 = 12.
		want: []string{"ae 1 2026-01 R-1 USD 600.00 10000 0.0600 12.00 0.00 0.00 12.00 false"},
	},
	{
		name: "unknown-original-and-rep", clause: "§4.2 unknown_original, unknown_rep (rep and split rep)",
		programs: []*program.Program{plan()},
		events: []string{
			ret("R1", "S9", "2026-11-03", "100 USD"),
			sale("S1", "2026-11-03", "R-99", "1000 USD"),
			sale("S2", "2026-11-03", "", "1000 USD", splits("R-1:0.5", "R-98:0.5")),
			sale("S3", "2026-11-03", "R-1", "1000 USD"),
		},
		want:    []string{"ae 1 2026-11 R-1 USD 1000.00 10000 0.1000 20.00 0.00 0.00 20.00 false"},
		summary: "read=4 credited=1 duplicates=0 expired=0 rejected=unknown_original:1,unknown_rep:2",
	},
	{
		name: "spiff-fixed", clause: "§4.4 fixed × share; only sales earn spiffs",
		programs: []*program.Program{plan(func(p *program.Program) {
			p.Spiffs = []program.Spiff{{ID: "launch", Fixed: nd("100")}}
		})},
		events: []string{
			sale("S1", "2026-11-03", "", "1000 USD", splits("R-1:0.6", "R-2:0.4")),
			adjustment("A1", "2026-11-04", "R-1", "100 USD"),
		},
		// M 600 + 100 = 700: 14; spiff 100×0.6 = 60; earned 74.
		// M 400: 8; spiff 40; earned 48.
		want: []string{
			"ae 1 2026-11 R-1 USD 700.00 10000 0.0700 14.00 60.00 0.00 74.00 false",
			"ae 1 2026-11 R-2 USD 400.00 10000 0.0400 8.00 40.00 0.00 48.00 false",
		},
	},
	{
		name: "spiff-rate", clause: "§4.4 rate × credited amount (in the program's currency)",
		programs: []*program.Program{plan(func(p *program.Program) {
			p.Spiffs = []program.Spiff{{ID: "kicker", Rate: nd("0.01")}}
		})},
		events: []string{sale("S1", "2026-11-03", "", "1000 EUR", splits("R-1:0.5", "R-2:0.5"))},
		// Credited 1000×0.5×1.1 = 550 USD each: commission 11, spiff 5.50, earned 16.50.
		want: []string{
			"ae 1 2026-11 R-1 USD 550.00 10000 0.0550 11.00 5.50 0.00 16.50 false",
			"ae 1 2026-11 R-2 USD 550.00 10000 0.0550 11.00 5.50 0.00 16.50 false",
		},
	},
	{
		name: "spiff-cancel-not-return", clause: "§4.4 a cancel reverses its original's spiffs; returns do not",
		programs: []*program.Program{plan(func(p *program.Program) {
			p.Spiffs = []program.Spiff{{ID: "launch", Fixed: nd("100")}}
		})},
		events: []string{
			sale("S1", "2026-11-03", "R-1", "1000 USD"),
			ret("R1", "S1", "2026-11-04", "500 USD"),
			sale("S2", "2026-11-03", "R-1", "1000 USD"),
			cancel("C2", "S2", "2026-11-05"),
		},
		// M = 500 + 1000 − 1000 = 500: 10; spiffs 100 (S1, kept) + 100 − 100 (S2) = 100; earned 110.
		want: []string{"ae 1 2026-11 R-1 USD 500.00 10000 0.0500 10.00 100.00 0.00 110.00 false"},
	},
	{
		name: "spiff-max-per-period", clause: "§4.4 a fixed spiff's period total is capped at max_per_period × fixed; §4.8 deltas",
		programs: []*program.Program{plan(func(p *program.Program) {
			p.Spiffs = []program.Spiff{{ID: "launch", Fixed: nd("100"), MaxPerPeriod: 2}}
		})},
		events: []string{
			sale("S1", "2026-11-03", "R-1", "100 USD"),
			sale("S2", "2026-11-03", "R-1", "100 USD"),
			sale("S3", "2026-11-03", "R-1", "100 USD"),
			cancel("C1", "S1", "2026-11-04"),
		},
		// After S1: 2 + 100 = 102; S2: 4 + 200 = 204 (+102); S3: 6 + min(300, 200) = 206 (+2);
		// C1: 4 + min(200, 200) = 204 (−2). Final M 200: 4; spiff 200; earned 204.
		want:     []string{"ae 1 2026-11 R-1 USD 200.00 10000 0.0200 4.00 200.00 0.00 204.00 false"},
		accruals: []string{"ae R-1 2026-11 102.00", "ae R-1 2026-11 102.00", "ae R-1 2026-11 2.00", "ae R-1 2026-11 -2.00"},
	},
	{
		name: "cap", clause: "§4.5 min(commission + spiffs, cap); capped when it bites",
		programs: []*program.Program{plan(func(p *program.Program) {
			c := d("100")
			p.Cap = &c
			p.Spiffs = []program.Spiff{{ID: "launch", Fixed: nd("20")}}
		})},
		events: []string{sale("S1", "2026-11-03", "R-1", "6000 USD"), sale("S2", "2026-11-03", "R-2", "1000 USD")},
		// 150 + 20 = 170 > 100: earned 100, capped; commission and spiff reported uncapped.
		// 20 + 20 = 40.
		want: []string{
			"ae 1 2026-11 R-1 USD 6000.00 10000 0.6000 150.00 20.00 0.00 100.00 true",
			"ae 1 2026-11 R-2 USD 1000.00 10000 0.1000 20.00 20.00 0.00 40.00 false",
		},
	},
	{
		name: "overrides", clause: "§4.6 overrides up the chain: not in measure, not capped, manager line when not a participant",
		programs: []*program.Program{plan(func(p *program.Program) {
			c := d("300")
			p.Cap = &c
			p.Participants.Roles = []string{"AE"}
			p.Overrides = []program.Override{{Level: 1, Rate: d("0.01")}, {Level: 2, Rate: d("0.005")}}
		})},
		events: []string{sale("S1", "2026-11-03", "R-1", "10000 USD"), sale("S2", "2026-11-03", "R-2", "1000 USD")},
		// 100 + 250 = 350 > cap 300: earned 300, capped. R-2: 20.
		// M-1 (level 1): 1% × (10000 + 1000) = 110; D-1 (level 2): 0.5% × 11000 = 55;
		// neither is a participant (MGR, DIR): measure 0, attainment 0/10000, no cap on overrides.
		want: []string{
			"ae 1 2026-11 D-1 USD 0.00 10000 0.0000 0.00 0.00 55.00 55.00 false",
			"ae 1 2026-11 M-1 USD 0.00 10000 0.0000 0.00 0.00 110.00 110.00 false",
			"ae 1 2026-11 R-1 USD 10000.00 10000 1.0000 350.00 0.00 0.00 300.00 true",
			"ae 1 2026-11 R-2 USD 1000.00 10000 0.1000 20.00 0.00 0.00 20.00 false",
		},
	},
	{
		name: "override-reversal", clause: "§4.6 overrides reverse with their contribution; the manager as of the event",
		programs: []*program.Program{plan(func(p *program.Program) {
			p.Overrides = []program.Override{{Level: 1, Rate: d("0.01")}}
		})},
		reps: defaultReps + "\n" + `{"rep_id":"M-2","role":"MGR","valid_from":"2026-01-01"}
{"rep_id":"R-7","role":"AE","manager_id":"M-1","valid_from":"2026-01-01"}
{"rep_id":"R-7","role":"AE","manager_id":"M-2","valid_from":"2026-11-15"}`,
		events: []string{
			sale("S1", "2026-11-10", "R-7", "1000 USD"), // M-1 +10
			ret("R1", "S1", "2026-11-20", "400 USD"),    // M-1 −4 (S1's manager), not M-2
			sale("S2", "2026-11-20", "R-7", "1000 USD"), // M-2 +10
			cancel("C1", "S1", "2026-11-21"),            // M-1 −6: what is left of S1 is 600
		},
		// M = 1000 − 400 + 1000 − 600 = 1000: 20. M-1: 10 − 4 − 6 = 0 (the line stays); M-2: 10.
		want: []string{
			"ae 1 2026-11 M-1 USD 0.00 10000 0.0000 0.00 0.00 0.00 0.00 false",
			"ae 1 2026-11 M-2 USD 0.00 10000 0.0000 0.00 0.00 10.00 10.00 false",
			"ae 1 2026-11 R-7 USD 1000.00 10000 0.1000 20.00 0.00 0.00 20.00 false",
		},
	},
	{
		name: "override-chain-stops", clause: "§4.6 the chain stops at a missing manager; only amount and margin programs pay",
		programs: []*program.Program{
			plan(func(p *program.Program) {
				p.Overrides = []program.Override{{Level: 1, Rate: d("0.01")}, {Level: 2, Rate: d("0.005")}}
			}),
			plan(measureBands("0:1"), func(p *program.Program) {
				p.ID, p.Credit.Measure = "units", program.Quantity
				p.Overrides = []program.Override{{Level: 1, Rate: d("0.01")}}
			}),
		},
		reps: defaultReps + "\n" + `{"rep_id":"R-8","role":"AE","manager_id":"M-9","valid_from":"2026-01-01"}`,
		events: []string{
			sale("S1", "2026-11-03", "R-8", "1000 USD"),           // M-9 is not a rep: no override
			sale("S2", "2026-11-03", "R-1", "1000 USD", qty("2")), // M-1 1% = 10, D-1 0.5% = 5; units pays none
		},
		// ae: R-8 20, R-1 20, M-1 10, D-1 5. units: R-1 2×1 = 2; R-8 0 (no quantity).
		want: []string{
			"ae 1 2026-11 D-1 USD 0.00 10000 0.0000 0.00 0.00 5.00 5.00 false",
			"ae 1 2026-11 M-1 USD 0.00 10000 0.0000 0.00 0.00 10.00 10.00 false",
			"ae 1 2026-11 R-1 USD 1000.00 10000 0.1000 20.00 0.00 0.00 20.00 false",
			"ae 1 2026-11 R-8 USD 1000.00 10000 0.1000 20.00 0.00 0.00 20.00 false",
			"units 1 2026-11 R-1 USD 2 null null 2.00 0.00 0.00 2.00 false",
			"units 1 2026-11 R-8 USD 0 null null 0.00 0.00 0.00 0.00 false",
		},
	},
	{
		name: "rounding-each-alone", clause: "§4.7 half-even; commission, spiff rounded alone, earned from exact figures",
		programs: []*program.Program{plan(measureBands("0:0.1"), func(p *program.Program) {
			p.Spiffs = []program.Spiff{{ID: "kicker", Rate: nd("0.1")}}
		})},
		events: []string{sale("S1", "2026-11-03", "R-1", "1.25 USD"), sale("S2", "2026-11-03", "R-2", "1.35 USD")},
		// commission 0.125 → 0.12, spiff 0.125 → 0.12, earned round(0.25) = 0.25.
		// 0.135 → 0.14 each, earned round(0.27) = 0.27.
		want: []string{
			"ae 1 2026-11 R-1 USD 1.25 null null 0.12 0.12 0.00 0.25 false",
			"ae 1 2026-11 R-2 USD 1.35 null null 0.14 0.14 0.00 0.27 false",
		},
	},
	{
		name: "rounding-minor-units", clause: "§4.7 the currency's minor unit: 0 for JPY, 3 for KWD",
		programs: []*program.Program{
			plan(measureBands("0:0.1"), func(p *program.Program) { p.ID, p.Currency = "jp", "JPY" }),
			plan(measureBands("0:0.1"), func(p *program.Program) { p.ID, p.Currency = "kw", "KWD" }),
		},
		fx:     defaultFX + "\n" + `{"from":"USD","to":"KWD","rate":"0.3","valid_from":"2026-01-01"}`,
		events: []string{sale("S1", "2026-11-03", "R-1", "10.05 USD"), sale("S2", "2026-11-03", "R-2", "10.03 USD")},
		// jp: R-1 10.05×150 = 1507.5 → 1508; ×0.1 = 150.75 → 151. R-2 1504.5 → 1504; 150.45 → 150.
		// kw: R-1 10.05×0.3 = 3.015; 0.3015 → 0.302 (tie, to even). R-2 3.009; 0.3009 → 0.301.
		want: []string{
			"jp 1 2026-11 R-1 JPY 1508 null null 151 0 0 151 false",
			"jp 1 2026-11 R-2 JPY 1504 null null 150 0 0 150 false",
			"kw 1 2026-11 R-1 KWD 3.015 null null 0.302 0.000 0.000 0.302 false",
			"kw 1 2026-11 R-2 KWD 3.009 null null 0.301 0.000 0.000 0.301 false",
		},
	},
	{
		name: "attainment-exact", clause: "§4.7 attainment to 4 places, thresholds compare exactly (M ≥ t × Q)",
		programs: []*program.Program{plan(func(p *program.Program) {
			p.Quota = &program.Quota{Default: nd("30000")}
			p.Nudges.AttainmentCrossed = []dec{d("0.5")}
			p.Badges = []program.Badge{{ID: "q50", Metric: program.MetricAttainment, AtLeast: d("0.5")}}
		})},
		events: []string{sale("S1", "2026-11-03", "R-1", "14999.99 USD"), sale("S2", "2026-11-04", "R-1", "0.01 USD")},
		// S1: 14999.99/30000 = 0.49999966… reports 0.5000, but 14999.99 < 0.5×30000: nothing fires.
		// S2: M = 15000 ≥ 15000: crossed and badge. Commission 15000×0.02 = 300 (band 0.5 starts at 15000).
		want:   []string{"ae 1 2026-11 R-1 USD 15000.00 30000 0.5000 300.00 0.00 0.00 300.00 false"},
		nudges: []string{"ae 2026-11 R-1 attainment_crossed 0.5 0.5000 erp:S2:sale"},
		awards: []string{"ae 2026-11 R-1 q50 erp:S2:sale"},
	},
	{
		name: "deltas", clause: "§4.8 a delta is round(new) − round(old); deltas add up to earned",
		programs: []*program.Program{plan(measureBands("0:0.1"))},
		events: []string{
			sale("S1", "2026-11-03", "R-1", "0.125 USD"),
			sale("S2", "2026-11-03", "R-1", "0.125 USD"),
			sale("S3", "2026-11-03", "R-1", "0.125 USD"),
			cancel("C1", "S1", "2026-11-04"),
		},
		// Exact earned 0.0125, 0.025, 0.0375, 0.025 → rounded 0.01, 0.02, 0.04, 0.02:
		// deltas 0.01, 0.01, 0.02, −0.02 (sum 0.02). Measure 0.25.
		want:     []string{"ae 1 2026-11 R-1 USD 0.25 null null 0.02 0.00 0.00 0.02 false"},
		accruals: []string{"ae R-1 2026-11 0.01", "ae R-1 2026-11 0.01", "ae R-1 2026-11 0.02", "ae R-1 2026-11 -0.02"},
	},
	{
		name: "attainment-crossed", clause: "§4.9 attainment_crossed: first time in the period, never repeated after a clawback",
		programs: []*program.Program{plan(func(p *program.Program) {
			p.Nudges.AttainmentCrossed = []dec{d("1.0"), d("0.5")}
		})},
		events: []string{
			sale("S1", "2026-11-03", "R-1", "12000 USD"), // crosses 0.5 and 1.0 at once, in ascending order
			cancel("C1", "S1", "2026-11-04"),
			sale("S2", "2026-11-05", "R-1", "12000 USD"), // crosses again: no repeat
			sale("S3", "2026-11-05", "R-2", "6000 USD"),
		},
		// 510 (see marginal-every-band); R-2: 150.
		want: []string{
			"ae 1 2026-11 R-1 USD 12000.00 10000 1.2000 510.00 0.00 0.00 510.00 false",
			"ae 1 2026-11 R-2 USD 6000.00 10000 0.6000 150.00 0.00 0.00 150.00 false",
		},
		nudges: []string{
			"ae 2026-11 R-1 attainment_crossed 0.5 1.2000 erp:S1:sale",
			"ae 2026-11 R-1 attainment_crossed 1.0 1.2000 erp:S1:sale",
			"ae 2026-11 R-2 attainment_crossed 0.5 0.6000 erp:S3:sale",
		},
	},
	{
		name: "near-next-tier", clause: "§4.9 near_next_tier: 0 < L_next − M ≤ within × Q, once per band",
		programs: []*program.Program{plan(func(p *program.Program) { p.Nudges.NearNextTierWithin = nd("0.1") })},
		events: []string{
			sale("S1", "2026-11-03", "R-1", "4200 USD"), // L 5000, gap 800 ≤ 1000
			sale("S2", "2026-11-03", "R-1", "100 USD"),  // gap 700: band 0.5 already nudged
			sale("S3", "2026-11-03", "R-1", "4000 USD"), // M 8300, L 10000, gap 1700
			sale("S4", "2026-11-03", "R-1", "1000 USD"), // M 9300, gap 700
		},
		// 5000×0.02 + 4300×0.05 = 100 + 215 = 315.
		want: []string{"ae 1 2026-11 R-1 USD 9300.00 10000 0.9300 315.00 0.00 0.00 315.00 false"},
		nudges: []string{
			"ae 2026-11 R-1 near_next_tier 0.5 800.00 erp:S1:sale",
			"ae 2026-11 R-1 near_next_tier 1.0 700.00 erp:S4:sale",
		},
	},
	{
		name: "near-next-tier-measure", clause: "§4.9 near_next_tier: within is absolute for measure basis",
		programs: []*program.Program{plan(measureBands("0:0.01", "1000:0.02"), func(p *program.Program) {
			p.Nudges.NearNextTierWithin = nd("100")
		})},
		events: []string{sale("S1", "2026-11-03", "R-1", "950 USD"), sale("S2", "2026-11-03", "R-1", "30 USD")},
		// S1: gap 1000 − 950 = 50 ≤ 100. S2: gap 20, band already nudged. 980×0.01 = 9.80.
		want:   []string{"ae 1 2026-11 R-1 USD 980.00 null null 9.80 0.00 0.00 9.80 false"},
		nudges: []string{"ae 2026-11 R-1 near_next_tier 1000 50.00 erp:S1:sale"},
	},
	{
		name: "badges", clause: "§4.10 badges: first time the metric reaches at_least, once per badge per rep per period",
		programs: []*program.Program{plan(func(p *program.Program) {
			p.Badges = []program.Badge{
				{ID: "first-sale", Metric: program.MetricCount, AtLeast: d("1")},
				{ID: "big", Metric: program.MetricMeasure, AtLeast: d("5000")},
				{ID: "quota-club", Metric: program.MetricAttainment, AtLeast: d("1.0")},
				{ID: "earner", Metric: program.MetricEarned, AtLeast: d("300")},
			}
		})},
		events: []string{
			sale("S1", "2026-11-03", "", "2000 USD", splits("R-1:0.5", "R-2:0.5")), // count 0.5 each
			sale("S2", "2026-11-03", "R-1", "4000 USD"),                            // count 1.5, M 5000, earned 100
			sale("S3", "2026-11-03", "R-1", "5000 USD"),                            // M 10000, earned 100 + 250 = 350
			sale("S4", "2026-12-01", "R-1", "100 USD"),                             // a new period
		},
		want: []string{
			"ae 1 2026-11 R-1 USD 10000.00 10000 1.0000 350.00 0.00 0.00 350.00 false",
			"ae 1 2026-11 R-2 USD 1000.00 10000 0.1000 20.00 0.00 0.00 20.00 false",
			"ae 1 2026-12 R-1 USD 100.00 10000 0.0100 2.00 0.00 0.00 2.00 false",
		},
		awards: []string{
			"ae 2026-11 R-1 first-sale erp:S2:sale",
			"ae 2026-11 R-1 big erp:S2:sale",
			"ae 2026-11 R-1 quota-club erp:S3:sale",
			"ae 2026-11 R-1 earner erp:S3:sale",
			"ae 2026-12 R-1 first-sale erp:S4:sale",
		},
	},
	{
		name: "who-is-checked", clause: "§5 nudges for reps whose measure changed; badges for every rep whose figures changed, overrides included",
		programs: []*program.Program{plan(func(p *program.Program) {
			p.Participants.Roles = []string{"AE"}
			p.Overrides = []program.Override{{Level: 1, Rate: d("0.1")}}
			p.Nudges.AttainmentCrossed = []dec{d("0.5")}
			p.Badges = []program.Badge{{ID: "earner", Metric: program.MetricEarned, AtLeast: d("50")}}
		})},
		events: []string{sale("S1", "2026-11-03", "R-1", "6000 USD")},
		// 150, crossed 0.5 (0.6000), earner. M-1: override 10% × 6000 = 600: earner, no nudge.
		want: []string{
			"ae 1 2026-11 M-1 USD 0.00 10000 0.0000 0.00 0.00 600.00 600.00 false",
			"ae 1 2026-11 R-1 USD 6000.00 10000 0.6000 150.00 0.00 0.00 150.00 false",
		},
		nudges: []string{"ae 2026-11 R-1 attainment_crossed 0.5 0.6000 erp:S1:sale"},
		awards: []string{"ae 2026-11 R-1 earner erp:S1:sale", "ae 2026-11 M-1 earner erp:S1:sale"},
	},
	{
		name: "versions", clause: "§3 versions: the one in force by effective dates; a reversal follows its original's period",
		programs: []*program.Program{
			plan(measureBands("0:0.02"), func(p *program.Program) { p.EffectiveTo, p.HasEnd = date("2026-06-30"), true }),
			plan(measureBands("0:0.03"), func(p *program.Program) { p.Version, p.EffectiveFrom = 2, date("2026-07-01") }),
		},
		events: []string{
			sale("S1", "2026-06-10", "R-1", "1000 USD"),
			sale("S2", "2026-07-10", "R-1", "1000 USD"),
			ret("R1", "S1", "2026-07-15", "500 USD"),
		},
		// 2026-06 under v1: (1000 − 500)×0.02 = 10. 2026-07 under v2: 1000×0.03 = 30.
		want: []string{
			"ae 1 2026-06 R-1 USD 500.00 null null 10.00 0.00 0.00 10.00 false",
			"ae 2 2026-07 R-1 USD 1000.00 null null 30.00 0.00 0.00 30.00 false",
		},
	},
	{
		name: "duplicate", clause: "§1 a second copy of (source, txn_id, type) changes nothing",
		programs: []*program.Program{plan()},
		events:   []string{sale("S1", "2026-11-03", "R-1", "1000 USD"), sale("S1", "2026-11-03", "R-1", "5000 USD")},
		want:     []string{"ae 1 2026-11 R-1 USD 1000.00 10000 0.1000 20.00 0.00 0.00 20.00 false"},
		summary:  "read=2 credited=1 duplicates=1 expired=0 rejected=",
	},
	{
		name: "adjustment", clause: "§1/§4.2 adjustment: signed amount, margin where given; no spiff, no count",
		programs: []*program.Program{
			plan(func(p *program.Program) {
				p.Spiffs = []program.Spiff{{ID: "launch", Fixed: nd("10")}}
				p.Badges = []program.Badge{{ID: "two", Metric: program.MetricCount, AtLeast: d("2")}}
			}),
			plan(func(p *program.Program) { p.ID, p.Credit.Measure = "gm", program.Margin }),
		},
		events: []string{
			sale("S1", "2026-11-03", "R-1", "1000 USD", margin("400 USD")),
			adjustment("A1", "2026-11-04", "R-1", "-200 USD", margin("-50 USD")),
			adjustment("A2", "2026-11-05", "R-1", "100 USD"),
		},
		// ae: 1000 − 200 + 100 = 900: 18; spiff 10 (S1 only); earned 28; count 1 < 2: no badge.
		// gm: 400 − 50 + 0 = 350: 7.
		want: []string{
			"ae 1 2026-11 R-1 USD 900.00 10000 0.0900 18.00 10.00 0.00 28.00 false",
			"gm 1 2026-11 R-1 USD 350.00 10000 0.0350 7.00 0.00 0.00 7.00 false",
		},
	},
	{
		name: "expression-failed", clause: "§3 credit.filter and spiffs[].when: an expression that fails on an event rejects it",
		programs: []*program.Program{plan(func(p *program.Program) {
			p.Credit.Filter = mustExpr(`product.price > 100`)
		})},
		products: `{"product_id":"P-1","category":"software","price":150}
{"product_id":"P-2","category":"software"}`,
		events: []string{
			sale("S1", "2026-11-03", "R-1", "1000 USD", product("P-1")),
			sale("S2", "2026-11-03", "R-1", "1000 USD", product("P-2")), // no price: nil > 100 fails
		},
		// S1: 150 > 100, counts: 1000×0.02 = 20.
		want:    []string{"ae 1 2026-11 R-1 USD 1000.00 10000 0.1000 20.00 0.00 0.00 20.00 false"},
		summary: "read=2 credited=1 duplicates=0 expired=0 rejected=expression_failed:1",
	},
}

func mustExpr(src string) *program.Expr {
	x, err := program.NewExpr(src)
	if err != nil {
		panic(err)
	}
	return x
}

// dec shortens map types in the cases.
type dec = shopspring.Decimal

func TestGolden(t *testing.T) {
	if len(goldenCases) < 25 {
		t.Fatalf("%d golden cases, want at least 25", len(goldenCases))
	}
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			reps, fx := c.reps, c.fx
			if reps == "" {
				reps = defaultReps
			}
			if fx == "" {
				fx = defaultFX
			}
			r := simulate(t, c.programs, tables(t, reps, c.products, fx), c.events)
			compare(t, c.clause, "statements", r.statements, statementLines(c.want))
			compare(t, c.clause, "nudges", r.nudges, nudgeLines(c.nudges))
			compare(t, c.clause, "awards", r.awards, awardLines(c.awards))
			if c.accruals != nil {
				compare(t, c.clause, "accruals", r.accruals, c.accruals)
			}
			if c.summary != "" {
				if got := summaryLine(r.summary); got != c.summary {
					t.Errorf("%s: summary\n got %s\nwant %s", c.clause, got, c.summary)
				}
			}
		})
	}
}

func compare(t *testing.T, clause, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: %s\n got:\n  %s\nwant:\n  %s", clause, what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func statementLines(rows []string) []string {
	var out []string
	for _, r := range rows {
		f := strings.Fields(r)
		if len(f) != 13 {
			panic("statement row needs 13 fields: " + r)
		}
		q := func(s string) string {
			if s == "null" {
				return s
			}
			return `"` + s + `"`
		}
		out = append(out, fmt.Sprintf(`{"program_id":"%s","program_version":%s,"period":"%s","rep_id":"%s","currency":"%s",`+
			`"measure":"%s","quota":%s,"attainment":%s,"commission":"%s","spiff":"%s","override":"%s","earned":"%s","capped":%s}`,
			f[0], f[1], f[2], f[3], f[4], f[5], q(f[6]), q(f[7]), f[8], f[9], f[10], f[11], f[12]))
	}
	return out
}

func nudgeLines(rows []string) []string {
	var out []string
	for _, r := range rows {
		f := strings.Fields(r)
		if len(f) != 7 {
			panic("nudge row needs 7 fields: " + r)
		}
		a, b := "threshold", "attainment"
		if f[3] == NudgeNearNextTier {
			a, b = "band_from", "gap"
		}
		out = append(out, fmt.Sprintf(`{"kind":"%s","program_id":"%s","period":"%s","rep_id":"%s","%s":"%s","%s":"%s","event_id":"%s"}`,
			f[3], f[0], f[1], f[2], a, f[4], b, f[5], f[6]))
	}
	return out
}

func awardLines(rows []string) []string {
	var out []string
	for _, r := range rows {
		f := strings.Fields(r)
		if len(f) != 5 {
			panic("award row needs 5 fields: " + r)
		}
		out = append(out, fmt.Sprintf(`{"badge":"%s","program_id":"%s","period":"%s","rep_id":"%s","event_id":"%s"}`,
			f[3], f[0], f[1], f[2], f[4]))
	}
	return out
}

func summaryLine(s Summary) string {
	var rej []string
	for k, v := range s.Rejected {
		rej = append(rej, fmt.Sprintf("%s:%d", k, v))
	}
	slices.Sort(rej)
	return fmt.Sprintf("read=%d credited=%d duplicates=%d expired=%d rejected=%s",
		s.Read, s.Credited, s.Duplicates, s.Expired, strings.Join(rej, ","))
}
