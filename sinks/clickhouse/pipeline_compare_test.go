package clickhouse

import (
	"context"
	"fmt"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/accrue/accrue/internal/e2e"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/accrue"
)

// comparePipeline compares ClickHouse's reports with simulate (e2e.CompareReports)
// and the rejects, sales and credits tables with the dead letters and the
// world, and returns every difference (at most a few of each kind). With
// final false it stops at the first kind of difference: it is called until
// the pipeline settles.
func comparePipeline(t *testing.T, conn driver.Conn, brokers []string, tp *e2e.Topics, w *e2e.World, want *e2e.Simulation, final bool) []string {
	t.Helper()
	problems := e2e.CompareReports(t, conn, want, final)
	note := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	ctx := context.Background()
	if !final && len(problems) > 0 {
		return problems
	}

	// Rejects: every dead letter a row, with its reason and bytes.
	type reject struct{ reason, stage, raw string }
	dls := map[string]reject{}
	byStage := map[string]map[string]int{}
	accrueByEvent := map[string]string{}
	for _, topic := range []string{tp.Rejected, tp.AccrueRejected} {
		for _, r := range pt.ReadAll(t, brokers, topic) {
			rr := &rejectRows{in: interner{}}
			d := rr.read(r)
			dls[d.id(r.Value)] = reject{d.reason, d.stage, string(r.Value)}
			if byStage[d.stage] == nil {
				byStage[d.stage] = map[string]int{}
			}
			if topic == tp.AccrueRejected {
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
		if byStage[tp.Accrue] == nil {
			byStage[tp.Accrue] = map[string]int{}
		}
		byStage[tp.Accrue][reason]++
	}
	rows, err := conn.Query(ctx, "SELECT reject_id, reason, stage, raw_value FROM rejects FINAL")
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
	expect := map[string]map[string]int{tp.Ingest: w.Broken, tp.Dedupe: {"duplicate": w.Copies}}
	later := map[string]int{}
	for _, st := range []string{tp.Link, tp.Accrue} {
		for reason, k := range byStage[st] {
			later[reason] += k
		}
	}
	if fmt.Sprint(later) != fmt.Sprint(want.Rejected) {
		note("rejected by link and accrue, per event: %v; simulate: %v", later, want.Rejected)
	}
	for st, reasons := range expect {
		if fmt.Sprint(byStage[st]) != fmt.Sprint(reasons) {
			note("rejected by %s: %v, want %v", st, byStage[st], reasons)
		}
	}
	if want.Duplicates != w.Copies {
		note("simulate counted %d duplicates, the world has %d copies", want.Duplicates, w.Copies)
	}
	if !final && len(problems) > 0 {
		return problems
	}

	// Sales and credits: each once.
	if n := count(t, conn, "SELECT count() FROM sales FINAL"); n != uint64(w.Unique) {
		note("sales: %d rows through FINAL, want %d clean events", n, w.Unique)
	}
	if final {
		credits := len(pt.ReadAll(t, brokers, tp.Credited))
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
			len(want.Statements), len(dls), byStage, w.Unique, credits)
	}
	return problems
}
