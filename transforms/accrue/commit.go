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
	var bands []bandPay
	for _, w := range t.touched {
		var fg figures
		fg, bands = e.figures(w.f, w.cur, bands)
		st := e.statement(w.f, w.cur, &fg)
		if !st.Earned.Equal(w.cur.Earned) {
			out.Accruals = append(out.Accruals, Accrual{
				ID:        t.inputID + "#" + w.f.id + "/" + w.cur.Period + "/" + w.cur.RepID,
				ProgramID: w.f.id, ProgramVersion: fg.v.Version, Period: w.cur.Period, RepID: w.cur.RepID,
				Currency: w.f.currency, Delta: st.Earned.Sub(w.cur.Earned), Earned: st.Earned,
				Capped: fg.capped, EventID: t.eventID, InputID: t.inputID,
				Trace: append(commissionTrace(&fg, bands, w.old, w.cur.Measure), w.parts...), MinorUnits: w.f.minor,
			})
			w.cur.Earned = st.Earned
		}
		w.cur.Version++
		out.Snapshots = append(out.Snapshots, Snapshot{Statement: st, Version: w.cur.Version, EventID: t.eventID})
		if !w.cur.Measure.Equal(w.old) {
			e.nudges(w, &fg, t.eventID, out)
		}
		e.badges(w, &fg, st.Earned, t.eventID, out)
		t.s.Put(w.key, State{Period: w.cur})
	}
	if t.sale != nil {
		t.s.Put(t.saleKey, State{Sale: t.sale})
	}
}

// commissionTrace is the change of each band's pay as the measure went
// from old to cur (same version and quota); after is what each band pays
// at cur.
func commissionTrace(fg *figures, after []bandPay, old, cur decimal.Decimal) []Part {
	if old.Equal(cur) {
		return nil
	}
	_, before := commission(&fg.v.Tiers, old, fg.quota, nil)
	var parts []Part
	add := func(b bandPay, d decimal.Decimal) {
		if d.IsZero() {
			return
		}
		for i := range parts {
			if parts[i].BandFrom.Decimal.Equal(b.From) {
				parts[i].Amount = parts[i].Amount.Add(d)
				return
			}
		}
		parts = append(parts, Part{Kind: "commission", BandFrom: decimal.NewNullDecimal(b.From),
			Rate: decimal.NewNullDecimal(b.Rate), Amount: d})
	}
	for _, b := range before {
		add(b, b.Pay.Neg())
	}
	for _, b := range after {
		add(b, b.Pay)
	}
	return parts
}

// nudges fires the nudges of §4.9 for a rep whose measure the input moved.
func (e *Engine) nudges(w *touched, fg *figures, eventID string, out *Output) {
	v, ps, q := fg.v, w.cur, fg.quota
	if q.Valid {
		for _, th := range w.f.thresholds(v) {
			key := th.String()
			if slices.Contains(ps.Crossed, key) || ps.Measure.Cmp(th.Mul(q.Decimal)) < 0 {
				continue
			}
			ps.Crossed = append(ps.Crossed, key)
			out.Nudges = append(out.Nudges, Nudge{Kind: NudgeAttainmentCrossed, ProgramID: w.f.id,
				Period: ps.Period, RepID: ps.RepID, Threshold: th,
				Attainment: divAttainment(ps.Measure, q.Decimal), EventID: eventID})
		}
	}
	within := v.Nudges.NearNextTierWithin
	if !within.Valid {
		return
	}
	b, lower, ok := nextBand(&v.Tiers, ps.Measure, q)
	if !ok {
		return
	}
	limit := within.Decimal
	if v.Tiers.Basis != program.MeasureBase {
		limit = limit.Mul(q.Decimal)
	}
	gap := lower.Sub(ps.Measure)
	key := b.From.String()
	if gap.Sign() <= 0 || gap.Cmp(limit) > 0 || slices.Contains(ps.Near, key) {
		return
	}
	ps.Near = append(ps.Near, key)
	places := int32(-1)
	if v.Credit.Measure == program.Amount || v.Credit.Measure == program.Margin {
		places = w.f.minor
		gap = gap.RoundBank(places)
	}
	out.Nudges = append(out.Nudges, Nudge{Kind: NudgeNearNextTier, ProgramID: w.f.id, Period: ps.Period,
		RepID: ps.RepID, BandFrom: b.From, Gap: gap, EventID: eventID, GapPlaces: places})
}

// badges awards the badges of §4.10 whose metric the rep's figures reach.
func (e *Engine) badges(w *touched, fg *figures, earned decimal.Decimal, eventID string, out *Output) {
	ps := w.cur
	for _, b := range fg.v.Badges {
		if slices.Contains(ps.Badges, b.ID) {
			continue
		}
		var reached bool
		switch b.Metric {
		case program.MetricCount:
			reached = ps.Count.Cmp(b.AtLeast) >= 0
		case program.MetricMeasure:
			reached = ps.Measure.Cmp(b.AtLeast) >= 0
		case program.MetricAttainment:
			reached = fg.quota.Valid && ps.Measure.Cmp(b.AtLeast.Mul(fg.quota.Decimal)) >= 0
		case program.MetricEarned:
			reached = earned.Cmp(b.AtLeast) >= 0
		}
		if !reached {
			continue
		}
		ps.Badges = append(ps.Badges, b.ID)
		out.Awards = append(out.Awards, Award{Badge: b.ID, ProgramID: w.f.id, Period: ps.Period,
			RepID: ps.RepID, EventID: eventID})
	}
}
