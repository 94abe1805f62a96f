package accrue

import (
	"container/heap"
	"time"

	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/link"
	"github.com/shopspring/decimal"
)

// Timers: the time-based nudges (inactivity, period_ending) fire when a
// partition's clock passes them. The clock is event time: a partition's
// watermark is the highest event time of the credits it applied (the
// stage's processing-time idle advance moves it on for idle partitions).
// A timer is kept in the period's own state (PeriodState.LastSale, Idle,
// Ending), so it is restored, replayed and swept with the figures; the
// index of what falls due when (timerIndex) is only memory, rebuilt from
// the state. Firing a timer writes the period's state (what fired) with
// the nudge, in the same transaction, so a replay fires the same timers
// and none twice.

// periodEnd is the instant the period labelled label closes: midnight, in
// the family's time zone, after its last day.
func (f *family) periodEnd(label string) (time.Time, bool) {
	_, last, err := periodBounds(f.period, label)
	if err != nil {
		return time.Time{}, false
	}
	y, m, d := civilFromDays(last + 1)
	return time.Date(int(y), time.Month(m), int(d), 0, 0, 0, 0, f.loc), true
}

// endingAt is when the period_ending timer of a period closing at end
// falls due: midnight, local, days before end.
func endingAt(end time.Time, days int) time.Time {
	y, m, d := end.Date()
	return time.Date(y, m, d-days, 0, 0, 0, 0, end.Location())
}

// inactiveAt is when the inactivity timer of a stretch begun by a sale at
// last falls due.
func inactiveAt(last time.Time, days int) time.Time {
	return last.Add(time.Duration(days) * 24 * time.Hour)
}

// timerDue is when the next timer of ps falls due in event time; ok is
// false when none is armed. An inactivity timer that would fall due after
// the period closes is not armed: inactivity is counted within a period.
func (e *Engine) timerDue(ps *PeriodState) (due time.Time, ok bool) {
	f := e.byID[ps.ProgramID]
	if f == nil || !f.timers {
		return time.Time{}, false
	}
	end, known := f.periodEnd(ps.Period)
	if !known {
		return time.Time{}, false
	}
	nu := &f.governing(ps.Period).Nudges
	if n := nu.InactivityDays; n > 0 && !ps.LastSale.IsZero() && !ps.Idle.Equal(ps.LastSale) {
		if at := inactiveAt(ps.LastSale, n); at.Before(end) {
			due, ok = at, true
		}
	}
	if n := nu.PeriodEndingDaysBefore; n > 0 && !ps.Ending {
		if at := endingAt(end, n); !ok || at.Before(due) {
			due, ok = at, true
		}
	}
	return due, ok
}

// fireTimers fires the timers of the period under key in s that are due
// at watermark w, appending their nudges to out, and writes the period's
// state back with what fired. A timer fires whatever else happens:
//
//   - inactivity: due when w reaches the last sale plus days, before the
//     period closes; the nudge is sent when a version of the program is
//     in force on that day (an active period);
//   - period_ending: due when w reaches the period's end less days_before;
//     the nudge is sent when the period is still open (w before its end),
//     a version is in force that day, the rep has figures of their own in
//     it (not only overrides), and the gap to the next band is positive
//     and within reach. Checked once per period, sent or not.
func (e *Engine) fireTimers(s Store, key string, w time.Time, out *Output) {
	st, ok := s.Get(key)
	if !ok || st.Period == nil {
		return
	}
	ps := st.Period
	f := e.byID[ps.ProgramID]
	if f == nil || !f.timers {
		return
	}
	end, ok := f.periodEnd(ps.Period)
	if !ok {
		return
	}
	v := f.governing(ps.Period)
	var cur *PeriodState
	if n := v.Nudges.InactivityDays; n > 0 && !ps.LastSale.IsZero() && !ps.Idle.Equal(ps.LastSale) {
		if at := inactiveAt(ps.LastSale, n); at.Before(end) && !at.After(w) {
			cur = ps.clone()
			cur.Idle = ps.LastSale
			if f.inForce(localDate(at, f.loc)) != nil {
				out.Nudges = append(out.Nudges, Nudge{Kind: NudgeInactivity, ProgramID: f.id, Period: ps.Period,
					RepID: ps.RepID, Days: n, LastSale: ps.LastSale, At: at.UTC()})
			}
		}
	}
	if n := v.Nudges.PeriodEndingDaysBefore; n > 0 && !ps.Ending {
		if at := endingAt(end, n); !at.After(w) {
			if cur == nil {
				cur = ps.clone()
			}
			cur.Ending = true
			// A manager whose period holds only overrides sold nothing
			// in it: no tier is within their reach.
			own := !ps.Measure.IsZero() || !ps.Count.IsZero()
			if own && w.Before(end) && f.inForce(localDate(at, f.loc)) != nil {
				if nu, ok := e.ending(f, v, ps, n, at, end); ok {
					out.Nudges = append(out.Nudges, nu)
				}
			}
		}
	}
	if cur != nil {
		s.Put(key, State{Period: cur})
	}
}

