package accrue

import (
	"math/bits"
	"slices"
	"time"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/shopspring/decimal"
)

// Input is one record of the accrual stage: a recipient's credit from
// sales.credited, or an override record from TopicOverrides. Exactly one is
// set.
type Input struct {
	Credit   *link.Credit
	Override *OverrideCredit
}

// Apply applies one input to s and returns what it produced. A
// *pipeline.Reject error (reason codes above) means the input changed
// nothing: s is untouched and nothing is to be emitted.
func (e *Engine) Apply(s Store, in Input) (Output, error) {
	switch {
	case in.Credit != nil && in.Override == nil:
		return e.ApplyCredit(s, in.Credit)
	case in.Override != nil && in.Credit == nil:
		return e.ApplyOverride(s, in.Override)
	}
	return Output{}, pipeline.Rejectf(ReasonInvalidInput, "", "an input is a credit or an override record")
}

// ApplyCredit applies one recipient's credit of a sale, return, cancel or
// adjustment (§4.1–§4.10) to that recipient's state in s. Reversals land in
// the original's period; overrides for the recipient's managers come back
// in Output.Overrides, to be applied with ApplyOverride.
//
// Whether a credit is rejected depends only on its event and on what the
// recipient's state holds of the original, never on who the recipient is,
// so that every recipient of one event is rejected alike.
func (e *Engine) ApplyCredit(s Store, c *link.Credit) (Output, error) {
	var out Output
	if c == nil || c.Event == nil {
		return out, pipeline.Rejectf(ReasonInvalidInput, "", "the credit carries no event")
	}
	if !c.Share.IsPositive() || c.RepID == "" {
		return out, pipeline.Rejectf(ReasonInvalidInput, "share", "the credit names no rep or a share %s that is not positive", c.Share)
	}
	tx := e.begin(s, c.ID(), link.EventID(c.Event))
	var err error
	switch c.Event.Type {
	case canonical.Sale, canonical.Adjustment:
		err = e.credit(tx, c, &out)
	case canonical.Return, canonical.Cancel:
		err = e.reverse(tx, c, &out)
	default:
		err = pipeline.Rejectf(ReasonInvalidInput, "type", "%q is not an event type", c.Event.Type)
	}
	if err != nil {
		return Output{}, err
	}
	e.commit(tx, &out)
	return out, nil
}

// ApplyOverride applies an override record to its manager's state in s.
func (e *Engine) ApplyOverride(s Store, o *OverrideCredit) (Output, error) {
	var out Output
	f := e.byID[o.ProgramID]
	if f == nil {
		return out, pipeline.Rejectf(ReasonUnknownProgram, "program_id", "program %q is not loaded", o.ProgramID)
	}
	if _, _, err := periodBounds(f.period, o.Period); err != nil {
		return out, &pipeline.Reject{Reason: ReasonInvalidInput, Field: "period", Err: err}
	}
	tx := e.beginOne(s, o.ID, o.EventID)
	t := tx.period(f, o.Period, o.ManagerID)
	t.cur.Override = t.cur.Override.plus(figOf(o.Amount))
	rate := decimal.NewNullDecimal(o.Rate)
	if len(o.Sources) == 0 {
		t.addPart(0, 1, Part{Kind: "override", Level: o.Level, FromRepID: o.FromRepID, Rate: rate, Amount: o.Amount})
	}
	for i := range o.Sources {
		src := &o.Sources[i]
		t.addPart(0, len(o.Sources), Part{Kind: "override", Level: o.Level, FromRepID: src.FromRepID, EventID: src.EventID,
			Rate: rate, Amount: src.Amount})
	}
	e.commit(tx, &out)
	return out, nil
}

// tx is the working set of one input: copies of the state it changes, put
// back only when every check has passed.
type tx struct {
	s       Store
	inputID string
	eventID string
	touched []*touched
	sale    *SaleState
	saleKey string
	// The first touched lives here, the next ones in more when the input
	// said how many it may touch (expect).
	buf  [1]touched
	ptrs [1]*touched
	more []touched
	// one, when set, holds the output of an input that touches one
	// period (an override record): allocated with the tx, thrown away
	// with the output.
	one *oneOutput
}

type oneOutput struct {
	snap [1]Snapshot
	acc  [1]Accrual
}

