package faults

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/internal/e2e"
	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// checked is what a check found: the differences, and what the pipeline
// holds.
type checked struct {
	problems                 []string
	clean, credits, accruals int
}

// check compares the pipeline's outputs with simulate and the input:
//   - the accruals topic: no accrual id twice, and the deltas of every
//     program, period and rep add up to simulate's earned, to the cent;
//   - ClickHouse: leaderboard and rep_statement equal simulate, every
//     clean event, credit and dead letter a row once;
//   - every raw record is an event on the canonical topic exactly as often
//     as it was sent, or a dead letter of the ingest stage with the reason
//     it was broken for; every copy is a dead letter of dedupe, every clean
//     event is there once; every clean event is credited or a dead letter
//     of link, never both; no credit twice; the events link and accrue
//     refused are those simulate rejects, by reason.
//
// With final false it stops at the first kind of difference, ClickHouse
// first: it is called until the pipeline settles.
func (r *run) check(final bool) checked {
	var c checked
	note := func(f string, a ...any) { c.problems = append(c.problems, fmt.Sprintf(f, a...)) }
	// ClickHouse is the end of the line: when it agrees, the rest
	// most likely does too.
	c.problems = e2e.CompareReports(r.t, r.conn, r.want, final)
	if !final && len(c.problems) > 0 {
		return c
	}
	r.checkAccruals(&c, note)
	if !final && len(c.problems) > 0 {
		return c
	}
	r.checkFlow(&c, note)
	if final {
		r.checkTables(&c, note)
	}
	return c
}

// checkAccruals sums the accruals topic by program, period and rep.
func (r *run) checkAccruals(c *checked, note func(string, ...any)) {
	sums := map[string]decimal.Decimal{}
	ids := map[string]int{}
	recs := r.read(r.tp.Accruals)
	c.accruals = len(recs)
	for _, rec := range recs {
		var a struct {
			ID      string          `json:"accrual_id"`
			Program string          `json:"program_id"`
			Period  string          `json:"period"`
			Rep     string          `json:"rep_id"`
			Delta   decimal.Decimal `json:"delta"`
		}
		if err := json.Unmarshal(rec.Value, &a); err != nil {
			note("accruals: %s: %v", rec.Value, err)
			continue
		}
		ids[a.ID]++
		k := e2e.StatementKey(a.Program, a.Period, a.Rep)
		sums[k] = sums[k].Add(a.Delta)
	}
	noteRepeats("accruals: accrual", ids, note)
	if n := e2e.CompareEarned(r.want, sums, "accruals", note); n > 0 {
		note("accruals: the deltas of %d of %d statements do not add up to simulate's earned", n, len(r.want.Statements))
	}
}

// deadLetter is what the checks read of a dead letter.
type deadLetter struct {
	stage, reason, from string // from: source topic/partition/offset
	eventID             string
}

func readDeadLetter(rec *kgo.Record) deadLetter {
	h := func(k string) string { v, _ := pipeline.Header(rec, k); return v }
	return deadLetter{stage: h(pipeline.HeaderStage), reason: h(pipeline.HeaderReason),
		from: h(pipeline.HeaderSourceTopic) + "/" + h(pipeline.HeaderSourcePartition) + "/" + h(pipeline.HeaderSourceOffset)}
}

// eventID is the event id of a canonical event, or of a credit's event.
func eventID(v []byte) string {
	var e struct {
		EventID string `json:"event_id"`
		Event   *struct {
			EventID string `json:"event_id"`
		} `json:"event"`
	}
	if json.Unmarshal(v, &e) != nil {
		return ""
	}
	if e.Event != nil {
		return e.Event.EventID
	}
	return e.EventID
}