// ending is the period_ending nudge of ps, when the gap to its next band
// is positive and at most within (a fraction of quota for attainment
// bands, an amount of the measure for measure bands).
func (e *Engine) ending(f *family, v *version, ps *PeriodState, days int, at, end time.Time) (Nudge, bool) {
	qf := e.quota(f, v, ps.RepID, ps.Period)
	within := v.Nudges.PeriodEndingWithin
	if !within.Valid || !qf.ok {
		return Nudge{}, false
	}
	reach := within.Decimal
	if v.Tiers.Basis != program.MeasureBase {
		if !qf.q.Valid {
			return Nudge{}, false
		}
		reach = mul(reach, qf.q.Decimal)
	}
	m := ps.Measure.fig()
	i, ok := nextBand(qf, m)
	if !ok {
		return Nudge{}, false
	}
	gap := figSub(qf.lower[i], m)
	if gap.sign() <= 0 || figCmp(gap, figOf(reach)) > 0 {
		return Nudge{}, false
	}
	places := int32(-1)
	var reported decimal.Decimal
	if v.Credit.Measure == program.Amount || v.Credit.Measure == program.Margin {
		places = f.minor
		reported = figRound(gap, places)
	} else {
		reported = gap.dec()
	}
	return Nudge{Kind: NudgePeriodEnding, ProgramID: f.id, Period: ps.Period, RepID: ps.RepID,
		BandFrom: v.Tiers.Bands[i].From, Gap: reported, GapPlaces: places, Days: days,
		At: at.UTC(), PeriodEnd: end.UTC()}, true
}

// timerIndex is the timers of one partition's state by when they fall
// due: a min-heap of the period keys whose state has a timer armed, each
// once, at its next due time. It is memory only, rebuilt from the state
// (rebuild) and kept current by the writes of the engine (indexedStore).
// It is not safe for concurrent use: one partition's calls are serial.
type timerIndex struct {
	items []*timerItem
	at    map[string]*timerItem
}

type timerItem struct {
	key string
	due time.Time
	i   int
}

func (x *timerIndex) Len() int           { return len(x.items) }
func (x *timerIndex) Less(i, j int) bool { return x.items[i].due.Before(x.items[j].due) }
func (x *timerIndex) Swap(i, j int) {
	x.items[i], x.items[j] = x.items[j], x.items[i]
	x.items[i].i, x.items[j].i = i, j
}
func (x *timerIndex) Push(v any) {
	it := v.(*timerItem)
	it.i = len(x.items)
	x.items = append(x.items, it)
}
func (x *timerIndex) Pop() any {
	n := len(x.items) - 1
	it := x.items[n]
	x.items[n] = nil
	x.items = x.items[:n]
	return it
}

// set indexes key's next due time, or forgets key when ok is false.
func (x *timerIndex) set(key string, due time.Time, ok bool) {
	it := x.at[key]
	switch {
	case !ok && it != nil:
		heap.Remove(x, it.i)
		delete(x.at, key)
	case !ok:
	case it != nil:
		if !it.due.Equal(due) {
			it.due = due
			heap.Fix(x, it.i)
		}
	default:
		if x.at == nil {
			x.at = map[string]*timerItem{}
		}
		it = &timerItem{key: key, due: due}
		x.at[key] = it
		heap.Push(x, it)
	}
}

// dueBy reports whether a timer falls due at or before w.
func (x *timerIndex) dueBy(w time.Time) bool {
	return len(x.items) > 0 && !x.items[0].due.After(w)
}

// held is the number of timers armed.
func (x *timerIndex) held() int { return len(x.items) }

// reset forgets every timer.
func (x *timerIndex) reset() {
	clear(x.items)
	x.items = x.items[:0]
	clear(x.at)
}

// rebuild indexes the timers of every period in s.
func (x *timerIndex) rebuild(e *Engine, s ScanStore) {
	x.reset()
	if !e.timers {
		return
	}
	s.Scan(func(k string, v State) bool {
		if v.Period != nil {
			if due, ok := e.timerDue(v.Period); ok {
				x.set(k, due, true)
			}
		}
		return true
	})
}

