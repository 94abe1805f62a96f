package accrue

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/shopspring/decimal"
)

// TestOutputs follows one sale and its return through the engine's API, as
// the stage sees them: the report's credit on its partition, the override
// records on the managers'.
func TestOutputs(t *testing.T) {
	tb := tables(t, defaultReps, "", defaultFX)
	e, err := New([]*program.Program{plan(func(p *program.Program) {
		p.Overrides = []program.Override{{Level: 1, Rate: d("0.01")}, {Level: 2, Rate: d("0.005")}}
	})}, tb)
	if err != nil {
		t.Fatal(err)
	}
	reps, managers := MemoryStore{}, MemoryStore{}
	out, err := e.ApplyCredit(reps, credit(t, tb, sale("S1", "2026-11-03", "R-1", "6000 USD"), "R-1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Accruals) != 1 || len(out.Snapshots) != 1 || len(out.Overrides) != 2 {
		t.Fatalf("outputs: %+v", out)
	}
	// 5000×0.02 = 100 in band 0, 1000×0.05 = 50 in band 0.5.
	wantAccrual := `{"accrual_id":"erp:S1:sale/R-1#ae/2026-11/R-1","program_id":"ae","program_version":1,"period":"2026-11",` +
		`"rep_id":"R-1","currency":"USD","delta":"150.00","earned":"150.00","capped":false,"event_id":"erp:S1:sale",` +
		`"input_id":"erp:S1:sale/R-1","trace":[{"kind":"commission","band_from":"0","rate":"0.02","amount":"100"},` +
		`{"kind":"commission","band_from":"0.5","rate":"0.05","amount":"50"}]}`
	if got := string(out.Accruals[0].AppendJSON(nil)); got != wantAccrual {
		t.Errorf("accrual\n got %s\nwant %s", got, wantAccrual)
	}
	wantSnapshot := `{"snapshot_id":"ae/2026-11/R-1/1","program_id":"ae","program_version":1,"period":"2026-11","rep_id":"R-1",` +
		`"currency":"USD","measure":"6000.00","quota":"10000","attainment":"0.6000","commission":"150.00","spiff":"0.00",` +
		`"override":"0.00","earned":"150.00","capped":false,"version":1,"event_id":"erp:S1:sale"}`
	if got := string(out.Snapshots[0].AppendJSON(nil)); got != wantSnapshot {
		t.Errorf("snapshot\n got %s\nwant %s", got, wantSnapshot)
	}
	// 1% and 0.5% of 6000.
	for i, want := range []string{
		`{"override_id":"erp:S1:sale/R-1/override/ae/1","program_id":"ae","program_version":1,"period":"2026-11","manager_id":"M-1","level":1,"from_rep_id":"R-1","rate":"0.01","amount":"60.00","event_id":"erp:S1:sale"}`,
		`{"override_id":"erp:S1:sale/R-1/override/ae/2","program_id":"ae","program_version":1,"period":"2026-11","manager_id":"D-1","level":2,"from_rep_id":"R-1","rate":"0.005","amount":"30.000","event_id":"erp:S1:sale"}`,
	} {
		if got := string(out.Overrides[i].AppendJSON(nil)); got != want {
			t.Errorf("override %d\n got %s\nwant %s", i, got, want)
		}
	}
	// The manager's partition reads the record back from its topic.
	o, err := DecodeOverride(out.Overrides[0].AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	mout, err := e.ApplyOverride(managers, o)
	if err != nil {
		t.Fatal(err)
	}
	wantManager := `{"accrual_id":"erp:S1:sale/R-1/override/ae/1#ae/2026-11/M-1","program_id":"ae","program_version":1,` +
		`"period":"2026-11","rep_id":"M-1","currency":"USD","delta":"60.00","earned":"60.00","capped":false,` +
		`"event_id":"erp:S1:sale","input_id":"erp:S1:sale/R-1/override/ae/1",` +
		`"trace":[{"kind":"override","level":1,"from_rep_id":"R-1","rate":"0.01","amount":"60"}]}`
	if len(mout.Accruals) != 1 || string(mout.Accruals[0].AppendJSON(nil)) != wantManager {
		t.Errorf("manager's accrual\n got %+v\nwant %s", mout.Accruals, wantManager)
	}
	if len(mout.Nudges) != 0 || len(mout.Overrides) != 0 {
		t.Errorf("an override record fired %+v", mout)
	}

	// A return of 1000: M 5000 → 100; the delta is −50, the snapshot
	// version 2, the managers lose 10 and 5.
	out, err = e.ApplyCredit(reps, credit(t, tb, ret("R1", "S1", "2026-11-04", "1000 USD"), "R-1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Accruals[0].Delta.StringFixed(2); got != "-50.00" {
		t.Errorf("delta %s", got)
	}
	if v := out.Snapshots[0].Version; v != 2 {
		t.Errorf("snapshot version %d", v)
	}
	if len(out.Overrides) != 2 || out.Overrides[0].Amount.String() != "-10" || out.Overrides[1].Amount.String() != "-5" {
		t.Errorf("override reversals %+v", out.Overrides)
	}
}

// TestRejectChangesNothing: a rejected input leaves the store as it was,
// as pipeline.Processor requires.
func TestRejectChangesNothing(t *testing.T) {
	tb := tables(t, defaultReps, "", defaultFX)
	e, err := New([]*program.Program{plan(func(p *program.Program) {
		p.Spiffs = []program.Spiff{{ID: "launch", Fixed: nd("10")}}
		p.Overrides = []program.Override{{Level: 1, Rate: d("0.01")}}
	})}, tb)
	if err != nil {
		t.Fatal(err)
	}
	s := MemoryStore{}
	for _, line := range []string{sale("S1", "2026-11-03", "R-1", "1000 USD"), ret("R1", "S1", "2026-11-04", "400 USD")} {
		if _, err := e.ApplyCredit(s, credit(t, tb, line, "R-1")); err != nil {
			t.Fatal(err)
		}
	}
	before := encodeAll(s)
	for _, c := range []struct {
		line, rep, reason string
	}{
		{ret("R2", "S1", "2026-11-05", "700 USD"), "R-1", ReasonReturnExceedsOriginal},
		{ret("R3", "S1", "2026-11-05", "10 EUR"), "R-1", ReasonReturnCurrency},
		{ret("R4", "S9", "2026-11-05", "10 USD"), "R-1", ReasonUnknownOriginal},
		{sale("S2", "2026-11-05", "R-1", "10 GBP"), "R-1", ReasonFXRateMissing},
		{sale("S3", "2026-11-05", "R-404", "10 USD"), "R-404", ReasonUnknownRep},
	} {
		_, err := e.ApplyCredit(s, credit(t, tb, c.line, c.rep))
		var rj *pipeline.Reject
		if !errors.As(err, &rj) || rj.Reason != c.reason {
			t.Errorf("%s: got %v, want %s", c.line, err, c.reason)
		}
		if after := encodeAll(s); !maps.Equal(before, after) {
			t.Fatalf("%s changed the store", c.reason)
		}
	}
	if _, err := e.ApplyCredit(s, credit(t, tb, cancel("C1", "S1", "2026-11-06"), "R-1")); err != nil {
		t.Fatal(err)
	}
	before = encodeAll(s)
	_, err = e.ApplyCredit(s, credit(t, tb, cancel("C2", "S1", "2026-11-07"), "R-1"))
	if asReject(err).Reason != ReasonAlreadyCancelled || !maps.Equal(before, encodeAll(s)) {
		t.Errorf("a second cancel: %v", err)
	}
	if _, err := e.ApplyOverride(s, &OverrideCredit{ID: "x", ProgramID: "gone", Period: "2026-11", ManagerID: "M-1"}); asReject(err).Reason != ReasonUnknownProgram {
		t.Errorf("override of an unknown program: %v", err)
	}
	if _, err := e.Apply(s, Input{}); asReject(err).Reason != ReasonInvalidInput {
		t.Errorf("empty input: %v", err)
	}
	if !maps.Equal(before, encodeAll(s)) {
		t.Error("refused inputs changed the store")
	}
}

func encodeAll(s MemoryStore) map[string]string {
	m := make(map[string]string, len(s))
	for k, v := range s {
		m[k] = string(Codec{}.Encode(nil, v))
	}
	return m
}

func TestNewRefusesVersionsThatDisagree(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(*program.Program)
		want string
	}{
		{"currency", func(p *program.Program) { p.Currency = "EUR" }, "currency"},
		{"period", func(p *program.Program) { p.Period = program.Quarter }, "period"},
		{"measure", func(p *program.Program) { p.Credit.Measure = program.Margin }, "measure"},
		{"same version", func(p *program.Program) { p.Version = 1 }, "twice"},
	} {
		v2 := plan(func(p *program.Program) { p.Version = 2 }, c.mod)
		_, err := New([]*program.Program{plan(), v2}, nil)
		if !errors.Is(err, ErrPrograms) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := New([]*program.Program{plan(), plan(func(p *program.Program) { p.Version = 2 })}, nil); err != nil {
		t.Error(err)
	}
}

func ExampleNew() {
	var tables reference.Tables
	tables.Put(reference.Rep{RepID: "R-17", Role: "AE", ValidFrom: reference.Forever})
	filter, _ := program.NewExpr(`amount >= 100`)
	ae := &program.Program{
		ID: "ae", Version: 1, Currency: "USD", Location: time.UTC, Period: program.Month,
		Credit: program.Credit{Filter: filter, Measure: program.Amount},
		Quota:  &program.Quota{Default: decimal.NewNullDecimal(decimal.NewFromInt(10000))},
		Tiers: program.Tiers{Basis: program.Attainment, Method: program.Marginal, Bands: []program.Band{
			{From: decimal.Zero, Rate: decimal.RequireFromString("0.02")},
			{From: decimal.RequireFromString("0.5"), Rate: decimal.RequireFromString("0.05")},
		}},
	}
	e, err := New([]*program.Program{ae}, &tables)
	if err != nil {
		panic(err)
	}
	store := MemoryStore{}
	sale := &canonical.Event{EventID: "crm:O-1:sale", Source: "crm", TxnID: "O-1", Type: canonical.Sale,
		EventTime: time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC), RepID: "R-17",
		Amount: canonical.Money{Value: decimal.NewFromInt(6000), Currency: "USD"}}
	out, err := e.ApplyCredit(store, &link.Credit{Event: sale, RepID: "R-17", Share: decimal.NewFromInt(1)})
	if err != nil {
		panic(err)
	}
	fmt.Println(out.Accruals[0].Delta, out.Snapshots[0].Attainment.Decimal)
	for _, st := range e.Statements(store) {
		fmt.Println(string(st.AppendJSON(nil)))
	}
	// Output:
	// 150 0.6
	// {"program_id":"ae","program_version":1,"period":"2026-11","rep_id":"R-17","currency":"USD","measure":"6000.00","quota":"10000","attainment":"0.6000","commission":"150.00","spiff":"0.00","override":"0.00","earned":"150.00","capped":false}
}
