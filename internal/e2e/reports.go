package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
)

// CompareReports compares ClickHouse's leaderboard and rep_statement views
// with simulate's statements and returns every difference (at most a few
// of each kind). With final false it stops at the first kind of
// difference: it is called until the pipeline settles. A query that fails
// is a difference too (the server may be down while a fault lasts).
func CompareReports(t testing.TB, conn driver.Conn, want *Simulation, final bool) []string {
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
		return []string{fmt.Sprintf("leaderboard: %v", err)}
	}
	got := map[string]Statement{}
	ranks := map[string][]string{} // program/period: rep_id by rank
	extra := 0
	for rows.Next() {
		var s Statement
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
		if _, dup := got[s.Key()]; dup {
			extra++
		}
		got[s.Key()] = s
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
		return []string{fmt.Sprintf("leaderboard: %v", err)}
	}
	rows.Close()
	if extra > 0 {
		note("leaderboard: %d rows repeat a rep or a rank", extra)
	}
	differ := 0
	for k, ws := range want.Statements {
		gs, ok := got[k]
		if !ok || !SameStatement(gs, ws) {
			if differ++; differ <= 5 {
				note("leaderboard %s:\n got %s\nwant %s", k, describe(gs, ok), describe(ws, true))
			}
		}
	}
	for k := range got {
		if _, ok := want.Statements[k]; !ok {
			if differ++; differ <= 5 {
				note("leaderboard %s: a row simulate does not compute", k)
			}
		}
	}
	if differ > 0 {
		note("leaderboard: %d of %d statements differ from simulate", differ, len(want.Statements))
	}
	if !final && len(problems) > 0 {
		return problems
	}
	for board, reps := range ranks {
		if differ > 0 || extra > 0 {
			break // ranks of rows that are wrong say nothing more
		}
		if !sort.SliceIsSorted(reps, func(i, j int) bool {
			return ranksBefore(want.Statements[board+"/"+reps[i]], want.Statements[board+"/"+reps[j]])
		}) {
			note("leaderboard %s: ranked %v, not by attainment, earned and rep", board, reps)
		}
	}

	// The statement view: each key's accrual lines add up to earned, and
	// every line finds its sale.
	rows, err = conn.Query(ctx, `SELECT program_id, period, rep_id, toString(sum(delta)), countIf(source = '')
		FROM rep_statement GROUP BY program_id, period, rep_id`)
	if err != nil {
		return append(problems, fmt.Sprintf("rep_statement: %v", err))
	}
	sums := map[string]decimal.Decimal{}
	orphans := uint64(0)
	for rows.Next() {
		var prog, period, rep, sum string
		var noSale uint64
		if err := rows.Scan(&prog, &period, &rep, &sum, &noSale); err != nil {
			t.Fatal(err)
		}
		sums[StatementKey(prog, period, rep)] = decimal.RequireFromString(sum)
		orphans += noSale
	}
	rows.Close()
	if n := CompareEarned(want, sums, "rep_statement", note); n > 0 {
		note("rep_statement: %d of %d statements' lines do not add up to simulate's earned", n, len(want.Statements))
	}
	if orphans > 0 {
		note("rep_statement: %d accrual lines find no sale", orphans)
	}
	return problems
}

// CompareEarned compares sums of accrual deltas by statement key with
// simulate's earned, notes the first few differences (named by what) and
// returns how many keys differ. A key simulate does not compute must sum
// to zero.
func CompareEarned(want *Simulation, sums map[string]decimal.Decimal, what string, note func(string, ...any)) int {
	differ := 0
	for k, ws := range want.Statements {
		e := decimal.RequireFromString(ws.Earned)
		if s, ok := sums[k]; (!ok && !e.IsZero()) || !s.Equal(e) {
			if differ++; differ <= 5 {
				note("%s %s: deltas add up to %s, simulate's earned is %s", what, k, s, ws.Earned)
			}
		}
	}
	for k, s := range sums {
		if _, ok := want.Statements[k]; !ok && !s.IsZero() {
			if differ++; differ <= 5 {
				note("%s %s: deltas add up to %s for a statement simulate does not compute", what, k, s)
			}
		}
	}
	return differ
}

// SameStatement compares two statements, decimals by value.
func SameStatement(a, b Statement) bool {
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

func describe(s Statement, ok bool) string {
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
func ranksBefore(a, b Statement) bool {
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
