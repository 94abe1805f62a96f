package accrue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/ingest"
)

// killPrograms are the program documents of the kill test: an amount plan
// in two versions (marginal, then retroactive from July) with quota by
// role, cap, a fixed and a rate spiff, clawback, overrides two levels up,
// nudges and badges; a quarterly margin plan in EUR for AEs selling
// software; a yearly count plan in JPY; a quarterly quantity plan.
var killPrograms = map[string]string{
	"ae-1.yaml": `id: ae
version: 1
name: AE commission
currency: USD
timezone: UTC
period: month
effective_from: 2026-01-01
effective_to: 2026-06-30
credit: {measure: amount}
quota: {default: "20000", by_role: {AE: "25000"}}
tiers:
  basis: attainment
  method: marginal
  bands: [{from: "0", rate: "0.02"}, {from: "0.5", rate: "0.05"}, {from: "1.0", rate: "0.08"}]
cap: {amount: "3000"}
spiffs:
  - {id: launch, when: 'product_id == "P-1"', fixed: "50", max_per_period: 5}
  - {id: online, when: 'attributes["channel"] == "online"', rate: "0.01"}
clawback: {window_days: 60}
overrides: [{level: 1, rate: "0.02"}, {level: 2, rate: "0.0075"}]
nudges:
  attainment_crossed: ["0.5", "1.0"]
  near_next_tier: {within: "0.1"}
badges:
  - {id: first, metric: count, at_least: "1"}
  - {id: club, metric: attainment, at_least: "1.0"}
  - {id: earner, metric: earned, at_least: "1000"}
`,
	"ae-2.yaml": `id: ae
version: 2
name: AE commission, retroactive
currency: USD
timezone: UTC
period: month
effective_from: 2026-07-01
credit: {measure: amount}
quota: {default: "20000", by_role: {AE: "25000"}}
tiers:
  basis: attainment
  method: retroactive
  bands: [{from: "0", rate: "0.03"}, {from: "0.8", rate: "0.06"}, {from: "1.2", rate: "0.09"}]
cap: {amount: "3000"}
spiffs:
  - {id: launch, when: 'product_id == "P-1"', fixed: "50", max_per_period: 5}
clawback: {window_days: 60}
overrides: [{level: 1, rate: "0.02"}, {level: 2, rate: "0.0075"}]
nudges:
  attainment_crossed: ["0.5", "1.0"]
badges:
  - {id: first, metric: count, at_least: "1"}
  - {id: earner, metric: earned, at_least: "1000"}
`,
	"gm.yaml": `id: gm
version: 1
name: Software margin
currency: EUR
timezone: Europe/Berlin
period: quarter
effective_from: 2026-01-01
participants: {roles: [AE]}
credit:
  filter: 'product.category in ["software"]'
  measure: margin
tiers:
  basis: measure
  method: retroactive
  bands: [{from: "0", rate: "0.05"}, {from: "5000", rate: "0.07"}, {from: "20000", rate: "0.1"}]
overrides: [{level: 1, rate: "0.03"}]
nudges:
  near_next_tier: {within: "1000"}
badges:
  - {id: margin-10k, metric: measure, at_least: "10000"}
`,
	"deals.yaml": `id: deals
version: 1
name: Deals
currency: JPY
timezone: Asia/Tokyo
period: year
effective_from: 2026-01-01
credit: {measure: count}
tiers:
  basis: measure
  method: marginal
  bands: [{from: "0", rate: "1000"}, {from: "20", rate: "2500"}]
spiffs:
  - {id: deal, fixed: "500"}
`,
	"units.yaml": `id: units
version: 1
name: Units
currency: USD
timezone: UTC
period: quarter
effective_from: 2026-01-01
credit: {measure: quantity}
tiers:
  basis: measure
  method: marginal
  bands: [{from: "0", rate: "2.5"}, {from: "40", rate: "4"}]
clawback: {window_days: 30}
`,
}

