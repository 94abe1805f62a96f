package sanitize

import (
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/transforms/currency"
)

// layer is one Policy compiled alone: nil and unset parts inherit.
type layer struct {
	required    []required
	requiredSet bool
	allowed     map[string]bool
	allowedSet  bool
	min, max    decimal.NullDecimal
	future      *time.Duration
	horizon     *time.Duration
	trim        *bool
	upper       []string
	upperSet    bool
	lower       []string
	lowerSet    bool
	rules       []rule
	window      *time.Duration
}

type compiler struct {
	cfg      *Config
	problems []Problem
}

func (c *compiler) problem(path string, err error) {
	c.problems = append(c.problems, Problem{Path: path, Pos: c.cfg.at(path), Err: err})
}

func (c *compiler) layer(p Policy, path string) layer {
	var l layer
	if p.Required != nil {
		l.requiredSet = true
		seen := map[string]bool{}
		for i, name := range p.Required {
			present, ok := requiredCheck(name)
			switch {
			case !ok:
				c.problem(path+".required["+strconv.Itoa(i)+"]", fmt.Errorf("%q is not a field of the canonical event", name))
			case seen[name]:
				c.problem(path+".required["+strconv.Itoa(i)+"]", fmt.Errorf("%s is listed twice", name))
			default:
				l.required = append(l.required, required{name, present})
			}
			seen[name] = true
		}
	}
	if p.Currencies != nil {
		l.allowedSet = true
		l.allowed = map[string]bool{}
		anyISO := false
		for i, code := range p.Currencies {
			if code == AnyISO4217 {
				anyISO = true
				continue
			}
			if _, ok := currency.MinorUnits(code); !ok {
				c.problem(path+".currencies["+strconv.Itoa(i)+"]", fmt.Errorf("%q is not an active ISO 4217 currency with a minor unit, nor %q", code, AnyISO4217))
				continue
			}
			l.allowed[code] = true
		}
		if len(p.Currencies) == 0 {
			c.problem(path+".currencies", fmt.Errorf("the list is empty: no event could pass"))
		}
		if anyISO {
			if len(l.allowed) > 0 {
				c.problem(path+".currencies", fmt.Errorf("%q allows every code: list nothing with it", AnyISO4217))
			}
			l.allowed = nil
		}
	}
	if a := p.Amount; a != nil {
		l.min = c.decimal(a.Min, path+".amount.min")
		l.max = c.decimal(a.Max, path+".amount.max")
		if l.min.Valid && l.max.Valid && l.min.Decimal.GreaterThan(l.max.Decimal) {
			c.problem(path+".amount", fmt.Errorf("min %s is above max %s", l.min.Decimal, l.max.Decimal))
		}
	}
	if t := p.EventTime; t != nil {
		l.future = c.duration(t.FutureTolerance, path+".event_time.future_tolerance")
		l.horizon = c.duration(t.Horizon, path+".event_time.horizon")
	}
	if n := p.Normalize; n != nil {
		l.trim = n.Trim
		l.upper, l.upperSet = c.normalizable(n.Upper, path+".normalize.upper")
		l.lower, l.lowerSet = c.normalizable(n.Lower, path+".normalize.lower")
		both := map[string]bool{}
		for _, f := range l.upper {
			both[f] = true
		}
		for _, f := range l.lower {
			if both[f] {
				c.problem(path+".normalize", fmt.Errorf("%s is both upper and lower case", f))
			}
		}
	}
	names := map[string]bool{}
	for i, r := range p.Rules {
		rp := path + ".rules[" + strconv.Itoa(i) + "]"
		cr, ps := compileRule(r)
		for _, fp := range ps {
			c.problem(rp+"."+fp.key, fp.err)
		}
		if names[r.Name] {
			c.problem(rp+".name", fmt.Errorf("rule %s is defined twice", r.Name))
		}
		names[r.Name] = true
		l.rules = append(l.rules, cr)
	}
	if d := p.Dedupe; d != nil {
		l.window = c.duration(d.Window, path+".dedupe.window")
	}
	return l
}

