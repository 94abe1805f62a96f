package clickhouse

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/accrue"
	"github.com/accrue/accrue/transforms/accrue/program"
)

// The accrual stage's outputs, written with its own encoders.

func sampleAccrual() accrue.Accrual {
	return accrue.Accrual{
		ID: "crm:T-1:sale/R-1#ae/2026-11/R-1", ProgramID: "ae", ProgramVersion: 3, Period: "2026-11", RepID: "R-1",
		Currency: "USD", Delta: dec("25.00"), Earned: dec("125.00"), EventID: "crm:T-1:sale", InputID: "crm:T-1:sale/R-1",
		MinorUnits: 2,
		Trace: []accrue.Part{
			{Kind: "commission", BandFrom: decimal.NewNullDecimal(dec("0.5")), Rate: decimal.NewNullDecimal(dec("0.05")), Amount: dec("20.123456789012345678912")},
			{Kind: "spiff", SpiffID: "launch", Amount: dec("5")},
			{Kind: "override", Level: 1, FromRepID: "R-9", Rate: decimal.NewNullDecimal(dec("0.01")), Amount: dec("0.5")},
			{Kind: "override", Level: 1, FromRepID: "R-8", EventID: "crm:T-8:sale", Rate: decimal.NewNullDecimal(dec("0.01")), Amount: dec("0.25")},
		},
	}
}

func sampleSnapshot(rep string, version int64, measure, earned string, quota bool) accrue.Snapshot {
	s := accrue.Snapshot{Statement: accrue.Statement{
		ProgramID: "ae", ProgramVersion: 3, Period: "2026-11", RepID: rep, Currency: "USD",
		MeasureKind: program.Amount, Measure: dec(measure), Commission: dec(earned), Spiff: dec("0"),
		Override: dec("0"), Earned: dec(earned), MinorUnits: 2,
	}, Version: version, EventID: "crm:T-" + strconv.FormatInt(version, 10) + ":sale"}
	if quota {
		q := dec("10000")
		s.Quota = decimal.NewNullDecimal(q)
		s.Attainment = decimal.NewNullDecimal(dec(measure).Div(q).RoundBank(4))
	}
	return s
}