// killWorld writes the reference data of the kill test to dir and returns
// its files and n canonical events (with copies): sales in USD, EUR, JPY
// and GBP (no rate) by 24 reps, a quarter of them split, returns (a few
// more than the sale), cancels (some twice), adjustments.
func killWorld(t *testing.T, dir string, seed uint64, n int) (files map[string]string, events []*canonical.Event) {
	rnd := rand.New(rand.NewPCG(seed, seed^0xacc))
	var reps, products strings.Builder
	for i := range 2 {
		fmt.Fprintf(&reps, `{"rep_id":"D-%d","role":"DIR","valid_from":"2026-01-01"}`+"\n", i)
	}
	for i := range 4 {
		fmt.Fprintf(&reps, `{"rep_id":"M-%d","role":"MGR","manager_id":"D-%d","valid_from":"2026-01-01"}`+"\n", i, i%2)
	}
	const nReps = 24
	for i := range nReps {
		fmt.Fprintf(&reps, `{"rep_id":"R-%d","role":"%s","manager_id":"M-%d","valid_from":"2026-01-01"}`+"\n", i, []string{"AE", "AE", "SE"}[i%3], i%4)
		if i%5 == 0 {
			fmt.Fprintf(&reps, `{"rep_id":"R-%d","role":"AE","manager_id":"M-%d","valid_from":"2026-%02d-15"}`+"\n", i, (i+1)%4, 3+i%8)
		}
	}
	for i := range 5 {
		fmt.Fprintf(&products, `{"product_id":"P-%d","category":"%s","valid_from":"2026-01-01"}`+"\n", i, []string{"software", "services", "hardware"}[i%3])
	}
	fx := `{"from":"EUR","to":"USD","rate":"1.08","valid_from":"2026-01-01"}
{"from":"EUR","to":"USD","rate":"1.1234","valid_from":"2026-05-01"}
{"from":"USD","to":"JPY","rate":"151.37","valid_from":"2026-01-01"}
{"from":"EUR","to":"JPY","rate":"162.9","valid_from":"2026-01-01"}
`
	files = map[string]string{}
	for name, body := range map[string]string{"reps": reps.String(), "products": products.String(), "fx": fx} {
		files[name] = filepath.Join(dir, name+".jsonl")
		if err := os.WriteFile(files[name], []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	step := (320 * 24 * time.Hour) / time.Duration(n)
	var sales []*canonical.Event
	currencies := []string{"USD", "USD", "USD", "EUR", "EUR", "JPY", "GBP"}
	for i := range n {
		when := start.Add(time.Duration(i) * step).Add(time.Duration(rnd.IntN(3600)) * time.Second)
		src := []string{"erp", "crm"}[rnd.IntN(2)]
		txn := "T" + strconv.Itoa(i)
		var e *canonical.Event
		switch k := rnd.IntN(100); {
		case k < 64 || len(sales) < 10:
			cur := currencies[rnd.IntN(len(currencies))]
			amount := decimal.New(int64(1000+rnd.IntN(1500000)), -2)
			if cur == "JPY" {
				amount = decimal.NewFromInt(int64(1000 + rnd.IntN(2000000)))
			}
			e = &canonical.Event{Source: src, TxnID: txn, Type: canonical.Sale, EventTime: when,
				RepID: "R-" + strconv.Itoa(rnd.IntN(nReps)), ProductID: "P-" + strconv.Itoa(rnd.IntN(5)),
				Amount: canonical.Money{Value: amount, Currency: cur}}
			if rnd.IntN(3) > 0 {
				e.Margin = &canonical.Money{Value: amount.Mul(decimal.RequireFromString("0.3")).Round(2), Currency: cur}
			}
			if rnd.IntN(2) == 0 {
				e.Quantity = decimal.NewNullDecimal(decimal.NewFromInt(int64(1 + rnd.IntN(5))))
			}
			if rnd.IntN(3) == 0 {
				e.Attributes = map[string]string{"channel": "online"}
			}
			if rnd.IntN(4) == 0 {
				first := rnd.IntN(nReps)
				for j, s := range [][]string{{"0.5", "0.5"}, {"0.25", "0.75"}, {"0.3", "0.3", "0.4"}}[rnd.IntN(3)] {
					e.Splits = append(e.Splits, canonical.Split{RepID: "R-" + strconv.Itoa((first+j*7)%nReps), Share: decimal.RequireFromString(s)})
				}
				e.RepID = ""
			}
			sales = append(sales, e)
		case k < 80:
			orig := sales[rnd.IntN(len(sales))]
			part := orig.Amount.Value.Mul(decimal.NewFromInt(int64(1 + rnd.IntN(70)))).Div(decimal.NewFromInt(100)).Round(2)
			if orig.Amount.Currency == "JPY" {
				part = part.Round(0)
			}
			e = &canonical.Event{Source: orig.Source, TxnID: txn, Type: canonical.Return, RefTxnID: orig.TxnID, EventTime: when,
				ProductID: orig.ProductID, Amount: canonical.Money{Value: part, Currency: orig.Amount.Currency}}
			if orig.Quantity.Valid && rnd.IntN(2) == 0 {
				e.Quantity = decimal.NewNullDecimal(decimal.NewFromInt(1))
			}
		case k < 90:
			orig := sales[rnd.IntN(len(sales))]
			e = &canonical.Event{Source: orig.Source, TxnID: txn, Type: canonical.Cancel, RefTxnID: orig.TxnID, EventTime: when,
				Amount: canonical.Money{Value: decimal.Zero, Currency: orig.Amount.Currency}}
		default:
			v := decimal.New(int64(rnd.IntN(400000)-150000), -2)
			e = &canonical.Event{Source: src, TxnID: txn, Type: canonical.Adjustment, EventTime: when,
				RepID: "R-" + strconv.Itoa(rnd.IntN(nReps)), Amount: canonical.Money{Value: v, Currency: "USD"}}
			if rnd.IntN(2) == 0 {
				e.Margin = &canonical.Money{Value: v.Div(decimal.NewFromInt(4)).Round(2), Currency: "USD"}
			}
		}
		e.EventID = canonical.DefaultEventID(e.Source, e.TxnID, e.Type)
		if err := e.Validate(); err != nil {
			t.Fatalf("generated a bad event %s: %v", e.EventID, err)
		}
		events = append(events, e)
		if rnd.IntN(100) == 0 {
			events = append(events, e) // a copy: the linking stage's duplicate
		}
	}
	return files, events
}

// TestStageKillsMatchSimulate runs `accrue stage link` and `accrue stage
// accrue` as processes on the real broker, on canonical events produced in
// three parts, and kills the accrual stage with SIGKILL three times while
// it works (restarting it each time). Afterwards the accruals topic, read
// read_committed, must add up per program, period and rep to exactly the
// earned that `accrue simulate` prints for the same programs, reference
// data and events; the latest attainment snapshot of each must be its
// statement line; every accrual, payable, snapshot, nudge and award must be
// there once; the nudges must be simulate's, the awards too (but for
// badges on earned that overrides reach, see awardsDiff); and the
// rejected inputs, by event, must be those simulate counts.
//
// The link stage's input has one partition, so that each rep's credits
// reach the accrual stage's four partitions in the order of the file, as
// simulate reads them: nudges depend on it.
//
// After the third kill two instances share the partitions (the group
// rebalances while the last part is accruing). Then a new version of one
// program is published and `accrue recompute` runs against both: the statements must become what
// simulate computes with the new version, again to the cent.
func TestStageKillsMatchSimulate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs stage processes against a real broker")
	}
	brokers := pt.RealBrokers(t)
	seed := uint64(time.Now().UnixNano())
	dir := t.TempDir()
	t.Logf("seed %d; logs in %s", seed, dir)
	rnd := rand.New(rand.NewPCG(seed, 1))
	bin := pt.AccrueBinary(t)
	common := []string{"--brokers", brokers[0], "--log-level", "info"}
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(bin, append(append([]string{}, common...), args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("accrue %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
		return append(out, stderr.Bytes()...)
	}

	// Topics.
	tp := newStageTopics(t, brokers, 4)
	sfx := strings.TrimPrefix(tp.name, "accrue-")
	in, linkName, linkRejected, refPrefix := "canonical-"+sfx, "link-"+sfx, "link-rejected-"+sfx, "ref-"+sfx+"."
	pt.CreateTopics(t, brokers, 1, []string{in, linkRejected}, linkName+".changelog")
	var refs []string
	for _, k := range []string{"reps", "products", "accounts", "fx", "identities"} {
		refs = append(refs, refPrefix+k)
	}
	pt.CreateTopics(t, brokers, 1, nil, refs...)

	// Programs, reference data, events.
	var programFiles []string
	for name, doc := range killPrograms {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		programFiles = append(programFiles, f)
	}
	files, events := killWorld(t, dir, seed, 4000)
	var lines bytes.Buffer
	for _, e := range events {
		lines.Write(e.AppendJSON(nil))
		lines.WriteByte('\n')
	}
	files["events"] = filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(files["events"], lines.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"reps", "products", "fx"} {
		run("ref", "load", "--kind", k, "-q", "--topic", refPrefix+k, "--transactional-id", "ref-load-"+sfx, files[k])
	}
	run(append([]string{"program", "--topic", tp.programs, "publish"}, programFiles...)...)

	// What simulate says.
	simulate := func(programFiles []string) (*expected, map[string]int, string) {
		t.Helper()
		nudgesFile, awardsFile := filepath.Join(dir, "nudges.jsonl"), filepath.Join(dir, "awards.jsonl")
		simArgs := append([]string{"simulate"}, "--reps", files["reps"], "--products", files["products"], "--fx", files["fx"],
			"--events", files["events"], "--nudges", nudgesFile, "--awards", awardsFile)
		for _, f := range programFiles {
			simArgs = append(simArgs, "--program", f)
		}
		simCmd := exec.Command(bin, simArgs...)
		var simErr bytes.Buffer
		simCmd.Stderr = &simErr
		simOut, err := simCmd.Output()
		if err != nil {
			t.Fatalf("accrue simulate: %v\n%s", err, simErr.Bytes())
		}
		return simulated(t, simOut, nudgesFile, awardsFile), simulatedRejects(simErr.String()), simErr.String()
	}
	want, simRejected, summary := simulate(programFiles)
	t.Logf("simulate: %d statements, %d nudges, %d awards; summary:\n%s", len(want.statements), len(want.nudges), len(want.awards), summary)

	// The stages.
	startLink := func() *pt.Proc {
		return pt.StartProc(t, bin, dir, "link", append(append([]string{}, common...), "stage", "link",
			"--name", linkName, "--input", in, "--output", tp.credited, "--dead-letter", linkRejected,
			"--ref-prefix", refPrefix, "--instance-id", "l1", "--admin-addr", "",
			"--session-timeout", "6s", "--transaction-timeout", "10s", "--max-poll-records", "500")...)
	}
	startAccrue := func(id string) *pt.Proc {
		return pt.StartProc(t, bin, dir, "accrue-"+id, append(append([]string{}, common...), "stage", "accrue",
			"--name", tp.name, "--input", tp.credited, "--overrides", tp.overrides, "--recompute", tp.recompute,
			"--dead-letter", tp.rejected,
			"--accruals", tp.accruals, "--attainment", tp.attainment, "--nudges", tp.nudges, "--awards", tp.awards,
			"--payable", tp.payable, "--programs-topic", tp.programs, "--ref-prefix", refPrefix,
			"--instance-id", id, "--admin-addr", "", "--sweep-interval", "2s",
			"--session-timeout", "6s", "--transaction-timeout", "10s", "--max-poll-records", "300")...)
	}
	accruals := func() int { return len(pt.ReadAll(t, brokers, tp.accruals)) }
	third := len(events) / 3
	produce := func(es []*canonical.Event) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(in))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var rs []*kgo.Record
		for _, e := range es {
			rs = append(rs, &kgo.Record{Key: ingest.Key(e), Value: e.AppendJSON(nil)})
		}
		if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	produce(events[:third])
	link := startLink()
	p := startAccrue("a1")
	kills := 0
	killWhenBusy := func(what string) {
		t.Helper()
		before := accruals()
		pt.WaitFor(t, 90*time.Second, what, func() bool {
			if !p.Alive() {
				p.Died()
			}
			return accruals() > before+50
		})
		time.Sleep(time.Duration(rnd.IntN(400)) * time.Millisecond)
		p.Kill()
		kills++
		t.Logf("kill %d: %s, %d accruals committed", kills, what, accruals())
	}
	killWhenBusy("the first part accruing")
	produce(events[third : 2*third])
	p = startAccrue("a1")
	killWhenBusy("the second part accruing")
	p = startAccrue("a1")
	produce(events[2*third:])
	killWhenBusy("the last part accruing")
	// Two instances from here on: the group splits the partitions between
	// them while the last part is still accruing, and the recompute run
	// below spans both.
	p = startAccrue("a1")
	q := startAccrue("a2")

	// Done when the latest snapshots are simulate's statements; a stream
	// that counted anything twice never gets there.
	settle := func(want *expected) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		for {
			got := readStreamed(t, tp)
			if len(got.latest) == len(want.statements) && matches(got, want) {
				return
			}
			for _, proc := range []*pt.Proc{p, q} {
				if !proc.Alive() {
					proc.Died()
				}
			}
			if time.Now().After(deadline) {
				return
			}
			time.Sleep(time.Second)
		}
	}
	settle(want)
	time.Sleep(2 * time.Second) // anything late would show now
	t.Logf("accrual stage stopped: %s and %s", bytes.TrimSpace(p.Stop()), bytes.TrimSpace(q.Stop()))
	link.Stop()

	got := readStreamed(t, tp)
	got.compare(t, want)
	// Rejected inputs: the stage's dead letters are per credit, simulate's
	// per event.
	byEvent := map[string]string{}
	for _, r := range pt.ReadAll(t, brokers, tp.rejected) {
		c, err := DecodeCredit(r.Value)
		if err != nil {
			t.Fatalf("dead letter %s: %v", r.Value, err)
		}
		for _, h := range r.Headers {
			if h.Key == pipeline.HeaderReason {
				byEvent[c.Event.EventID] = string(h.Value)
			}
		}
	}
	streamRejected := map[string]int{}
	for _, reason := range byEvent {
		streamRejected[reason]++
	}
	if fmt.Sprint(streamRejected) != fmt.Sprint(simRejected) {
		t.Errorf("rejected events by reason: stream %v, simulate %v", streamRejected, simRejected)
	}
	t.Logf("%d kills; %d statements, %d nudges, %d awards as simulate; rejected %v", kills, len(got.latest), len(got.nudges), len(got.awards), streamRejected)

	// A new version of ae from July, published now, and `accrue
	// recompute --program ae --from 2026-07`: the adjustments bring every
	// statement to what simulate computes with the new version.
	v3 := filepath.Join(dir, "ae-3.yaml")
	if err := os.WriteFile(v3, []byte(killAEv3), 0o644); err != nil {
		t.Fatal(err)
	}
	run("program", "--topic", tp.programs, "publish", v3)
	wantV3, _, _ := simulate(append(programFiles, v3))
	p, q = startAccrue("a1"), startAccrue("a2")
	out := run("recompute", "--program", "ae", "--from", "2026-07", "-q", "--programs-topic", tp.programs,
		"--credits", tp.credited, "--topic", tp.recompute, "--dead-letter", tp.rejected, "--group", "accrue-"+tp.name)
	t.Logf("%s", bytes.TrimSpace(out))
	settle(wantV3)
	p.Stop()
	q.Stop()
	got = readStreamed(t, tp)
	// The run fires no nudge or badge: compare the figures.
	got.nudges, got.awards, wantV3.nudges, wantV3.awards = nil, nil, nil, nil
	got.compare(t, wantV3)
	changed := 0
	for k, st := range wantV3.statements {
		if want.statements[k] != st {
			changed++
		}
	}
	if changed == 0 {
		t.Error("the new version changed no statement: the recompute proves nothing")
	}
	t.Logf("recompute: %d statements changed, all as simulate computes them with ae v3", changed)
}

