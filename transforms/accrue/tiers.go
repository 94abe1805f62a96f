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

// lowerBound is band b's lower bound L in the measure's unit: From × Q for
// attainment basis, From for measure basis (§4.3). ok is false when the
// basis is attainment and there is no quota.
func lowerBound(t *program.Tiers, b program.Band, q decimal.NullDecimal) (decimal.Decimal, bool) {
	if t.Basis == program.MeasureBase {
		return b.From, true
	}
	if !q.Valid {
		return decimal.Decimal{}, false
	}
	return b.From.Mul(q.Decimal), true
}

// commission is the commission at period measure m with quota q (§4.3),
// exact, and what each band pays of it (marginal: every band; retroactive:
// the band that applies, if any). M < 0 earns 0. Attainment bands without a
// quota pay nothing.
func commission(t *program.Tiers, m decimal.Decimal, q decimal.NullDecimal, parts []bandPay) (decimal.Decimal, []bandPay) {
	parts = parts[:0]
	total := decimal.Zero
	if len(t.Bands) == 0 {
		return total, parts
	}
	if t.Basis != program.MeasureBase && !q.Valid {
		return total, parts
	}
	switch t.Method {
	case program.Retroactive:
		if m.Sign() < 0 {
			return total, parts
		}
		top := -1
		var lower decimal.Decimal
		for i, b := range t.Bands {
			l, _ := lowerBound(t, b, q)
			if l.Cmp(m) <= 0 {
				top, lower = i, l
			}
		}
		if top < 0 {
			return total, parts
		}
		b := t.Bands[top]
		total = m.Mul(b.Rate)
		parts = append(parts, bandPay{From: b.From, Lower: lower, Rate: b.Rate, Pay: total})
	default: // marginal
		// Each band's lower bound once; a band's upper bound is the next
		// band's lower bound.
		for _, b := range t.Bands {
			l, _ := lowerBound(t, b, q)
			parts = append(parts, bandPay{From: b.From, Lower: l, Rate: b.Rate, Pay: decimal.Zero})
		}
		for i := range parts {
			top := m
			if i+1 < len(parts) && parts[i+1].Lower.Cmp(top) < 0 {
				top = parts[i+1].Lower
			}
			if slice := top.Sub(parts[i].Lower); slice.Sign() > 0 {
				parts[i].Pay = slice.Mul(parts[i].Rate)
				total = total.Add(parts[i].Pay)
			}
		}
	}
	return total, parts
}

// nextBand is the first band whose lower bound lies above m, with that
// bound; ok is false when m is in the top band (or there is no quota for
// attainment bands).
func nextBand(t *program.Tiers, m decimal.Decimal, q decimal.NullDecimal) (program.Band, decimal.Decimal, bool) {
	for _, b := range t.Bands {
		l, ok := lowerBound(t, b, q)
		if !ok {
			return program.Band{}, decimal.Decimal{}, false
		}
		if l.Cmp(m) > 0 {
			return b, l, true
		}
	}
	return program.Band{}, decimal.Decimal{}, false
}