func TestAccrualRows(t *testing.T) {
	a := sampleAccrual()
	rows := accrualsTable.NewRows()
	if err := rows.Add(record("accruals", 1, a.AppendJSON(nil))); err != nil {
		t.Fatal(err)
	}
	col := func(name string) any { return column(t, accrualsTable, rows, name) }
	if id := col("accrual_id").([]string)[0]; id != a.ID {
		t.Errorf("accrual_id %q", id)
	}
	if d := col("delta").([]decimal.Decimal)[0]; !d.Equal(dec("25")) {
		t.Errorf("delta %s", d)
	}
	if k := col("trace.kind").([][]string)[0]; strings.Join(k, ",") != "commission,spiff,override,override" {
		t.Errorf("trace.kind %q", k)
	}
	bands := col("trace.band_from").([][]*decimal.Decimal)[0]
	if bands[0] == nil || !bands[0].Equal(dec("0.5")) || bands[1] != nil {
		t.Errorf("trace.band_from %v", bands)
	}
	if amt := col("trace.amount").([][]decimal.Decimal)[0]; !amt[0].Equal(dec("20.123456789012345679")) {
		t.Errorf("an exact part beyond 18 places is rounded half-even: %s", amt[0])
	}
	if l := col("trace.level").([][]uint8)[0]; l[2] != 1 {
		t.Errorf("trace.level %v", l)
	}
	if f := col("trace.from_rep_id").([][]string)[0]; f[2] != "R-9" {
		t.Errorf("trace.from_rep_id %q", f)
	}
	// A part names its own source event, else the line's.
	if e := col("trace.event_id").([][]string)[0]; e[0] != a.EventID || e[2] != a.EventID || e[3] != "crm:T-8:sale" {
		t.Errorf("trace.event_id %q", e)
	}
	for _, bad := range []string{`{"accrual_id":"x","program_id":"ae","period":"2026-11","rep_id":"R","delta":"1"}`,
		`{"accrual_id":"x","program_id":"ae","period":"2026-11","rep_id":"R","delta":"1","earned":"1","trace":[{"amount":1}]}`,
		`{"program_id":"ae","period":"2026-11","rep_id":"R","delta":"1","earned":"1"}`} {
		if err := rows.Add(record("accruals", 2, []byte(bad))); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestAttainmentNudgeAwardRows(t *testing.T) {
	snap := sampleSnapshot("R-1", 7, "6000.00", "150.00", true)
	noQuota := sampleSnapshot("R-2", 2, "10", "1.00", false)
	rows := attainmentTable.NewRows()
	for _, s := range []accrue.Snapshot{snap, noQuota} {
		if err := rows.Add(record("attainment", 1, s.AppendJSON(nil))); err != nil {
			t.Fatal(err)
		}
	}
	col := func(name string) any { return column(t, attainmentTable, rows, name) }
	if id := col("snapshot_id").([]string); id[0] != snap.ID() {
		t.Errorf("snapshot_id %q, want %q", id[0], snap.ID())
	}
	if v := col("version").([]uint64); v[0] != 7 || v[1] != 2 {
		t.Errorf("version %v", v)
	}
	if a := col("attainment").([]*decimal.Decimal); a[0] == nil || !a[0].Equal(dec("0.6")) || a[1] != nil {
		t.Errorf("attainment %v", a)
	}

	nudges := []accrue.Nudge{
		{Kind: accrue.NudgeAttainmentCrossed, ProgramID: "ae", Period: "2026-11", RepID: "R-1",
			Threshold: dec("0.50"), Attainment: dec("0.6"), EventID: "e1"},
		{Kind: accrue.NudgeNearNextTier, ProgramID: "ae", Period: "2026-11", RepID: "R-1",
			BandFrom: dec("1.0"), Gap: dec("400"), GapPlaces: 2, EventID: "e1"},
		{Kind: accrue.NudgeInactivity, ProgramID: "ae", Period: "2026-11", RepID: "R-1", Days: 7,
			LastSale: time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC), At: time.Date(2026, 11, 10, 10, 0, 0, 0, time.UTC)},
		{Kind: accrue.NudgePeriodEnding, ProgramID: "ae", Period: "2026-11", RepID: "R-1", Days: 5,
			BandFrom: dec("1.0"), Gap: dec("400"), GapPlaces: 2, At: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
			PeriodEnd: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
	}
	nrows := nudgesTable.NewRows()
	for _, n := range nudges {
		if err := nrows.Add(record("nudges", 1, n.AppendJSON(nil))); err != nil {
			t.Fatal(err)
		}
	}
	ids := column(t, nudgesTable, nrows, "nudge_id").([]string)
	for i := range nudges {
		if ids[i] != nudges[i].ID() {
			t.Errorf("nudge_id %q, the stage's id is %q", ids[i], nudges[i].ID())
		}
	}
	if g := column(t, nudgesTable, nrows, "gap").([]*decimal.Decimal); g[2] != nil || g[3] == nil || !g[3].Equal(dec("400")) {
		t.Errorf("gap %v", g)
	}

	award := accrue.Award{Badge: "quota-club", ProgramID: "ae", Period: "2026-11", RepID: "R-1", EventID: "e1"}
	arows := awardsTable.NewRows()
	if err := arows.Add(record("awards", 1, award.AppendJSON(nil))); err != nil {
		t.Fatal(err)
	}
	if id := column(t, awardsTable, arows, "award_id").([]string)[0]; id != award.ID() {
		t.Errorf("award_id %q, the stage's id is %q", id, award.ID())
	}
}

func TestRepRows(t *testing.T) {
	rows := repsTable.NewRows()
	recs := []*kgo.Record{
		{Topic: "ref.reps", Offset: 4, Key: []byte("R-1@2026-01-01"), Value: []byte(`{"rep_id":"R-1","name":"Ann","role":"AE","team":"west","manager_id":"M-1","valid_from":"2026-01-01"}`)},
		{Topic: "ref.reps", Offset: 5, Key: []byte("R-1@2026-01-01")}, // tombstone
		{Topic: "ref.reps", Offset: 6, Key: []byte("M-1@"), Value: []byte(`{"rep_id":"M-1"}`)},
	}
	for _, r := range recs {
		if err := rows.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	col := func(name string) any { return column(t, repsTable, rows, name) }
	if v := col("valid_from").([]string); v[0] != "2026-01-01" || v[2] != "" {
		t.Errorf("valid_from %q", v)
	}
	if d := col("deleted").([]uint8); d[0] != 0 || d[1] != 1 {
		t.Errorf("deleted %v", d)
	}
	if m := col("manager_id").([]string); m[0] != "M-1" {
		t.Errorf("manager_id %q", m)
	}
	if err := rows.Add(&kgo.Record{Key: []byte("no-date"), Value: []byte(`{}`)}); err == nil {
		t.Error("a key without @ was taken")
	}
}

// The reports on the accrual stage's outputs, from records written twice
// and out of order: the leaderboard ranks each rep once by its latest
// statement, the statement's deltas add up to earned, and the team roll-up
// sums each manager's direct reports.
func TestProgramReports(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Kafka and ClickHouse")
	}
	brokers := pt.RealBrokers(t)
	_, conn := migrated(t)
	sfx := strconv.FormatInt(time.Now().UnixNano(), 36)
	topic := func(kind string) string { return "chsink-" + strings.ReplaceAll(kind, ".", "-") + "-" + sfx }
	kinds := []string{"sales.clean", "accruals", "attainment", "nudges", "awards", "ref.reps"}
	var names []string
	tables := map[string]*Table{}
	for _, k := range kinds {
		names = append(names, topic(k))
		tables[topic(k)] = Tables[k]
	}
	pt.CreateTopics(t, brokers, 2, names)

	// Reps R-1..R-5 earn 100·n over n sales each (n = their number), with
	// a quota of 10000 except R-5; R-1..R-3 report to M-1 (R-3 moved there
	// from M-2 in November), R-4 to M-2, R-5 to no one.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.UnknownTopicRetries(50)) // topics just made
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var recs []*kgo.Record
	put := func(kind, key string, value []byte) {
		recs = append(recs, &kgo.Record{Topic: topic(kind), Key: []byte(key), Value: value})
	}
	managers := map[string]string{"R-1": "M-1", "R-2": "M-1", "R-3": "M-1", "R-4": "M-2"}
	for rep, m := range managers {
		put("ref.reps", rep+"@2026-11-01", []byte(`{"rep_id":"`+rep+`","manager_id":"`+m+`","valid_from":"2026-11-01"}`))
	}
	put("ref.reps", "R-3@", []byte(`{"rep_id":"R-3","manager_id":"M-2"}`))
	earnedOf := map[string]decimal.Decimal{}
	for n := 1; n <= 5; n++ {
		rep := "R-" + strconv.Itoa(n)
		var snaps []accrue.Snapshot
		for i := 1; i <= n; i++ {
			e := genEvent(n*10 + i)
			put("sales.clean", e.Key(), e.AppendJSON(nil))
			a := sampleAccrual()
			a.ID, a.RepID, a.EventID = fmt.Sprintf("%s/%s#ae/2026-11/%s", e.Key(), rep, rep), rep, e.Key()
			a.Delta, a.Earned = dec("100.00"), decimal.New(int64(100*i), 0)
			put("accruals", rep, a.AppendJSON(nil))
			put("accruals", rep, a.AppendJSON(nil)) // a repeat, as a replay writes it
			snaps = append(snaps, sampleSnapshot(rep, int64(i), strconv.Itoa(1000*n*i), strconv.Itoa(100*i), n != 5))
		}
		earnedOf[rep] = decimal.New(int64(100*n), 0)
		// The latest snapshot first: the older ones must not win.
		for i := len(snaps) - 1; i >= 0; i-- {
			put("attainment", rep, snaps[i].AppendJSON(nil))
		}
		nd := accrue.Nudge{Kind: accrue.NudgeAttainmentCrossed, ProgramID: "ae", Period: "2026-11", RepID: rep,
			Threshold: dec("0.5"), Attainment: dec("0.5"), EventID: "e"}
		put("nudges", rep, nd.AppendJSON(nil))
		put("nudges", rep, nd.AppendJSON(nil))
		aw := accrue.Award{Badge: "first-sale", ProgramID: "ae", Period: "2026-11", RepID: rep, EventID: "e"}
		put("awards", rep, aw.AppendJSON(nil))
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	m := NewMetrics(prometheus.NewRegistry())
	stop := startSink(t, Config{Brokers: brokers, Topics: tables, Group: "chsink-" + sfx, Conn: conn,
		BatchRows: 7, BatchInterval: 100 * time.Millisecond, SessionTimeout: 6 * time.Second, Metrics: m})
	// Counted by the sink: merges may collapse the repeats in the tables
	// at any moment.
	pt.WaitFor(t, time.Minute, "every record acknowledged by ClickHouse", func() bool {
		n := 0.0
		for _, name := range names {
			n += testutil.ToFloat64(m.Records("clickhouse", name))
		}
		return n == float64(len(recs))
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, conn, "SELECT count() FROM sink_rejects"); n != 0 {
		t.Fatalf("%d records in sink_rejects", n)
	}

	// Leaderboard: R-4 (attainment 1.6), R-3 (0.9), R-2 (0.4), R-1 (0.1),
	// then R-5 without a quota.
	rows, err := conn.Query(ctx, "SELECT rank, rep_id, earned, attainment FROM leaderboard WHERE program_id = 'ae' AND period = '2026-11' ORDER BY rank")
	if err != nil {
		t.Fatal(err)
	}
	var board []string
	for rows.Next() {
		var rank uint32
		var rep string
		var earned decimal.Decimal
		var att *decimal.Decimal
		if err := rows.Scan(&rank, &rep, &earned, &att); err != nil {
			t.Fatal(err)
		}
		a := "null"
		if att != nil {
			a = att.String()
		}
		board = append(board, fmt.Sprintf("%d %s %s %s", rank, rep, earned, a))
	}
	rows.Close()
	if got, want := strings.Join(board, "; "), "1 R-4 400 1.6; 2 R-3 300 0.9; 3 R-2 200 0.4; 4 R-1 100 0.1; 5 R-5 500 null"; got != want {
		t.Errorf("leaderboard\n got %s\nwant %s", got, want)
	}

	// Statement: each line once, deltas adding up to earned, each traced
	// to its sale and its bands.
	for rep, earned := range earnedOf {
		var sum decimal.Decimal
		var lines, traced uint64
		if err := conn.QueryRow(ctx, "SELECT sum(delta), count(), countIf(event_time > toDateTime('2026-01-01 00:00:00') AND has(trace_kind, 'commission') AND has(trace_rate, toDecimal128('0.05', 18))) FROM rep_statement WHERE rep_id = ?", rep).Scan(&sum, &lines, &traced); err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(rep[2:])
		if !sum.Equal(earned) || lines != uint64(n) || traced != lines {
			t.Errorf("%s: statement sums to %s over %d lines (%d traced), want %s over %d", rep, sum, lines, traced, earned, n)
		}
	}

	// Team roll-up: M-1 has and R-3 (moved from M-2), M-2 has R-4.
	rows, err = conn.Query(ctx, "SELECT manager_id, reps, reps_at_quota, earned FROM team_rollup WHERE program_id = 'ae' ORDER BY manager_id")
	if err != nil {
		t.Fatal(err)
	}
	var teams []string
	for rows.Next() {
		var m string
		var reps, atQuota uint64
		var earned decimal.Decimal
		if err := rows.Scan(&m, &reps, &atQuota, &earned); err != nil {
			t.Fatal(err)
		}
		teams = append(teams, fmt.Sprintf("%q %d %d %s", m, reps, atQuota, earned))
	}
	rows.Close()
	if got, want := strings.Join(teams, "; "), `"" 1 0 500; "M-1" 3 0 600; "M-2" 1 1 400`; got != want {
		t.Errorf("team roll-up\n got %s\nwant %s", got, want)
	}
	if n := count(t, conn, "SELECT count() FROM nudges FINAL"); n != 5 {
		t.Errorf("%d nudges through FINAL, want 5", n)
	}
}