// killAEv3 is a new version of ae from July: other bands, overrides and
// launch spiff.
const killAEv3 = `id: ae
version: 3
name: AE commission, retroactive, richer
currency: USD
timezone: UTC
period: month
effective_from: 2026-07-01
credit: {measure: amount}
quota: {default: "20000", by_role: {AE: "25000"}}
tiers:
  basis: attainment
  method: retroactive
  bands: [{from: "0", rate: "0.035"}, {from: "0.7", rate: "0.065"}, {from: "1.1", rate: "0.1"}]
cap: {amount: "3500"}
spiffs:
  - {id: launch, when: 'product_id == "P-1"', fixed: "80", max_per_period: 5}
clawback: {window_days: 60}
overrides: [{level: 1, rate: "0.03"}, {level: 2, rate: "0.01"}]
nudges:
  attainment_crossed: ["0.5", "1.0"]
badges:
  - {id: first, metric: count, at_least: "1"}
  - {id: earner, metric: earned, at_least: "1000"}
`

// matches reports whether every statement is there with its earned.
func matches(got *streamed, want *expected) bool {
	for k, st := range want.statements {
		if got.latest[k] != st {
			return false
		}
	}
	return true
}

// simulated reads simulate's output into what the stream must match.
func simulated(t *testing.T, stdout []byte, nudgesFile, awardsFile string) *expected {
	t.Helper()
	x := &expected{statements: map[string]string{}, earnedLines: map[string]decimal.Decimal{}, overrides: -1}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		var h struct {
			ProgramID string `json:"program_id"`
			Period    string `json:"period"`
			RepID     string `json:"rep_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
			t.Fatalf("simulate printed %q: %v", sc.Bytes(), err)
		}
		x.statements[h.ProgramID+"/"+h.Period+"/"+h.RepID] = sc.Text()
	}
	for _, f := range []struct {
		path string
		dst  *[]string
	}{{nudgesFile, &x.nudges}, {awardsFile, &x.awards}} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l != "" {
				*f.dst = append(*f.dst, l)
			}
		}
	}
	for name, doc := range killPrograms {
		p, err := program.Parse(name, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range p.Badges {
			if k := p.ID + "/" + b.ID; b.Metric == program.MetricEarned && b.AtLeast.GreaterThan(x.earnedLines[k]) {
				x.earnedLines[k] = b.AtLeast
			}
		}
	}
	return x
}

// simulatedRejects reads the rejections by reason from simulate's summary,
// less the duplicates (the linking stage's).
func simulatedRejects(summary string) map[string]int {
	out := map[string]int{}
	for _, l := range strings.Split(summary, "\n") {
		if !strings.HasPrefix(l, "  ") {
			continue
		}
		f := strings.Fields(l)
		if n, err := strconv.Atoi(f[len(f)-1]); err == nil && len(f) == 2 {
			out[f[0]] = n
		}
	}
	return out
}
