package accrue

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/transforms/accrue/program"
)

// timerRun applies credits as one partition of the stage does, with its
// clock, and keeps the nudges in the order they fired.
type timerRun struct {
	t      *testing.T
	e      *Engine
	s      MemoryStore
	k      timerClock
	nudges []string
}

func newTimerRun(t *testing.T, progs ...*program.Program) *timerRun {
	e, err := New(progs, tables(t, defaultReps, "", defaultFX))
	if err != nil {
		t.Fatal(err)
	}
	return &timerRun{t: t, e: e, s: MemoryStore{}}
}

func (r *timerRun) keep(out *Output) {
	for i := range out.Nudges {
		r.nudges = append(r.nudges, string(out.Nudges[i].AppendJSON(nil)))
	}
}

// sale applies rep's whole credit of a sale.
func (r *timerRun) sale(txn, when, rep, amount string) {
	r.t.Helper()
	var fired Output
	out, _, err := r.k.applyCredit(r.e, r.s, credit(r.t, nil, sale(txn, when, rep, amount), rep), &fired)
	r.keep(&fired)
	if err != nil {
		r.t.Fatalf("%s: %v", txn, err)
	}
	r.keep(&out)
}

// kinds are the nudges of kind, as "REP AT" (and the gap, for
// period_ending).
func (r *timerRun) ids(kind string) []string {
	var out []string
	for _, n := range r.nudges {
		if strings.Contains(n, `"kind":"`+kind+`"`) {
			out = append(out, n)
		}
	}
	return out
}

func inactivity(days int) func(*program.Program) {
	return func(p *program.Program) { p.Nudges.InactivityDays = days }
}

func periodEnding(days int, within string) func(*program.Program) {
	return func(p *program.Program) {
		p.Nudges.PeriodEndingDaysBefore, p.Nudges.PeriodEndingWithin = days, nd(within)
	}
}

func TestInactivityFiresOnceAndRearms(t *testing.T) {
	r := newTimerRun(t, plan(inactivity(7)))
	r.sale("a1", "2026-11-02", "R-1", "100 USD")
	r.sale("b1", "2026-11-05", "R-2", "100 USD")
	if n := len(r.nudges); n != 0 {
		t.Fatalf("fired before due: %v", r.nudges)
	}
	// R-2's sale moves the clock past R-1's due time (11-09 10:00).
	r.sale("b2", "2026-11-09T12:00:00Z", "R-2", "100 USD")
	want := []string{`{"kind":"inactivity","nudge_id":"ae/2026-11/R-1/inactivity/2026-11-02T10:00:00Z","program_id":"ae","period":"2026-11","rep_id":"R-1","days":7,"last_sale":"2026-11-02T10:00:00Z","at":"2026-11-09T10:00:00Z"}`}
	if !slices.Equal(r.nudges, want) {
		t.Fatalf("after 7 days:\n got %v\nwant %v", r.nudges, want)
	}
	// Time passes with R-1 still idle: once per stretch.
	r.sale("b3", "2026-11-12", "R-2", "100 USD")
	if got := r.ids("inactivity"); len(got) != 1 {
		t.Fatalf("fired again in the same stretch: %v", got)
	}
	// R-1 sells on 11-20: R-2's stretch (from 11-12, due 11-19) fires
	// first, then R-1's sale re-arms R-1.
	r.sale("a2", "2026-11-20", "R-1", "100 USD")
	got := r.ids("inactivity")
	if len(got) != 2 || !strings.Contains(got[1], `"rep_id":"R-2"`) || !strings.Contains(got[1], `"at":"2026-11-19T10:00:00Z"`) {
		t.Fatalf("R-2's stretch: %v", got)
	}
	// A sale by R-1 itself after the due time: the stretch fires before
	// the sale that ends it is applied.
	r.sale("a3", "2026-11-28", "R-1", "100 USD")
	got = r.ids("inactivity")
	if len(got) != 3 || !strings.Contains(got[2], `"nudge_id":"ae/2026-11/R-1/inactivity/2026-11-20T10:00:00Z"`) {
		t.Fatalf("R-1's second stretch: %v", got)
	}
	// R-1's last stretch (from 11-28) would end on 12-05, after November
	// closed: it does not fire, even when the clock passes it.
	r.sale("b4", "2026-12-10", "R-2", "100 USD")
	for _, n := range r.ids("inactivity")[3:] {
		if strings.Contains(n, `"period":"2026-11"`) {
			t.Errorf("fired outside its period: %s", n)
		}
	}
	// R-2's December stretch fires in December.
	r.sale("c1", "2026-12-20", "R-3", "100 USD")
	if got := r.ids("inactivity"); len(got) != 4 || !strings.Contains(got[3], `"period":"2026-12","rep_id":"R-2"`) {
		t.Errorf("december: %v", got)
	}
}

