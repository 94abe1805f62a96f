package accrue

import (
	"slices"

	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/shopspring/decimal"
)

// commit puts the input's working copies back into the store and derives
// its outputs: for each (program, period, rep) it touched, in order, the
// accrual delta (when the reported earned moved), a snapshot, the nudges
// (when the rep's measure moved) and the badges.
func (e *Engine) commit(t *tx, out *Output) {
	var buf [8]bandPay
	bands := buf[:0]
	if t.one != nil && out.Snapshots == nil && len(t.touched) == 1 {
		out.Snapshots = t.one.snap[:0:1]
	} else {
		out.Snapshots = slices.Grow(out.Snapshots, len(t.touched))
	}
	for _, w := range t.touched {
		var fg figures
		fg, bands = e.figures(w.f, w.cur, bands)
		var snap Snapshot
		if e.deferStatements {
			snap.lazy = &lazyStatement{e: e, f: w.f, ps: w.cur, fg: fg}
		} else {
			snap.Statement = e.statement(w.f, w.cur, &fg)
		}
		if figCmp(figOf(fg.earned), w.cur.Earned.fig()) != 0 {
			switch {
			case out.Accruals != nil:
			case t.one != nil && len(t.touched) == 1:
				out.Accruals = t.one.acc[:0:1]
			default:
				out.Accruals = make([]Accrual, 0, len(t.touched))
			}
			out.Accruals = append(out.Accruals, Accrual{
				ID:        t.inputID + "#" + w.f.id + "/" + w.cur.Period + "/" + w.cur.RepID,
				ProgramID: w.f.id, ProgramVersion: fg.v.Version, Period: w.cur.Period, RepID: w.cur.RepID,
				Currency: w.f.currency, Delta: figSub(figOf(fg.earned), w.cur.Earned.fig()).dec(), Earned: fg.earned,
				Capped: fg.capped, EventID: t.eventID, InputID: t.inputID,
				Trace: commissionTrace(&fg, bands, w), MinorUnits: w.f.minor,
			})
			w.cur.Earned = NumOf(fg.earned)
		}
		w.cur.Version++
		snap.Version, snap.EventID = w.cur.Version, t.eventID
		out.Snapshots = append(out.Snapshots, snap)
		if !w.cur.Measure.Equal(w.old) {
			e.nudges(w, &fg, t.eventID, out)
		}
		e.badges(w, &fg, fg.earned, t.eventID, out)
		t.s.Put(w.key, State{Period: w.cur})
	}
	if t.sale != nil {
		t.s.Put(t.saleKey, State{Sale: t.sale})
	}
}

// commissionTrace is the change of each band's pay as the measure went
// from old to cur (same version and quota), then more: the trace of an
// accrual. after is what each band pays at cur.
//
// Each band's part is −(pay before) + (pay after), in the order the bands
// first pay something, before then after; a band that pays both times is
// written as the one difference (pay after − pay before, the same exact
// figure), so that a band paid in full both times costs nothing.
func commissionTrace(fg *figures, after []bandPay, w *touched) []Part {
	old, cur, more := w.old, w.cur.Measure, w.parts
	if old.Equal(cur) {
		return more // the input's own
	}
	var scratch [8]bandPay
	_, before := commission(&fg.v.Tiers, old.fig(), fg.qf, scratch[:0])
	// Each band once at most.
	var partBuf [8]Part
	parts := partBuf[:0]
	if n := len(fg.v.Tiers.Bands); n > len(partBuf) {
		parts = make([]Part, 0, n)
	}
	var amountBuf [8]fig
	var lazyBuf [8]bool
	amounts, lazy := amountBuf[:0], lazyBuf[:0]
	find := func(from decimal.Decimal) int {
		for i := range parts {
			if cmp(parts[i].BandFrom.Decimal, from) == 0 {
				return i
			}
		}
		return -1
	}
	part := func(b bandPay) Part {
		return Part{Kind: "commission", BandFrom: decimal.NewNullDecimal(b.From), Rate: decimal.NewNullDecimal(b.Rate)}
	}
	for _, b := range before {
		if b.Pay.isZero() {
			continue
		}
		if i := find(b.From); i >= 0 {
			if lazy[i] {
				amounts[i], lazy[i] = figNeg(amounts[i]), false
			}
			amounts[i] = figAdd(amounts[i], figNeg(b.Pay))
			continue
		}
		parts, amounts, lazy = append(parts, part(b)), append(amounts, b.Pay), append(lazy, true)
	}
	for _, b := range after {
		if b.Pay.isZero() {
			continue
		}
		switch i := find(b.From); {
		case i < 0:
			parts, amounts, lazy = append(parts, part(b)), append(amounts, b.Pay), append(lazy, false)
		case lazy[i]:
			amounts[i], lazy[i] = figSub(b.Pay, amounts[i]), false
		default:
			amounts[i] = figAdd(amounts[i], b.Pay)
		}
	}
	for i := range parts {
		if lazy[i] {
			amounts[i] = figNeg(amounts[i])
		}
		parts[i].Amount = amounts[i].dec()
	}
	if k := len(parts); len(more) > 0 && k <= w.reserved && &w.room[:w.reserved+1][w.reserved] == &more[0] {
		// The parts are still where they were put, after the reserved
		// places: the trace is made there.
		copy(w.room[w.reserved-k:], parts)
		return w.room[w.reserved-k : w.reserved+len(more)]
	}
	if len(parts)+len(more) == 0 {
		return nil
	}
	return append(append(make([]Part, 0, len(parts)+len(more)), parts...), more...)
}

