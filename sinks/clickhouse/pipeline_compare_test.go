package clickhouse

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/accrue"
)

// What the whole-pipeline test compares: simulate's statements and
// rejections with ClickHouse's reports and rejects.

// statement is one line of simulate's output, as its JSON has it.
type statement struct {
	ProgramID      string  `json:"program_id"`
	ProgramVersion uint32  `json:"program_version"`
	Period         string  `json:"period"`
	RepID          string  `json:"rep_id"`
	Currency       string  `json:"currency"`
	Measure        string  `json:"measure"`
	Quota          *string `json:"quota"`
	Attainment     *string `json:"attainment"`
	Commission     string  `json:"commission"`
	Spiff          string  `json:"spiff"`
	Override       string  `json:"override"`
	Earned         string  `json:"earned"`
	Capped         bool    `json:"capped"`
}

func (s statement) key() string { return s.ProgramID + "/" + s.Period + "/" + s.RepID }

// simulation is what `accrue simulate` says of the world.
type simulation struct {
	statements map[string]statement
	duplicates int
	rejected   map[string]int // by reason, per event
}

func simulatePipeline(t *testing.T, bin string, w *pipelineWorld) *simulation {
	t.Helper()
	args := []string{"simulate", "--reps", w.files["reps.jsonl"], "--products", w.files["products.jsonl"], "--fx", w.files["fx.jsonl"],
		"--events", w.files["events.jsonl"]}
	for _, p := range pipelinePrograms {
		args = append(args, "--program", p)
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("accrue simulate: %v\n%s", err, stderr.Bytes())
	}
	s := &simulation{statements: map[string]statement{}, rejected: map[string]int{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var st statement
		if err := json.Unmarshal(sc.Bytes(), &st); err != nil {
			t.Fatalf("simulate printed %q: %v", sc.Bytes(), err)
		}
		s.statements[st.key()] = st
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.Atoi(f[len(f)-1])
		switch {
		case err != nil:
		case strings.HasPrefix(l, "  ") && len(f) == 2:
			s.rejected[f[0]] = v
		case strings.HasPrefix(l, "duplicates"):
			s.duplicates = v
		case strings.HasPrefix(l, "events read") && v != w.events:
			t.Fatalf("simulate read %d events, the file has %d", v, w.events)
		}
	}
	// The world must reach every part of the calculation the reports show,
	// in both programs: else equal figures would prove little.
	seen := map[string]int{}
	for _, st := range s.statements {
		seen[st.ProgramID]++
		for what, ok := range map[string]bool{
			"spiff": !decimal.RequireFromString(st.Spiff).IsZero(), "override": !decimal.RequireFromString(st.Override).IsZero(),
			"capped": st.Capped, "negative": decimal.RequireFromString(st.Earned).IsNegative(),
		} {
			if ok {
				seen[st.ProgramID+" "+what]++
			}
		}
	}
	t.Logf("simulate's statements: %v", seen)
	for _, need := range []string{"ae-commission", "ae-commission spiff", "ae-commission override", "ae-commission capped",
		"se-margin-emea", "se-margin-emea override"} {
		if seen[need] == 0 {
			t.Errorf("no statement of %s: the world does not exercise it", need)
		}
	}
	return s
}

// comparePipeline compares ClickHouse's reports with simulate and the dead
// letters, and returns every difference (at most a few of each kind). With
// final false it stops at the first kind of difference: it is called until
// the pipeline settles.
func comparePipeline(t *testing.T, conn driver.Conn, brokers []string, tp *pipelineTopics, w *pipelineWorld, want *simulation, final bool) []string {
	t.Helper()
	var problems []string
	note := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	ctx := context.Background()

	// The leaderboard: simulate's statements, figure by figure, ranked.
	rows, err := conn.Query(ctx, `SELECT program_id, period, rank, rep_id, currency, program_version,
		toString(measure), ifNull(toString(quota), ''), ifNull(toString(attainment), ''),
		toString(commission), toString(spiff), toString(override), toString(earned), capped
		FROM leaderboard`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]statement{}
	ranks := map[string][]string{} // program/period: rep_id by rank
	extra := 0
	for rows.Next() {
		var s statement
		var rank uint32
		var quota, attainment string
		var capped uint8
		if err := rows.Scan(&s.ProgramID, &s.Period, &rank, &s.RepID, &s.Currency, &s.ProgramVersion, &s.Measure, &quota, &attainment,
			&s.Commission, &s.Spiff, &s.Override, &s.Earned, &capped); err != nil {
			t.Fatal(err)
		}
		s.Capped = capped == 1
		if quota != "" {
			s.Quota, s.Attainment = &quota, &attainment
		}
		if _, dup := got[s.key()]; dup {
			extra++
		}
		got[s.key()] = s
		b := ranks[s.ProgramID+"/"+s.Period]
		for len(b) < int(rank) {
			b = append(b, "")
		}
		if rank > 0 && b[rank-1] == "" {
			b[rank-1] = s.RepID
		} else {
			extra++
		}
		ranks[s.ProgramID+"/"+s.Period] = b
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if extra > 0 {
		note("leaderboard: %d rows repeat a rep or a rank", extra)
	}
	differ := 0
	for k, ws := range want.statements {
		gs, ok := got[k]
		if !ok || !sameStatement(gs, ws) {
			if differ++; differ <= 5 {
				note("leaderboard %s:\n got %s\nwant %s", k, describe(gs, ok), describe(ws, true))
			}
		}
	}
	for k := range got {
		if _, ok := want.statements[k]; !ok {
			if differ++; differ <= 5 {
				note("leaderboard %s: a row simulate does not compute", k)
			}
		}
	}
	if differ > 0 {
		note("leaderboard: %d of %d statements differ from simulate", differ, len(want.statements))
	}
	if !final && len(problems) > 0 {
		return problems
	}
	for board, reps := range ranks {
		if differ > 0 || extra > 0 {
			break // ranks of rows that are wrong say nothing more
		}
		if !sort.SliceIsSorted(reps, func(i, j int) bool {
			return ranksBefore(want.statements[board+"/"+reps[i]], want.statements[board+"/"+reps[j]])
		}) {
			note("leaderboard %s: ranked %v, not by attainment, earned and rep", board, reps)
		}
	}

	// The statement view: each key's accrual lines add up to earned, and
	// every line finds its sale.
	rows, err = conn.Query(ctx, `SELECT program_id, period, rep_id, toString(sum(delta)), countIf(source = '')
		FROM rep_statement GROUP BY program_id, period, rep_id`)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]decimal.Decimal{}
	orphans := uint64(0)
	for rows.Next() {
		var prog, period, rep, sum string
		var noSale uint64
		if err := rows.Scan(&prog, &period, &rep, &sum, &noSale); err != nil {
			t.Fatal(err)
		}
		sums[prog+"/"+period+"/"+rep] = decimal.RequireFromString(sum)
		orphans += noSale
	}
	rows.Close()
	differ = 0
	for k, ws := range want.statements {
		e := decimal.RequireFromString(ws.Earned)
		if s, ok := sums[k]; (!ok && !e.IsZero()) || !s.Equal(e) {
			if differ++; differ <= 5 {
				note("rep_statement %s: deltas add up to %s, simulate's earned is %s", k, s, ws.Earned)
			}
		}
	}
	for k, s := range sums {
		if _, ok := want.statements[k]; !ok && !s.IsZero() {
			if differ++; differ <= 5 {
				note("rep_statement %s: deltas add up to %s for a statement simulate does not compute", k, s)
			}
		}
	}
	if differ > 0 {
		note("rep_statement: %d of %d statements' lines do not add up to simulate's earned", differ, len(want.statements))
	}
	if orphans > 0 {
		note("rep_statement: %d accrual lines find no sale", orphans)
	}
	if !final && len(problems) > 0 {
		return problems
	}

	// Rejects: every dead letter a row, with its reason and bytes.
	type reject struct{ reason, stage, raw string }
	dls := map[string]reject{}
	byStage := map[string]map[string]int{}
	accrueByEvent := map[string]string{}
	for _, topic := range []string{tp.rejected, tp.accrueRejected} {
		for _, r := range pt.ReadAll(t, brokers, topic) {
			rr := &rejectRows{in: interner{}}
			d := rr.read(r)
			dls[d.id(r.Value)] = reject{d.reason, d.stage, string(r.Value)}
			if byStage[d.stage] == nil {
				byStage[d.stage] = map[string]int{}
			}
			if topic == tp.accrueRejected {
				c, err := accrue.DecodeCredit(r.Value)
				if err != nil {
					note("accrue dead letter %s: %v", r.Value, err)
					continue
				}
				accrueByEvent[c.Event.EventID] = d.reason
				continue
			}
			byStage[d.stage][d.reason]++
		}
	}
	for _, reason := range accrueByEvent {
		if byStage[tp.accrue] == nil {
			byStage[tp.accrue] = map[string]int{}
		}
		byStage[tp.accrue][reason]++
	}
	rows, err = conn.Query(ctx, "SELECT reject_id, reason, stage, raw_value FROM rejects FINAL")
	if err != nil {
		t.Fatal(err)
	}
	inCH := map[string]reject{}
	for rows.Next() {
		var id string
		var r reject
		if err := rows.Scan(&id, &r.reason, &r.stage, &r.raw); err != nil {
			t.Fatal(err)
		}
		inCH[id] = r
	}
	rows.Close()
	missing, wrong := 0, 0
	for id, d := range dls {
		switch r, ok := inCH[id]; {
		case !ok:
			if missing++; missing <= 3 {
				note("rejects: dead letter %s (%s) is not in ClickHouse", id, d.reason)
			}
		case r != d:
			if wrong++; wrong <= 3 {
				note("rejects: %s is %+v in ClickHouse, the dead letter %+v", id, r, d)
			}
		}
	}
	if missing > 0 || wrong > 0 || len(inCH) != len(dls) {
		note("rejects: %d rows for %d dead letters; %d missing, %d different", len(inCH), len(dls), missing, wrong)
	}
	// Each stage refused what it must: the broken records, the copies,
	// the events simulate rejects.
	expect := map[string]map[string]int{"ingest-" + tp.sfx: w.broken, tp.dedupe: {"duplicate": w.copies}}
	later := map[string]int{}
	for _, st := range []string{tp.link, tp.accrue} {
		for reason, k := range byStage[st] {
			later[reason] += k
		}
	}
	if fmt.Sprint(later) != fmt.Sprint(want.rejected) {
		note("rejected by link and accrue, per event: %v; simulate: %v", later, want.rejected)
	}
	for st, reasons := range expect {
		if fmt.Sprint(byStage[st]) != fmt.Sprint(reasons) {
			note("rejected by %s: %v, want %v", st, byStage[st], reasons)
		}
	}
	if want.duplicates != w.copies {
		note("simulate counted %d duplicates, the world has %d copies", want.duplicates, w.copies)
	}
	if !final && len(problems) > 0 {
		return problems
	}

	// Sales and credits: each once.
	if n := count(t, conn, "SELECT count() FROM sales FINAL"); n != uint64(w.unique) {
		note("sales: %d rows through FINAL, want %d clean events", n, w.unique)
	}
	if final {
		credits := len(pt.ReadAll(t, brokers, tp.credited))
		if n := count(t, conn, "SELECT count() FROM credits FINAL"); n != uint64(credits) {
			note("credits: %d rows through FINAL, want the %d credits", n, credits)
		}
		if n := count(t, conn, "SELECT toUInt64(sum(rejects)) FROM rejects_daily"); n != uint64(len(dls)) {
			note("rejects_daily: %d rejects, want the %d dead letters", n, len(dls))
		}
		if n := count(t, conn, "SELECT count() FROM sink_rejects"); n != 0 {
			note("sink_rejects: %d records the sink could not read", n)
		}
		t.Logf("ClickHouse: %d leaderboard rows as simulate, %d dead letters in rejects (by stage %v), %d sales, %d credits",
			len(got), len(dls), byStage, w.unique, credits)
	}
	return problems
}

// sameStatement compares two statements, decimals by value.
func sameStatement(a, b statement) bool {
	dec := func(x, y string) bool {
		dx, ex := decimal.NewFromString(x)
		dy, ey := decimal.NewFromString(y)
		return ex == nil && ey == nil && dx.Equal(dy)
	}
	opt := func(x, y *string) bool { return (x == nil) == (y == nil) && (x == nil || dec(*x, *y)) }
	return a.ProgramVersion == b.ProgramVersion && a.Currency == b.Currency && a.Capped == b.Capped &&
		dec(a.Measure, b.Measure) && opt(a.Quota, b.Quota) && opt(a.Attainment, b.Attainment) &&
		dec(a.Commission, b.Commission) && dec(a.Spiff, b.Spiff) && dec(a.Override, b.Override) && dec(a.Earned, b.Earned)
}

func describe(s statement, ok bool) string {
	if !ok {
		return "(no row)"
	}
	str := func(p *string) string {
		if p == nil {
			return "null"
		}
		return *p
	}
	return fmt.Sprintf("v%d %s measure %s quota %s attainment %s commission %s spiff %s override %s earned %s capped %t",
		s.ProgramVersion, s.Currency, s.Measure, str(s.Quota), str(s.Attainment), s.Commission, s.Spiff, s.Override, s.Earned, s.Capped)
}

// ranksBefore is the leaderboard's order: reps with a quota first, by
// attainment, then earned, highest first, then by rep_id.
func ranksBefore(a, b statement) bool {
	if (a.Attainment == nil) != (b.Attainment == nil) {
		return a.Attainment != nil
	}
	if a.Attainment != nil {
		if c := decimal.RequireFromString(*a.Attainment).Cmp(decimal.RequireFromString(*b.Attainment)); c != 0 {
			return c > 0
		}
	}
	if c := decimal.RequireFromString(a.Earned).Cmp(decimal.RequireFromString(b.Earned)); c != 0 {
		return c > 0
	}
	return a.RepID < b.RepID
}