// touched is one (program, period, rep) an input changed.
type touched struct {
	key string
	f   *family
	old Num // measure before the input
	cur *PeriodState
	// parts are the spiff and override changes, for the trace; commission
	// parts are derived from the measure's change. They are kept in room,
	// after reserved places for the commission parts, so that the trace
	// is made in place.
	parts    []Part
	room     []Part
	reserved int
}

// addPart adds a spiff or override part, of n to come, reserving places
// for up to bands commission parts before the first.
func (w *touched) addPart(bands, n int, p Part) {
	if w.room == nil {
		w.room = make([]Part, bands, bands+n)
		w.reserved = bands
		w.parts = w.room[bands:bands]
	}
	w.parts = append(w.parts, p)
}

func (e *Engine) begin(s Store, inputID, eventID string) *tx {
	t := &tx{s: s, inputID: inputID, eventID: eventID}
	t.touched = t.ptrs[:0]
	return t
}

// expect makes room for n periods to be touched.
func (t *tx) expect(n int) {
	if n > len(t.buf) && t.more == nil {
		t.more = make([]touched, n-len(t.buf))
		t.touched = slices.Grow(t.touched, n)
	}
}

// beginOne begins an input that touches one period.
func (e *Engine) beginOne(s Store, inputID, eventID string) *tx {
	b := &struct {
		tx
		oneOutput
	}{tx: tx{s: s, inputID: inputID, eventID: eventID}}
	b.touched, b.one = b.ptrs[:0], &b.oneOutput
	return &b.tx
}

// period is the working copy of a rep's figures in a program's period.
func (t *tx) period(f *family, label, repID string) *touched {
	key := PeriodKey(f.id, label, repID)
	for _, w := range t.touched {
		if w.key == key {
			return w
		}
	}
	var w *touched
	switch n := len(t.touched); {
	case n < len(t.buf):
		w = &t.buf[n]
	case len(t.more) > 0:
		w, t.more = &t.more[0], t.more[1:]
	default:
		w = new(touched)
	}
	w.key, w.f = key, f
	if st, ok := t.s.Get(key); ok && st.Period != nil {
		w.cur = st.Period.clone()
	} else {
		w.cur = &PeriodState{ProgramID: f.id, Period: label, RepID: repID}
	}
	w.old = w.cur.Measure
	t.touched = append(t.touched, w)
	return w
}

// candidate is a program version that admits an event, with what it needs.
type candidate struct {
	f     *family
	v     *version
	local reference.Date
	rate  decimal.Decimal // amount currency → program currency
	mrate decimal.Decimal // margin currency → program currency
	// matched are the spiffs whose when matches, by index: the first 64
	// as bits, any others listed.
	matched uint64
	more    []int
}

// spiffs calls fn with the index of each spiff whose when matched, in
// order.
func (p *candidate) spiffs(fn func(i int)) {
	for m := p.matched; m != 0; m &= m - 1 {
		fn(bits.TrailingZeros64(m))
	}
	for _, i := range p.more {
		fn(i)
	}
}

// rate is the rate converting from into the family's currency on day.
func (e *Engine) rate(from string, f *family, day reference.Date) (decimal.Decimal, bool) {
	if from == f.currency {
		return one, true
	}
	return e.tables.Rate(from, f.currency, day)
}