// fire fires, in s, every timer due at watermark w, earliest first,
// appending the nudges to out, and returns how many periods it checked.
func (x *timerIndex) fire(e *Engine, s Store, w time.Time, out *Output) int {
	n := 0
	for x.dueBy(w) {
		it := heap.Pop(x).(*timerItem)
		delete(x.at, it.key)
		n++
		e.fireTimers(s, it.key, w, out)
		// What is still armed falls due after w: fireTimers marked
		// everything due by then.
		if st, ok := s.Get(it.key); ok && st.Period != nil {
			if due, ok := e.timerDue(st.Period); ok && due.After(w) {
				x.set(it.key, due, true)
			}
		}
	}
	return n
}

// indexedStore is a Store whose writes of periods keep a timerIndex
// current.
type indexedStore struct {
	Store
	x *timerIndex
	e *Engine
}

func (s indexedStore) Put(k string, v State) {
	s.Store.Put(k, v)
	if v.Period != nil {
		due, ok := s.e.timerDue(v.Period)
		s.x.set(k, due, ok)
	}
}

func (s indexedStore) Delete(k string) {
	s.Store.Delete(k)
	s.x.set(k, time.Time{}, false)
}

// overlay is a Store that keeps its writes to itself, over base: an input
// tried on it leaves base as it was.
type overlay struct {
	base Store
	m    map[string]*State // nil: deleted
}

func (o *overlay) Get(k string) (State, bool) {
	if v, ok := o.m[k]; ok {
		if v == nil {
			return State{}, false
		}
		return *v, true
	}
	return o.base.Get(k)
}

func (o *overlay) Put(k string, v State) { o.m[k] = &v }
func (o *overlay) Delete(k string)       { o.m[k] = nil }

// timerClock is one partition's clock: its watermark and its timers. The
// stage keeps one per partition; a Simulation is one partition.
type timerClock struct {
	watermark time.Time
	timers    timerIndex
}

// applyCredit applies c with the engine as ApplyCredit does, with the
// partition's timers: the timers due by the credit's event time fire
// before it (a sale that ends a stretch of inactivity comes after the
// nudge of that stretch), those it arms that are due already fire after
// it, and the watermark moves to its event time. fired gets the nudges of
// the timers. A rejected credit changes nothing, the watermark and the
// timers included: it is tried on an overlay first when timers would fire
// before it. moved reports whether the watermark moved.
func (k *timerClock) applyCredit(e *Engine, s Store, c *link.Credit, fired *Output) (out Output, moved bool, err error) {
	if !e.timers {
		if out, err = e.ApplyCredit(s, c); err != nil {
			return out, false, err
		}
		if c.Event != nil && c.Event.EventTime.After(k.watermark) {
			k.watermark, moved = c.Event.EventTime.UTC(), true
		}
		return out, moved, nil
	}
	live := indexedStore{Store: s, x: &k.timers, e: e}
	target := k.watermark
	if c != nil && c.Event != nil && c.Event.EventTime.After(target) {
		target = c.Event.EventTime.UTC()
	}
	if k.timers.dueBy(target) {
		if _, err := e.ApplyCredit(&overlay{base: s, m: map[string]*State{}}, c); err != nil {
			return Output{}, false, err
		}
		moved = target.After(k.watermark)
		k.watermark = target
		k.timers.fire(e, live, k.watermark, fired)
	}
	// After a successful try, this applies alike: the timers changed
	// only what fired, which no check reads.
	if out, err = e.ApplyCredit(live, c); err != nil {
		return Output{}, moved, err
	}
	if target.After(k.watermark) {
		k.watermark, moved = target, true
	}
	k.timers.fire(e, live, k.watermark, &out)
	return out, moved, nil
}

// applyOverride applies an override record with the partition's timers
// (it carries no event time: the watermark stays).
func (k *timerClock) applyOverride(e *Engine, s Store, o *OverrideCredit) (Output, error) {
	if !e.timers {
		return e.ApplyOverride(s, o)
	}
	live := indexedStore{Store: s, x: &k.timers, e: e}
	out, err := e.ApplyOverride(live, o)
	if err != nil {
		return out, err
	}
	k.timers.fire(e, live, k.watermark, &out)
	return out, nil
}

// advance moves the watermark to w, when later, and fires what falls due.
func (k *timerClock) advance(e *Engine, s Store, w time.Time, out *Output) bool {
	moved := w.After(k.watermark)
	if moved {
		k.watermark = w.UTC()
	}
	if e.timers {
		k.timers.fire(e, indexedStore{Store: s, x: &k.timers, e: e}, k.watermark, out)
	}
	return moved
}