func (c *compiler) decimal(s, path string) decimal.NullDecimal {
	if s == "" {
		return decimal.NullDecimal{}
	}
	d, err := canonical.ParseDecimal(s)
	if err != nil {
		c.problem(path, err)
		return decimal.NullDecimal{}
	}
	if d.IsNegative() {
		c.problem(path, fmt.Errorf("%s is negative: bounds apply to amounts (adjustments by absolute value)", s))
	}
	return decimal.NewNullDecimal(d)
}

func (c *compiler) duration(s, path string) *time.Duration {
	if s == "" {
		return nil
	}
	d, err := parseDuration(s)
	if err != nil {
		c.problem(path, err)
		return nil
	}
	return &d
}

func (c *compiler) normalizable(names []string, path string) ([]string, bool) {
	if names == nil {
		return nil, false
	}
	var out []string
	for i, n := range names {
		f, ok := fields[n]
		if !ok || (f.str == nil && n != "splits.rep_id") {
			c.problem(path+"["+strconv.Itoa(i)+"]", fmt.Errorf("%q is not a string field that can be normalized", n))
			continue
		}
		out = append(out, n)
	}
	return out, true
}

// merge lays over on base: what over sets wins.
func merge(base, over layer) *policy {
	p := &policy{future: -1, horizon: -1}
	pick := func(b, o []required, oSet bool) []required {
		if oSet {
			return o
		}
		return b
	}
	p.required = pick(base.required, over.required, over.requiredSet)
	p.allowed = base.allowed
	if over.allowedSet {
		p.allowed = over.allowed
	}
	min, max := base.min, base.max
	if over.min.Valid {
		min = over.min
	}
	if over.max.Valid {
		max = over.max
	}
	p.min, p.max = newBound(min), newBound(max)
	for _, d := range []struct {
		dst    *time.Duration
		b, o   *time.Duration
		absent time.Duration
	}{{&p.future, base.future, over.future, -1}, {&p.horizon, base.horizon, over.horizon, -1}, {&p.window, base.window, over.window, 0}} {
		*d.dst = d.absent
		if d.b != nil {
			*d.dst = *d.b
		}
		if d.o != nil {
			*d.dst = *d.o
		}
	}
	if base.trim != nil {
		p.trim = *base.trim
	}
	if over.trim != nil {
		p.trim = *over.trim
	}
	p.upper = base.upper
	if over.upperSet {
		p.upper = over.upper
	}
	p.lower = base.lower
	if over.lowerSet {
		p.lower = over.lower
	}
	p.norm = normOps(p.trim, p.upper, p.lower)
	p.rules = append([]rule(nil), base.rules...)
	for _, r := range over.rules {
		replaced := false
		for i := range p.rules {
			if p.rules[i].name == r.name {
				p.rules[i], replaced = r, true
			}
		}
		if !replaced {
			p.rules = append(p.rules, r)
		}
	}
	return p
}

// bound is an amount bound, also held at every scale from 0 to maxScale
// decimals that it can be written in exactly: comparing an amount of
// another scale would rescale one of them, allocating, on every event.
type bound struct {
	decimal.NullDecimal
	scaled [maxScale + 1]decimal.NullDecimal // scaled[k] has exponent -k
}

const maxScale = 18

func newBound(d decimal.NullDecimal) bound {
	b := bound{NullDecimal: d}
	if !d.Valid {
		return b
	}
	for k := int32(0); k <= maxScale; k++ {
		shift := d.Decimal.Exponent() + k
		if shift < 0 {
			continue // the bound has more decimals than k
		}
		c := d.Decimal.Coefficient()
		c.Mul(c, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(shift)), nil))
		b.scaled[k] = decimal.NewNullDecimal(decimal.NewFromBigInt(c, -k))
	}
	return b
}

// cmp compares the bound with v: -1 when the bound is below v, 0 when
// equal, +1 when above.
func (b *bound) cmp(v decimal.Decimal) int {
	if k := -v.Exponent(); k >= 0 && k <= maxScale && b.scaled[k].Valid {
		return b.scaled[k].Decimal.Cmp(v)
	}
	return b.Decimal.Cmp(v)
}