// checkFlow follows every raw record through the topics.
func (r *run) checkFlow(c *checked, note func(string, ...any)) {
	w, tp := r.w, r.tp
	// Dead letters, by stage; each source position refused once.
	dls := map[string][]deadLetter{}
	from := map[string]int{}
	for _, topic := range []string{tp.Rejected, tp.AccrueRejected} {
		for _, rec := range r.read(topic) {
			d := readDeadLetter(rec)
			d.eventID = eventID(rec.Value)
			dls[d.stage] = append(dls[d.stage], d)
			from[d.stage+" "+d.from]++
		}
	}
	noteRepeats("dead letters: the record at", from, note)

	// Ingest: every raw record an event as often as sent, or refused for
	// the reason it was broken for.
	canonical := map[string]int{}
	recs := r.read(tp.Canonical)
	for _, rec := range recs {
		canonical[eventID(rec.Value)]++
	}
	if len(recs)+len(dls[tp.Ingest]) != len(w.Raw) {
		note("ingest: %d events and %d dead letters for %d raw records", len(recs), len(dls[tp.Ingest]), len(w.Raw))
	}
	compareCounts("canonical: event", canonical, w.IDs, note)
	if got := byReason(dls[tp.Ingest]); fmt.Sprint(got) != fmt.Sprint(w.Broken) {
		note("ingest refused %v, the world broke %v", got, w.Broken)
	}

	// Dedupe: every event once, every copy a dead letter.
	clean := map[string]int{}
	for _, rec := range r.read(tp.Clean) {
		clean[eventID(rec.Value)]++
	}
	c.clean = len(clean)
	once := map[string]int{}
	for id := range w.IDs {
		once[id] = 1
	}
	compareCounts("clean: event", clean, once, note)
	if got := byReason(dls[tp.Dedupe]); len(dls[tp.Dedupe]) != w.Copies || got["duplicate"] != w.Copies {
		note("dedupe refused %v, the world sent %d copies", got, w.Copies)
	}

	// Link: every clean event credited or refused, not both; no credit
	// twice.
	credits := map[string]int{}
	credited := map[string]int{}
	for _, rec := range r.read(tp.Credited) {
		var cr struct {
			ID string `json:"credit_id"`
		}
		_ = json.Unmarshal(rec.Value, &cr)
		credits[cr.ID]++
		credited[eventID(rec.Value)] = 1
	}
	c.credits = len(credits)
	noteRepeats("credited: credit", credits, note)
	linked := map[string]int{}
	for id := range credited {
		linked[id]++
	}
	for _, d := range dls[tp.Link] {
		linked[d.eventID]++
	}
	compareCounts("link: event credited or refused", linked, once, note)

	// The events link and accrue refused: simulate's rejections.
	refused := byReason(dls[tp.Link])
	accrueByEvent := map[string]string{}
	for _, d := range dls[tp.Accrue] {
		accrueByEvent[d.eventID] = d.reason
	}
	for _, reason := range accrueByEvent {
		refused[reason]++
	}
	if fmt.Sprint(refused) != fmt.Sprint(r.want.Rejected) {
		note("refused by link and accrue, per event: %v (link %v); simulate: %v", refused, byReason(dls[tp.Link]), r.want.Rejected)
	}
	for stage := range dls {
		if stage != tp.Ingest && stage != tp.Dedupe && stage != tp.Link && stage != tp.Accrue {
			note("dead letters from an unknown stage %q", stage)
		}
	}
}

// checkTables checks that ClickHouse holds each clean event, credit and
// dead letter once.
func (r *run) checkTables(c *checked, note func(string, ...any)) {
	dls := len(r.read(r.tp.Rejected)) + len(r.read(r.tp.AccrueRejected))
	for query, want := range map[string]int{
		"SELECT count() FROM sales FINAL":   c.clean,
		"SELECT count() FROM credits FINAL": c.credits,
		"SELECT count() FROM rejects FINAL": dls,
		"SELECT count() FROM sink_rejects":  0,
	} {
		ctx, cancel := ctx()
		var n uint64
		err := r.conn.QueryRow(ctx, query).Scan(&n)
		cancel()
		switch {
		case err != nil:
			note("%s: %v", query, err)
		case n != uint64(want):
			note("%s: %d, want %d", query, n, want)
		}
	}
}

func (r *run) read(topic string) []*kgo.Record { return pt.ReadAll(r.t, r.brokers, topic) }

func byReason(ds []deadLetter) map[string]int {
	m := map[string]int{}
	for _, d := range ds {
		m[d.reason]++
	}
	return m
}

// noteRepeats notes the ids seen more than once (the first few).
func noteRepeats(what string, seen map[string]int, note func(string, ...any)) {
	var twice []string
	for id, n := range seen {
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s (%d×)", id, n))
		}
	}
	sort.Strings(twice)
	if len(twice) > 0 {
		note("%s %v: more than once (%d in all)", what, twice[:min(5, len(twice))], len(twice))
	}
}

// compareCounts notes the ids whose count differs from want's.
func compareCounts(what string, got, want map[string]int, note func(string, ...any)) {
	var diff []string
	for id, n := range want {
		if got[id] != n {
			diff = append(diff, fmt.Sprintf("%s %d×, want %d×", id, got[id], n))
		}
	}
	for id, n := range got {
		if _, ok := want[id]; !ok {
			diff = append(diff, fmt.Sprintf("%s %d×, never sent", id, n))
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		note("%s %v (%d in all)", what, diff[:min(5, len(diff))], len(diff))
	}
}
