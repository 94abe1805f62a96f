package accrue

import (
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/shopspring/decimal"
)

// bandPay is what one band pays at a measure: the band's lower bound as
// written (From) and in the measure's unit (Lower), its rate and its pay.
type bandPay struct {
	From, Rate decimal.Decimal
	Lower, Pay fig
}

var zeroFig = figOf(decimal.Zero)

// commission is the commission at period measure m under quota figures qf
// (§4.3), exact, and what each band pays of it (marginal: every band;
// retroactive: the band that applies, if any). M < 0 earns 0. Attainment
// bands without a quota pay nothing.
//
// Marginal: band i pays max(0, min(M, L[i+1]) − L[i]) × rate; the bands
// below the one M lies in pay in full, figures computed once (quotaFigs),
// and their total is added up in the same order as here.
func commission(t *program.Tiers, m fig, qf *quotaFigs, parts []bandPay) (fig, []bandPay) {
	parts = parts[:0]
	total := zeroFig
	if len(t.Bands) == 0 || !qf.ok {
		return total, parts
	}
	switch t.Method {
	case program.Retroactive:
		if m.sign() < 0 {
			return total, parts
		}
		top := -1
		for i := range t.Bands {
			if figCmp(qf.lower[i], m) <= 0 {
				top = i
			}
		}
		if top < 0 {
			return total, parts
		}
		b := t.Bands[top]
		total = figMul(m, qf.rates[top])
		parts = append(parts, bandPay{From: b.From, Lower: qf.lower[top], Rate: b.Rate, Pay: total})
	default: // marginal
		in := -1 // the band M lies in, above its lower bound
		for i, b := range t.Bands {
			p := bandPay{From: b.From, Lower: qf.lower[i], Rate: b.Rate, Pay: zeroFig}
			if figCmp(m, qf.lower[i]) > 0 {
				if i+1 < len(t.Bands) && figCmp(qf.lower[i+1], m) < 0 {
					p.Pay = qf.full[i]
				} else {
					p.Pay = figMul(figSub(m, qf.lower[i]), qf.rates[i])
					in = i
				}
			}
			parts = append(parts, p)
		}
		// M at or below the first band's bound pays nothing; M above
		// every bound lies in the top band.
		if in >= 0 {
			total = figAdd(qf.below[in], parts[in].Pay)
		}
	}
	return total, parts
}

// nextBand is the index of the first band whose lower bound lies above m;
// ok is false when m is in the top band (or there is no quota for
// attainment bands).
func nextBand(qf *quotaFigs, m fig) (int, bool) {
	if !qf.ok {
		return 0, false
	}
	for i, l := range qf.lower {
		if figCmp(l, m) > 0 {
			return i, true
		}
	}
	return 0, false
}