// credit applies a sale or an adjustment.
func (e *Engine) credit(t *tx, c *link.Credit, out *Output) error {
	ev := c.Event
	day := reference.DateOf(ev.EventTime)
	rep, ok := e.tables.Rep(c.RepID, day)
	if !ok {
		return pipeline.Rejectf(ReasonUnknownRep, "rep_id", "rep %q is not known on %s", c.RepID, day)
	}
	// Checks first: the programs that admit the event and the rates they
	// need. None of this depends on the recipient.
	var env *program.Env
	var buf [8]candidate
	plans := buf[:0]
	for _, f := range e.families {
		local := localDate(ev.EventTime, f.loc)
		v := f.inForce(local)
		if v == nil {
			continue
		}
		if f.exprs && env == nil {
			env = e.env(c, day)
		}
		ok, err := v.Credit.Filter.Match(env)
		if err != nil {
			return pipeline.Rejectf(ReasonExpressionFailed, "", "program %s v%d: credit.filter: %v", v.ID, v.Version, err)
		}
		if !ok {
			continue
		}
		p := candidate{f: f, v: v, local: local}
		needAmount := v.Credit.Measure == program.Amount
		if ev.Type == canonical.Sale {
			for i := range v.Spiffs {
				sp := &v.Spiffs[i]
				ok, err := sp.When.Match(env)
				if err != nil {
					return pipeline.Rejectf(ReasonExpressionFailed, "", "program %s v%d: spiff %s: %v", v.ID, v.Version, sp.ID, err)
				}
				if ok {
					if i < 64 {
						p.matched |= 1 << i
					} else {
						p.more = append(p.more, i)
					}
					needAmount = needAmount || sp.Rate.Valid
				}
			}
		}
		if needAmount {
			if p.rate, ok = e.rate(ev.Amount.Currency, f, day); !ok {
				return pipeline.Rejectf(ReasonFXRateMissing, "amount.currency", "no %s→%s rate on %s (program %s)", ev.Amount.Currency, f.currency, day, f.id)
			}
		}
		if v.Credit.Measure == program.Margin && ev.Margin != nil {
			if p.mrate, ok = e.rate(ev.Margin.Currency, f, day); !ok {
				return pipeline.Rejectf(ReasonFXRateMissing, "margin.currency", "no %s→%s rate on %s (program %s)", ev.Margin.Currency, f.currency, day, f.id)
			}
		}
		plans = append(plans, p)
	}

	// Writes.
	t.expect(len(plans))
	var sale *SaleState
	if ev.Type == canonical.Sale {
		sale = &SaleState{RepID: c.RepID, Source: ev.Source, TxnID: ev.TxnID, EventID: t.eventID,
			EventTime: ev.EventTime, Share: NumOf(c.Share), Amount: NumOf(ev.Amount.Value), Currency: ev.Amount.Currency}
		t.sale, t.saleKey = sale, SaleKey(c.RepID, ev.Source, ev.TxnID)
		sale.Programs = make([]SaleProgram, 0, len(plans))
	}
	for i := range plans {
		p := &plans[i]
		if !participant(&p.v.Participants, &rep) {
			continue
		}
		label := periodLabel(p.f.period, p.local)
		w := t.period(p.f, label, c.RepID)
		contrib, rate := e.contribution(p, c)
		w.cur.Measure = w.cur.Measure.plus(contrib)
		if ev.Type == canonical.Sale {
			w.cur.Count = w.cur.Count.plus(figOf(c.Share))
			if p.f.inactivity && ev.EventTime.After(w.cur.LastSale) {
				w.cur.LastSale = ev.EventTime.UTC()
			}
		}
		var spiffs []Amount
		if p.matched != 0 || p.more != nil {
			spiffs = make([]Amount, 0, bits.OnesCount64(p.matched)+len(p.more))
			// The credited amount of rate spiffs: amount × share × rate,
			// which is an amount program's contribution.
			var credited fig
			hasCredited := false
			p.spiffs(func(si int) {
				sp := &p.v.Spiffs[si]
				var amt decimal.Decimal
				switch {
				case sp.Fixed.Valid:
					amt = mul(sp.Fixed.Decimal, c.Share)
				default:
					if !hasCredited {
						credited, hasCredited = contrib, true
						if p.v.Credit.Measure != program.Amount {
							credited = figMul(figMul(figOf(ev.Amount.Value), figOf(c.Share)), figOf(p.rate))
						}
					}
					amt = figMul(figOf(sp.Rate.Decimal), credited).dec()
				}
				spiffs = addAmount(spiffs, sp.ID, figOf(amt))
				w.cur.Spiffs = addAmount(w.cur.Spiffs, sp.ID, figOf(amt))
				w.addPart(p.f.bands, cap(spiffs), Part{Kind: "spiff", SpiffID: sp.ID, Amount: amt})
			})
		}
		var chain []Manager
		if p.v.pays && !contrib.isZero() {
			chain = e.chain(c.RepID, day, p.v)
			out.Overrides = appendOverrides(out.Overrides, t.inputID, t.eventID, p.v.Program, label, c.RepID, chain, contrib)
		}
		if sale != nil {
			sale.Programs = append(sale.Programs, SaleProgram{ProgramID: p.f.id, Version: p.v.Version,
				Period: label, WindowDays: p.v.window, Rate: NumOf(rate), Contribution: numOf(contrib),
				Spiffs: spiffs, Overrides: chain})
		}
	}
	return nil
}

