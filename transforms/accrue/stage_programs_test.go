package accrue

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/link"
)

// planDoc is a small program document: id, version, currency, and 2% of
// the amount.
func planDoc(id string, version int, currency, from string) string {
	return fmt.Sprintf(`id: %s
version: %d
name: %s
currency: %s
timezone: UTC
period: month
effective_from: %s
credit: {measure: amount}
tiers:
  basis: measure
  method: marginal
  bands: [{from: "0", rate: "0.02"}]
overrides: [{level: 1, rate: "0.01"}]
`, id, version, id, currency, from)
}

func publishPlans(t testing.TB, brokers []string, topic string, docs ...string) {
	t.Helper()
	var recs []*kgo.Record
	for _, doc := range docs {
		p, err := program.Parse("plan.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		pb := program.NewPublication(p, time.Now())
		v, err := pb.Value()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: pb.Key(), Value: v})
	}
	recs = append(recs, &kgo.Record{Topic: topic, Key: []byte("broken@1"), Value: []byte(`{"id":"broken"}`)})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func TestBuildEngineLeavesOutVersionsThatDoNotFit(t *testing.T) {
	v1 := plan()
	v2 := plan(func(p *program.Program) { p.Version, p.Currency = 2, "EUR" })
	v3 := plan(func(p *program.Program) { p.Version, p.EffectiveFrom = 3, date("2026-07-01") })
	other := plan(func(p *program.Program) { p.ID = "other" })
	e, refused, err := BuildEngine([]*program.Program{v3, v2, other, v1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(refused) != 1 || !strings.Contains(refused[0], "ae v2: currency EUR") {
		t.Errorf("refused %q, want ae v2's currency", refused)
	}
	if got := fmt.Sprint(e.Programs()); got != "[ae other]" {
		t.Errorf("programs %s", got)
	}
	if f := e.byID["ae"]; len(f.versions) != 2 || f.versions[0] != v1 || f.versions[1] != v3 {
		t.Errorf("ae versions %v, want v1 and v3", f.versions)
	}
	if _, refused, err := BuildEngine([]*program.Program{v1, other}, nil); err != nil || refused != nil {
		t.Errorf("a set New takes: refused %v, %v", refused, err)
	}
}

// TestStageFollowsProgramsAndRejects publishes programs while the stage
// runs: credits are computed under the programs published before them; a
// version in another currency than its id's first is left out and
// counted; records that cannot be applied are dead letters with a reason
// and field, and change nothing.
func TestStageFollowsProgramsAndRejects(t *testing.T) {
	_, brokers := pt.Fake(t)
	tp := newStageTopics(t, brokers, 2)
	publishPlans(t, brokers, tp.programs, planDoc("a", 1, "USD", "2026-01-01"))
	reg := prometheus.NewRegistry()
	progs, err := NewPrograms(ProgramsConfig{Brokers: brokers, Topic: tp.programs, Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- progs.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := progs.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(progs.bad); n != 1 {
		t.Errorf("%v bad records counted, want 1", n)
	}
	tb := tables(t, defaultReps, "", defaultFX)
	am := NewMetrics(reg)
	proc, err := NewProcessor(tp.config(progs.Catalog(), tb, progs.Version, am))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(proc.Engine().Programs()); got != "[a]" {
		t.Fatalf("programs at start %s", got)
	}
	met := pipeline.NewMetrics(prometheus.NewRegistry())
	stop := tp.run(t, "a", proc, met)

	credit := func(txn, rep, amount string) link.Credit {
		c := credit(t, tb, sale(txn, "2026-11-03", rep, amount), rep)
		return *c
	}
	produceCredits(t, brokers, tp.credited, []link.Credit{credit("S1", "R-1", "1000 USD")})
	pt.WaitFor(t, 30*time.Second, "S1 applied", func() bool { return len(pt.ReadAll(t, brokers, tp.accruals)) >= 2 })

	// A new program, and a version of a in another currency: b counts from
	// now on, a's v2 is left out.
	publishPlans(t, brokers, tp.programs, planDoc("b", 1, "USD", "2026-01-01"), planDoc("a", 2, "EUR", "2026-06-01"))
	pt.WaitFor(t, 30*time.Second, "the new programs in the catalog", func() bool { return len(CatalogPrograms(progs.Catalog())) == 3 })
	produceCredits(t, brokers, tp.credited, []link.Credit{credit("S2", "R-2", "500 USD")})
	// Records that change nothing: unreadable, keyed by another rep, an
	// event without a type, an override of a program that does not exist,
	// a rate that is missing.
	bad, gbp := credit("S3", "R-1", "10 USD"), credit("S4", "R-1", "10 GBP")
	raw := []*kgo.Record{
		{Topic: tp.credited, Key: []byte("R-1"), Value: []byte(`{"credit_id":`)},
		{Topic: tp.credited, Key: []byte("R-2"), Value: bad.AppendJSON(nil)},
		{Topic: tp.credited, Key: []byte("R-1"), Value: []byte(strings.Replace(string(bad.AppendJSON(nil)), `"type":"sale",`, ``, 1))},
		{Topic: tp.overrides, Key: []byte("M-1"), Value: []byte(`{"override_id":"x/override/zz/1","program_id":"zz","program_version":1,"period":"2026-11","manager_id":"M-1","level":1,"from_rep_id":"R-1","rate":"0.01","amount":"1","event_id":"x"}`)},
		{Topic: tp.credited, Key: []byte("R-1"), Value: gbp.AppendJSON(nil)},
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), raw...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pt.WaitFor(t, 30*time.Second, "the dead letters", func() bool { return len(pt.ReadAll(t, brokers, tp.rejected)) >= len(raw) })
	pt.WaitFor(t, 30*time.Second, "S2 applied", func() bool { return len(pt.ReadAll(t, brokers, tp.accruals)) >= 6 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	var accruals []string
	for _, r := range pt.ReadAll(t, brokers, tp.accruals) {
		var a struct {
			InputID   string `json:"input_id"`
			ProgramID string `json:"program_id"`
			RepID     string `json:"rep_id"`
			Delta     string `json:"delta"`
		}
		if err := json.Unmarshal(r.Value, &a); err != nil {
			t.Fatal(err)
		}
		accruals = append(accruals, fmt.Sprintf("%s %s %s %s", a.InputID, a.ProgramID, a.RepID, a.Delta))
	}
	want := []string{
		"erp:S1:sale/R-1 a R-1 20.00", "erp:S1:sale/R-1/override/a/1 a M-1 10.00",
		"erp:S2:sale/R-2 a R-2 10.00", "erp:S2:sale/R-2 b R-2 10.00",
		"erp:S2:sale/R-2/override/a/1 a M-1 5.00", "erp:S2:sale/R-2/override/b/1 b M-1 5.00",
	}
	if got := strings.Join(slices.Sorted(slices.Values(accruals)), "\n"); got != strings.Join(slices.Sorted(slices.Values(want)), "\n") {
		t.Errorf("accruals:\n%s\nwant\n%s", got, strings.Join(slices.Sorted(slices.Values(want)), "\n"))
	}
	var rejects []string
	for _, r := range pt.ReadAll(t, brokers, tp.rejected) {
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		rejects = append(rejects, h[pipeline.HeaderReason]+" "+h[pipeline.HeaderField])
	}
	wantRejects := []string{"invalid_input ", "invalid_input rep_id", "invalid_input event.type", "unknown_program program_id", "fx_rate_missing amount.currency"}
	if got := strings.Join(slices.Sorted(slices.Values(rejects)), ","); got != strings.Join(slices.Sorted(slices.Values(wantRejects)), ",") {
		t.Errorf("dead letters %s, want %s", got, strings.Join(slices.Sorted(slices.Values(wantRejects)), ","))
	}
	if n := testutil.ToFloat64(am.refused); n < 1 {
		t.Errorf("versions refused %v, want at least 1", n)
	}
	if n := testutil.ToFloat64(am.builds); n < 2 {
		t.Errorf("engine builds %v, want at least 2", n)
	}
	if n := am.versions.Load(); n != 2 {
		t.Errorf("engine versions %d, want 2 (a v1 and b v1)", n)
	}
}
