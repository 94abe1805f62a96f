package accrue

import (
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/shopspring/decimal"
)

// bandPay is what one band pays at a measure: the band's lower bound as
// written (From) and in the measure's unit (Lower), its rate and its pay.
type bandPay struct {
	From, Lower, Rate, Pay decimal.Decimal
}

// commission is the commission at period measure m under quota figures qf
// (§4.3), exact, and what each band pays of it (marginal: every band;
// retroactive: the band that applies, if any). M < 0 earns 0. Attainment
// bands without a quota pay nothing.
//
// Marginal: band i pays max(0, min(M, L[i+1]) − L[i]) × rate; the bands
// below the one M lies in pay in full, figures computed once (quotaFigs),
// and their total is added up in the same order as here.
func commission(t *program.Tiers, m decimal.Decimal, qf *quotaFigs, parts []bandPay) (decimal.Decimal, []bandPay) {
	parts = parts[:0]
	total := decimal.Zero
	if len(t.Bands) == 0 || !qf.ok {
		return total, parts
	}
	switch t.Method {
	case program.Retroactive:
		if m.Sign() < 0 {
			return total, parts
		}
		top := -1
		for i := range t.Bands {
			if cmp(qf.lower[i], m) <= 0 {
				top = i
			}
		}
		if top < 0 {
			return total, parts
		}
		b := t.Bands[top]
		total = mul(m, b.Rate)
		parts = append(parts, bandPay{From: b.From, Lower: qf.lower[top], Rate: b.Rate, Pay: total})
	default: // marginal
		in := -1 // the band M lies in, above its lower bound
		for i, b := range t.Bands {
			p := bandPay{From: b.From, Lower: qf.lower[i], Rate: b.Rate, Pay: decimal.Zero}
			if cmp(m, qf.lower[i]) > 0 {
				if i+1 < len(t.Bands) && cmp(qf.lower[i+1], m) < 0 {
					p.Pay = qf.full[i]
				} else {
					p.Pay = mul(sub(m, qf.lower[i]), b.Rate)
					in = i
				}
			}
			parts = append(parts, p)
		}
		switch {
		case in >= 0:
			total = add(qf.below[in], parts[in].Pay)
		default:
			// M at or below the first band's bound: nothing is paid.
			// (M above every bound lies in the top band.)
		}
	}
	return total, parts
}

// nextBand is the index of the first band whose lower bound lies above m;
// ok is false when m is in the top band (or there is no quota for
// attainment bands).
func nextBand(qf *quotaFigs, m decimal.Decimal) (int, bool) {
	if !qf.ok {
		return 0, false
	}
	for i, l := range qf.lower {
		if cmp(l, m) > 0 {
			return i, true
		}
	}
	return 0, false
}