// contribution is the recipient's measure contribution of a sale or an
// adjustment (§4.2), in the program's currency, and the rate it used.
func (e *Engine) contribution(p *candidate, c *link.Credit) (fig, decimal.Decimal) {
	ev := c.Event
	switch p.v.Credit.Measure {
	case program.Amount:
		return figMul(figMul(figOf(ev.Amount.Value), figOf(c.Share)), figOf(p.rate)), p.rate
	case program.Margin:
		if ev.Margin == nil {
			return zeroFig, one
		}
		return figMul(figMul(figOf(ev.Margin.Value), figOf(c.Share)), figOf(p.mrate)), p.mrate
	case program.Quantity:
		if !ev.Quantity.Valid {
			return zeroFig, one
		}
		return figMul(figOf(ev.Quantity.Decimal), figOf(c.Share)), one
	case program.Count:
		if ev.Type == canonical.Sale {
			return figOf(c.Share), one
		}
	}
	return zeroFig, one
}

var one = decimal.NewFromInt(1)

// participant reports whether rep (the row in force for the event) is a
// participant: both lists are filters, AND-ed; an empty list admits all.
func participant(p *program.Participants, rep *reference.Rep) bool {
	if len(p.Roles) > 0 && !contains(p.Roles, rep.Role) {
		return false
	}
	if len(p.Reps) > 0 && !contains(p.Reps, rep.RepID) {
		return false
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// chain is the managers of repID as of day who earn overrides: level 1 the
// rep's manager, level 2 theirs, and so on up to the highest level the
// program pays. It stops at a missing manager (none named, or not in the
// reference data on day) and where the chain would come back to someone
// already in it.
func (e *Engine) chain(repID string, day reference.Date, v *version) []Manager {
	ovs := v.Overrides
	var out []Manager
	cur := repID
	var buf [8]string
	seen := append(buf[:0], repID)
	for level := 1; level <= v.top; level++ {
		r, ok := e.tables.Rep(cur, day)
		if !ok || r.ManagerID == "" || contains(seen, r.ManagerID) {
			break
		}
		if _, ok := e.tables.Rep(r.ManagerID, day); !ok {
			break
		}
		cur = r.ManagerID
		seen = append(seen, cur)
		for _, o := range ovs {
			if o.Level == level {
				if out == nil {
					out = make([]Manager, 0, len(ovs))
				}
				out = append(out, Manager{RepID: cur, Level: level, Rate: NumOf(o.Rate)})
			}
		}
	}
	return out
}

// appendOverrides appends an override record for each manager of chain on
// the measure change d of repID.
func appendOverrides(dst []OverrideCredit, inputID, eventID string, v *program.Program, period, repID string, chain []Manager, d fig) []OverrideCredit {
	dst = slices.Grow(dst, len(chain))
	for _, m := range chain {
		dst = append(dst, OverrideCredit{ID: overrideID(inputID, v.ID, m.Level), ProgramID: v.ID,
			ProgramVersion: v.Version, Period: period, ManagerID: m.RepID, Level: m.Level,
			FromRepID: repID, Rate: rateOf(v, m), Amount: figMul(m.Rate.fig(), d).dec(), EventID: eventID})
	}
	return dst
}

// rateOf is m's rate as a decimal: v's own for m's level when it is the
// same figure, scale included (no copy made), else a new one.
func rateOf(v *program.Program, m Manager) decimal.Decimal {
	for _, o := range v.Overrides {
		if o.Level == m.Level && same(figOf(o.Rate), m.Rate.fig()) {
			return o.Rate
		}
	}
	return m.Rate.Decimal()
}

// reverse applies a return or a cancel: it takes back from each program the
// sale counted in what the contract says (§4.2), in the sale's period and at
// its rate, unless the clawback window has passed.
func (e *Engine) reverse(t *tx, c *link.Credit, out *Output) error {
	ev := c.Event
	key := SaleKey(c.RepID, ev.Source, ev.RefTxnID)
	st, ok := t.s.Get(key)
	if !ok || st.Sale == nil {
		return pipeline.Rejectf(ReasonUnknownOriginal, "ref_txn_id", "rep %s was never credited with sale %q of source %q", c.RepID, ev.RefTxnID, ev.Source)
	}
	orig := st.Sale
	if orig.Cancelled {
		return pipeline.Rejectf(ReasonAlreadyCancelled, "ref_txn_id", "sale %q of source %q was cancelled before", ev.RefTxnID, ev.Source)
	}
	isReturn := ev.Type == canonical.Return
	var returned fig
	var qty decimal.Decimal
	if isReturn {
		if ev.Amount.Currency != orig.Currency {
			return pipeline.Rejectf(ReasonReturnCurrency, "amount.currency", "the return is in %s, its sale in %s", ev.Amount.Currency, orig.Currency)
		}
		returned = figAdd(orig.Returned.fig(), figOf(ev.Amount.Value))
		if figCmp(returned, orig.Amount.fig()) > 0 {
			return pipeline.Rejectf(ReasonReturnExceedsOriginal, "amount.value", "returns would total %s of a sale of %s %s", returned.dec(), orig.Amount, orig.Currency)
		}
		qty = decimal.Zero
		if ev.Quantity.Valid {
			qty = ev.Quantity.Decimal
		}
	}

	sale := orig.clone()
	t.sale, t.saleKey = sale, key
	if isReturn {
		sale.Returned = numOf(returned)
	} else {
		sale.Cancelled = true
	}
	late := ev.EventTime.Sub(sale.EventTime)
	for i := range sale.Programs {
		sp := &sale.Programs[i]
		f := e.byID[sp.ProgramID]
		if f == nil {
			continue
		}
		if sp.WindowDays >= 0 && late > time.Duration(sp.WindowDays)*24*time.Hour {
			out.Expired = append(out.Expired, sp.ProgramID)
			continue
		}
		var d fig // the contribution taken back
		if isReturn {
			r := figOf(ev.Amount.Value)
			sp.Returned = sp.Returned.plus(r)
			switch f.measure {
			case program.Amount:
				d = figMul(figMul(r, sale.Share.fig()), sp.Rate.fig())
			case program.Margin:
				d = figSub(proportion(sp.Contribution.fig(), sp.Returned.fig(), sale.Amount.fig()), sp.Reversed.fig())
			case program.Quantity:
				d = figMul(figOf(qty), sale.Share.fig())
			default:
				d = zeroFig
			}
		} else {
			d = figSub(sp.Contribution.fig(), sp.Reversed.fig())
		}
		sp.Reversed = sp.Reversed.plus(d)
		w := t.period(f, sp.Period, c.RepID)
		w.cur.Measure = w.cur.Measure.minus(d)
		if !isReturn {
			w.cur.Count = w.cur.Count.minus(sale.Share.fig())
			for _, a := range sp.Spiffs {
				back := figNeg(a.Amount.fig())
				w.cur.Spiffs = addAmount(w.cur.Spiffs, a.ID, back)
				w.addPart(f.bands, len(sp.Spiffs), Part{Kind: "spiff", SpiffID: a.ID, Amount: back.dec()})
			}
		}
		if !d.isZero() && len(sp.Overrides) > 0 {
			v := f.version(sp.Version)
			out.Overrides = appendOverrides(out.Overrides, t.inputID, t.eventID, v.Program, sp.Period, c.RepID, sp.Overrides, figNeg(d))
		}
	}
	if sale.Cancelled {
		// Nothing can reverse it again: keep only what the checks read.
		sale.Programs = nil
	}
	return nil
}

// proportionPlaces is the scale of a proportional reversal that does not
// come out exact (margin × returned / amount).
const proportionPlaces = 24

// proportion is x × num / den, exact when num is den (all of it), else to
// proportionPlaces places, half-even.
func proportion(x, num, den fig) fig {
	switch {
	case figCmp(num, den) == 0:
		return x
	case den.isZero() || num.isZero():
		return zeroFig
	}
	return figOf(divHalfEven(figMul(x, num).dec(), den.dec(), proportionPlaces))
}

// version is version n of the family, or the latest when n is gone.
func (f *family) version(n int) *version {
	for _, v := range f.derived {
		if v.Version == n {
			return v
		}
	}
	return f.derived[len(f.derived)-1]
}