func TestInactivityOutsideActivePeriod(t *testing.T) {
	// The program ends on 11-20: R-1's stretch from 11-15 would end on
	// 11-22, when nothing is in force.
	r := newTimerRun(t, plan(inactivity(7), func(p *program.Program) {
		p.EffectiveTo, p.HasEnd = date("2026-11-20"), true
	}))
	r.sale("a1", "2026-11-15", "R-1", "100 USD")
	r.sale("b1", "2026-11-19", "R-2", "100 USD")
	// Sales after the end count in no program but move the clock.
	r.sale("b2", "2026-11-29", "R-2", "100 USD")
	if len(r.nudges) != 0 {
		t.Fatalf("fired outside the program's dates: %v", r.nudges)
	}
	st, _ := r.s.Get(PeriodKey("ae", "2026-11", "R-1"))
	if !st.Period.Idle.Equal(st.Period.LastSale) {
		t.Errorf("the timer is still armed: %+v", st.Period)
	}
	// Without inactivity configured, periods keep no last sale.
	r2 := newTimerRun(t, plan())
	r2.sale("a1", "2026-11-15", "R-1", "100 USD")
	if st, _ := r2.s.Get(PeriodKey("ae", "2026-11", "R-1")); !st.Period.LastSale.IsZero() || st.Period.timersSet() {
		t.Errorf("timer fields set without timers: %+v", st.Period)
	}
}

func TestPeriodEndingWithinReach(t *testing.T) {
	// Quota 10000: bands at 5000 and 10000; within 0.2 is 2000.
	r := newTimerRun(t, plan(periodEnding(5, "0.2")))
	r.sale("a1", "2026-11-10", "R-1", "4000 USD") // 1000 from 5000: within reach
	r.sale("b1", "2026-11-10", "R-2", "2000 USD") // 3000 from 5000: out of reach
	r.sale("c1", "2026-11-25T23:00:00Z", "R-3", "100 USD")
	if len(r.nudges) != 0 {
		t.Fatalf("fired before the window: %v", r.nudges)
	}
	// 11-26 00:00 UTC is 5 days before December.
	r.sale("c2", "2026-11-26T00:00:00Z", "R-3", "100 USD")
	want := []string{`{"kind":"period_ending","nudge_id":"ae/2026-11/R-1/period_ending","program_id":"ae","period":"2026-11","rep_id":"R-1","days_before":5,"period_end":"2026-12-01T00:00:00Z","band_from":"0.5","gap":"1000.00","at":"2026-11-26T00:00:00Z"}`}
	if !slices.Equal(r.nudges, want) {
		t.Fatalf("at the window:\n got %v\nwant %v", r.nudges, want)
	}
	// Once per period: R-1 selling and R-2 coming within reach later do
	// not fire again (R-2 was checked at the window's start).
	r.sale("a2", "2026-11-27", "R-1", "100 USD")
	r.sale("b2", "2026-11-27", "R-2", "1500 USD")
	// A rep whose period begins inside the window is checked at once:
	// M-1 (no sales before) sells 9000, 1000 short of quota.
	r.sale("m1", "2026-11-28", "M-1", "9000 USD")
	got := r.ids("period_ending")
	if len(got) != 2 || !strings.Contains(got[1], `"rep_id":"M-1"`) || !strings.Contains(got[1], `"band_from":"1.0","gap":"1000.00"`) {
		t.Fatalf("late period: %v", got)
	}
	// After the period closed nothing fires for it: D-1's November,
	// begun by a late sale, is checked after the end.
	r.sale("d0", "2026-12-02", "R-3", "100 USD")
	r.sale("d1", "2026-11-29", "D-1", "4500 USD")
	if got := r.ids("period_ending"); len(got) != 2 {
		t.Fatalf("fired for a closed period: %v", got)
	}
}