// nudges fires the nudges of §4.9 for a rep whose measure the input moved.
func (e *Engine) nudges(w *touched, fg *figures, eventID string, out *Output) {
	v, ps, qf := fg.v, w.cur, fg.qf
	if qf.q.Valid {
		for i, th := range v.thresholds {
			if figCmp(ps.Measure.fig(), figOf(qf.crossAt[i])) < 0 || slices.Contains(ps.Crossed, th.key) {
				continue
			}
			ps.Crossed = append(ps.Crossed, th.key)
			out.Nudges = append(out.Nudges, Nudge{Kind: NudgeAttainmentCrossed, ProgramID: w.f.id,
				Period: ps.Period, RepID: ps.RepID, Threshold: th.value,
				Attainment: divAttainment(ps.Measure.Decimal(), qf.q.Decimal), EventID: eventID})
		}
	}
	if !qf.near.Valid {
		return
	}
	m := ps.Measure.fig()
	i, ok := nextBand(qf, m)
	if !ok {
		return
	}
	gap := figSub(qf.lower[i], m)
	key := v.bandKeys[i]
	if gap.sign() <= 0 || figCmp(gap, figOf(qf.near.Decimal)) > 0 || slices.Contains(ps.Near, key) {
		return
	}
	ps.Near = append(ps.Near, key)
	places := int32(-1)
	var reported decimal.Decimal
	if v.Credit.Measure == program.Amount || v.Credit.Measure == program.Margin {
		places = w.f.minor
		reported = figRound(gap, places)
	} else {
		reported = gap.dec()
	}
	out.Nudges = append(out.Nudges, Nudge{Kind: NudgeNearNextTier, ProgramID: w.f.id, Period: ps.Period,
		RepID: ps.RepID, BandFrom: v.Tiers.Bands[i].From, Gap: reported, EventID: eventID, GapPlaces: places})
}

// badges awards the badges of §4.10 whose metric the rep's figures reach.
func (e *Engine) badges(w *touched, fg *figures, earned decimal.Decimal, eventID string, out *Output) {
	ps := w.cur
	for i, b := range fg.v.Badges {
		if slices.Contains(ps.Badges, b.ID) {
			continue
		}
		var reached bool
		switch b.Metric {
		case program.MetricCount:
			reached = figCmp(ps.Count.fig(), figOf(b.AtLeast)) >= 0
		case program.MetricMeasure:
			reached = figCmp(ps.Measure.fig(), figOf(b.AtLeast)) >= 0
		case program.MetricAttainment:
			reached = fg.qf.q.Valid && figCmp(ps.Measure.fig(), figOf(fg.qf.badgeAt[i])) >= 0
		case program.MetricEarned:
			reached = cmp(earned, b.AtLeast) >= 0
		}
		if !reached {
			continue
		}
		ps.Badges = append(ps.Badges, b.ID)
		out.Awards = append(out.Awards, Award{Badge: b.ID, ProgramID: w.f.id, Period: ps.Period,
			RepID: ps.RepID, EventID: eventID})
	}
}