// Periods close at midnight in the program's zone: Asia/Tokyo's November
// ends at 2026-11-30T15:00Z, UTC's nine hours later.
func TestPeriodEndingTimeZones(t *testing.T) {
	tokyo := plan(periodEnding(5, "0.2"), func(p *program.Program) {
		p.ID = "jp"
		p.Location, _ = time.LoadLocation("Asia/Tokyo")
		p.TimezoneName = "Asia/Tokyo"
	})
	r := newTimerRun(t, plan(periodEnding(5, "0.2")), tokyo)
	r.sale("a1", "2026-11-10", "R-1", "4000 USD")
	// 11-25 15:00Z is 11-26 00:00 in Tokyo.
	r.sale("c1", "2026-11-25T15:00:00Z", "R-3", "1 USD")
	if got := r.ids("period_ending"); len(got) != 1 ||
		!strings.Contains(got[0], `"program_id":"jp"`) || !strings.Contains(got[0], `"period_end":"2026-11-30T15:00:00Z"`) ||
		!strings.Contains(got[0], `"at":"2026-11-25T15:00:00Z"`) {
		t.Fatalf("Tokyo's window: %v", got)
	}
	r.sale("c2", "2026-11-25T23:59:59Z", "R-3", "1 USD")
	if got := r.ids("period_ending"); len(got) != 1 {
		t.Fatalf("UTC's window opened early: %v", got)
	}
	r.sale("c3", "2026-11-26T00:00:00Z", "R-3", "1 USD")
	if got := r.ids("period_ending"); len(got) != 2 || !strings.Contains(got[1], `"program_id":"ae"`) ||
		!strings.Contains(got[1], `"period_end":"2026-12-01T00:00:00Z"`) {
		t.Fatalf("UTC's window: %v", got)
	}
}

// timerEvents is a month of sales by three reps, for the replay tests.
func timerEvents() [][3]string {
	var evs [][3]string
	for day := 1; day <= 30; day++ {
		for i, rep := range []string{"R-1", "R-2", "R-3"} {
			if (day+i*4)%(3+i*5) != 0 {
				continue
			}
			when := time.Date(2026, 11, day, 9+i, 0, 0, 0, time.UTC).Format(time.RFC3339)
			evs = append(evs, [3]string{rep + "-" + when, when, rep})
		}
	}
	return evs
}

// The same input gives the same nudges, and a partition restored from its
// state (codec, watermark, index rebuilt) half-way gives them too.
func TestTimersReplay(t *testing.T) {
	progs := func() []*program.Program {
		return []*program.Program{plan(inactivity(4), periodEnding(6, "0.5"))}
	}
	run := func() *timerRun {
		r := newTimerRun(t, progs()...)
		for _, ev := range timerEvents() {
			r.sale(ev[0], ev[1], ev[2], "700 USD")
		}
		return r
	}
	a, b := run(), run()
	if len(a.ids("inactivity")) < 3 || len(a.ids("period_ending")) == 0 {
		t.Fatalf("the input proves too little: %v", a.nudges)
	}
	if !slices.Equal(a.nudges, b.nudges) {
		t.Fatalf("replay differs:\n%v\n%v", a.nudges, b.nudges)
	}
	evs := timerEvents()
	for _, cut := range []int{1, len(evs) / 3, len(evs) / 2, len(evs) - 1} {
		r := newTimerRun(t, progs()...)
		for _, ev := range evs[:cut] {
			r.sale(ev[0], ev[1], ev[2], "700 USD")
		}
		// Restart: the state through the codec, the watermark as
		// persisted, the index rebuilt.
		s := MemoryStore{}
		for k, v := range r.s {
			got, err := Codec{}.Decode(Codec{}.Encode(nil, v))
			if err != nil {
				t.Fatal(err)
			}
			s[k] = got
		}
		r2 := &timerRun{t: t, e: r.e, s: s, nudges: r.nudges}
		r2.k.watermark = r.k.watermark
		r2.k.timers.rebuild(r2.e, memoryScan{s})
		for _, ev := range evs[cut:] {
			r2.sale(ev[0], ev[1], ev[2], "700 USD")
		}
		if !slices.Equal(r2.nudges, a.nudges) {
			t.Errorf("restart after %d: nudges differ:\n got %v\nwant %v", cut, r2.nudges, a.nudges)
		}
	}
}

// memoryScan is a MemoryStore that can be scanned.
type memoryScan struct{ MemoryStore }

func (m memoryScan) Scan(fn func(string, State) bool) {
	for k, v := range m.MemoryStore {
		if !fn(k, v) {
			return
		}
	}
}

// A credit the engine rejects changes nothing, however far its event time
// would move the clock.
func TestTimersRejectedCreditMovesNothing(t *testing.T) {
	r := newTimerRun(t, plan(inactivity(3)))
	r.sale("a1", "2026-11-02", "R-1", "100 USD")
	var fired Output
	_, moved, err := r.k.applyCredit(r.e, r.s, credit(t, nil, sale("x", "2026-11-20", "R-9", "100 USD"), "R-9"), &fired)
	if err == nil || moved || len(fired.Nudges) != 0 || !r.k.watermark.Equal(at("2026-11-02")) {
		t.Fatalf("a rejected credit: err %v, moved %v, fired %v, watermark %v", err, moved, fired.Nudges, r.k.watermark)
	}
	if st, _ := r.s.Get(PeriodKey("ae", "2026-11", "R-1")); !st.Period.Idle.IsZero() {
		t.Fatalf("the timer was marked: %+v", st.Period)
	}
}

func TestTimerCodecRoundTrip(t *testing.T) {
	p := &PeriodState{ProgramID: "ae", Period: "2026-11", RepID: "R-1", Measure: num("1"), Count: num("1"),
		Override: num("0"), Earned: num("0"), LastSale: at("2026-11-03T10:15:00.5Z"), Idle: at("2026-11-01"), Ending: true}
	got, err := Codec{}.Decode(Codec{}.Encode(nil, State{Period: p}))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Period.LastSale.Equal(p.LastSale) || !got.Period.Idle.Equal(p.Idle) || !got.Period.Ending {
		t.Fatalf("got %+v", got.Period)
	}
	q := *p
	q.LastSale, q.Idle, q.Ending = time.Time{}, time.Time{}, false
	plain := Codec{}.Encode(nil, State{Period: &q})
	withLast := *p
	withLast.Idle, withLast.Ending = time.Time{}, false
	if b := (Codec{}).Encode(nil, State{Period: &withLast}); len(b) <= len(plain) {
		t.Fatalf("timer fields not encoded")
	}
	back, err := Codec{}.Decode(plain)
	if err != nil || back.Period.timersSet() {
		t.Fatalf("without timers: %+v %v", back.Period, err)
	}
}

// A manager whose period holds only the overrides of reports is not told
// how far the next tier is: they sold nothing in it.
func TestPeriodEndingNotForOverridesOnly(t *testing.T) {
	r := newTimerRun(t, plan(periodEnding(5, "0.6"), func(p *program.Program) {
		p.Overrides = []program.Override{{Level: 1, Rate: d("0.01")}}
	}))
	var fired Output
	out, _, err := r.k.applyCredit(r.e, r.s, credit(t, nil, sale("a1", "2026-11-10", "R-1", "4000 USD"), "R-1"), &fired)
	if err != nil || len(out.Overrides) != 1 {
		t.Fatalf("%v %v", err, out.Overrides)
	}
	if _, err := r.k.applyOverride(r.e, r.s, &out.Overrides[0]); err != nil {
		t.Fatal(err)
	}
	r.sale("c1", "2026-11-27", "R-3", "100 USD")
	got := r.ids("period_ending")
	if len(got) != 2 || strings.Contains(strings.Join(got, ""), `"rep_id":"M-1"`) {
		t.Fatalf("period_ending: %v", got)
	}
	if st, _ := r.s.Get(PeriodKey("ae", "2026-11", "M-1")); !st.Period.Ending {
		t.Errorf("the manager's period was not checked")
	}
}

// accrue simulate fires timers as the events' clock passes them, in file
// order, through the same code as the stage's partitions.
func TestSimulationFiresTimers(t *testing.T) {
	tb := tables(t, defaultReps, "", defaultFX)
	events := []string{
		sale("a1", "2026-11-02", "R-1", "4000 USD"),
		sale("b1", "2026-11-05", "R-2", "100 USD"),
		sale("b2", "2026-11-10", "R-2", "100 USD"),
		sale("c1", "2026-11-26T01:00:00Z", "R-3", "100 USD"),
	}
	r := simulate(t, []*program.Program{plan(inactivity(7), periodEnding(5, "0.2"))}, tb, events)
	want := []string{
		`{"kind":"inactivity","nudge_id":"ae/2026-11/R-1/inactivity/2026-11-02T10:00:00Z","program_id":"ae","period":"2026-11","rep_id":"R-1","days":7,"last_sale":"2026-11-02T10:00:00Z","at":"2026-11-09T10:00:00Z"}`,
		`{"kind":"inactivity","nudge_id":"ae/2026-11/R-2/inactivity/2026-11-10T10:00:00Z","program_id":"ae","period":"2026-11","rep_id":"R-2","days":7,"last_sale":"2026-11-10T10:00:00Z","at":"2026-11-17T10:00:00Z"}`,
		`{"kind":"period_ending","nudge_id":"ae/2026-11/R-1/period_ending","program_id":"ae","period":"2026-11","rep_id":"R-1","days_before":5,"period_end":"2026-12-01T00:00:00Z","band_from":"0.5","gap":"1000.00","at":"2026-11-26T00:00:00Z"}`,
	}
	if !slices.Equal(r.nudges, want) {
		t.Fatalf("nudges:\n got %s\nwant %s", strings.Join(r.nudges, "\n"), strings.Join(want, "\n"))
	}
}
