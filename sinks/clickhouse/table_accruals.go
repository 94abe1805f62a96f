package clickhouse

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fastjson"
)

// accrualsTable maps accruals (accrue.Accrual's JSON: the change of a
// rep's reported earned, with the bands, spiffs and overrides that moved
// it) to table accruals, the trace as a Nested column.
var accrualsTable = &Table{
	Kind: "accruals",
	Name: "accruals",
	Columns: append([]string{
		"accrual_id", "program_id", "program_version", "period", "rep_id", "currency",
		"delta", "earned", "capped", "event_id", "input_id",
		"trace.kind", "trace.band_from", "trace.rate", "trace.spiff_id", "trace.level", "trace.from_rep_id", "trace.amount",
		"trace.event_id",
	}, kafkaColumns...),
	NewRows: func() Rows { return &accrualRows{in: interner{}} },
}

type accrualRows struct {
	p  fastjson.Parser
	in interner

	accrualID, programID     []string
	programVersion           []uint32
	period, repID, currency  []string
	delta, earned            []decimal.Decimal
	capped                   []uint8
	eventID, inputID         []string
	kind, spiffID, fromRepID [][]string
	bandFrom, rate           [][]*decimal.Decimal
	level                    [][]uint8
	amount                   [][]decimal.Decimal
	partEventID              [][]string
	kafka                    kafkaCols
}

type accrualRow struct {
	accrualID, programID, period, repID, currency, eventID, inputID string
	programVersion                                                  uint32
	delta, earned                                                   decimal.Decimal
	capped                                                          uint8
	kind, spiffID, fromRepID                                        []string
	bandFrom, rate                                                  []*decimal.Decimal
	level                                                           []uint8
	amount                                                          []decimal.Decimal
	// partEventID is each part's source event: its own event_id (an
	// override accrual that sums several reports' contributions), else
	// the accrual's.
	partEventID []string
}

func (r *accrualRows) decode(v *fastjson.Value) (accrualRow, error) {
	var a accrualRow
	o, err := v.Object()
	if err != nil {
		return a, errors.New("accrual: want a JSON object")
	}
	var ferr error
	var hasDelta, hasEarned bool
	o.Visit(func(k []byte, v *fastjson.Value) {
		if ferr != nil {
			return
		}
		switch string(k) {
		case "accrual_id":
			a.accrualID, ferr = str(v, nil)
		case "program_id":
			a.programID, ferr = str(v, r.in)
		case "program_version":
			var n uint64
			n, ferr = integer("program_version", v, 1<<32-1)
			a.programVersion = uint32(n)
		case "period":
			a.period, ferr = str(v, r.in)
		case "rep_id":
			a.repID, ferr = str(v, nil)
		case "currency":
			a.currency, ferr = str(v, r.in)
		case "delta":
			a.delta, ferr = decimalField("delta", v, moneyScale, moneyPrecision)
			hasDelta = ferr == nil
		case "earned":
			a.earned, ferr = decimalField("earned", v, moneyScale, moneyPrecision)
			hasEarned = ferr == nil
		case "capped":
			a.capped, ferr = boolean("capped", v)
		case "event_id":
			a.eventID, ferr = str(v, nil)
		case "input_id":
			a.inputID, ferr = str(v, nil)
		case "trace":
			ferr = a.decodeTrace(v, r.in)
			return
		}
		if ferr == errNotString {
			ferr = fmt.Errorf("%s: %w", k, ferr)
		}
	})
	switch {
	case ferr != nil:
		return a, ferr
	case a.accrualID == "":
		return a, errors.New("accrual_id is missing")
	case a.programID == "" || a.period == "" || a.repID == "":
		return a, errors.New("program_id, period and rep_id are required")
	case !hasDelta || !hasEarned:
		return a, errors.New("delta and earned are required")
	}
	for i, e := range a.partEventID {
		if e == "" {
			a.partEventID[i] = a.eventID
		}
	}
	return a, nil
}

func (a *accrualRow) decodeTrace(v *fastjson.Value, in interner) error {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	parts, err := v.Array()
	if err != nil {
		return errors.New("trace: want an array")
	}
	for i, p := range parts {
		name := func(f string) string { return fmt.Sprintf("trace[%d].%s", i, f) }
		kind, err := str(get(p, "kind"), in)
		if err != nil {
			return fmt.Errorf("%s: %w", name("kind"), err)
		}
		spiff, err := str(get(p, "spiff_id"), in)
		if err != nil {
			return fmt.Errorf("%s: %w", name("spiff_id"), err)
		}
		from, err := str(get(p, "from_rep_id"), nil)
		if err != nil {
			return fmt.Errorf("%s: %w", name("from_rep_id"), err)
		}
		event, err := str(get(p, "event_id"), nil)
		if err != nil {
			return fmt.Errorf("%s: %w", name("event_id"), err)
		}
		var level uint64
		if l := p.Get("level"); l != nil {
			if level, err = integer(name("level"), l, 255); err != nil {
				return err
			}
		}
		band, err := nullable(name("band_from"), p.Get("band_from"), shareScale, sharePrecision, roundedField)
		if err != nil {
			return err
		}
		rate, err := nullable(name("rate"), p.Get("rate"), shareScale, sharePrecision, roundedField)
		if err != nil {
			return err
		}
		amount, err := roundedField(name("amount"), get(p, "amount"), shareScale, sharePrecision)
		if err != nil {
			return err
		}
		a.kind = append(a.kind, kind)
		a.spiffID = append(a.spiffID, spiff)
		a.fromRepID = append(a.fromRepID, from)
		a.level = append(a.level, uint8(level))
		a.bandFrom = append(a.bandFrom, band)
		a.rate = append(a.rate, rate)
		a.amount = append(a.amount, amount)
		a.partEventID = append(a.partEventID, event)
	}
	return nil
}

func (r *accrualRows) Add(rec *kgo.Record) error {
	v, err := r.p.ParseBytes(rec.Value)
	if err != nil {
		return err
	}
	a, err := r.decode(v)
	if err != nil {
		return err
	}
	r.accrualID = append(r.accrualID, a.accrualID)
	r.programID = append(r.programID, a.programID)
	r.programVersion = append(r.programVersion, a.programVersion)
	r.period = append(r.period, a.period)
	r.repID = append(r.repID, a.repID)
	r.currency = append(r.currency, a.currency)
	r.delta = append(r.delta, a.delta)
	r.earned = append(r.earned, a.earned)
	r.capped = append(r.capped, a.capped)
	r.eventID = append(r.eventID, a.eventID)
	r.inputID = append(r.inputID, a.inputID)
	r.kind = append(r.kind, a.kind)
	r.bandFrom = append(r.bandFrom, a.bandFrom)
	r.rate = append(r.rate, a.rate)
	r.spiffID = append(r.spiffID, a.spiffID)
	r.level = append(r.level, a.level)
	r.fromRepID = append(r.fromRepID, a.fromRepID)
	r.amount = append(r.amount, a.amount)
	r.partEventID = append(r.partEventID, a.partEventID)
	r.kafka.add(rec)
	return nil
}

func (r *accrualRows) Len() int { return len(r.accrualID) }

func (r *accrualRows) Columns() []any {
	return append([]any{
		r.accrualID, r.programID, r.programVersion, r.period, r.repID, r.currency,
		r.delta, r.earned, r.capped, r.eventID, r.inputID,
		r.kind, r.bandFrom, r.rate, r.spiffID, r.level, r.fromRepID, r.amount, r.partEventID,
	}, r.kafka.columns()...)
}

func (r *accrualRows) Reset() {
	clear(r.kind)
	clear(r.bandFrom)
	clear(r.rate)
	clear(r.spiffID)
	clear(r.level)
	clear(r.fromRepID)
	clear(r.amount)
	clear(r.partEventID)
	r.accrualID, r.programID, r.programVersion = r.accrualID[:0], r.programID[:0], r.programVersion[:0]
	r.period, r.repID, r.currency = r.period[:0], r.repID[:0], r.currency[:0]
	r.delta, r.earned, r.capped = r.delta[:0], r.earned[:0], r.capped[:0]
	r.eventID, r.inputID = r.eventID[:0], r.inputID[:0]
	r.kind, r.bandFrom, r.rate, r.spiffID = r.kind[:0], r.bandFrom[:0], r.rate[:0], r.spiffID[:0]
	r.level, r.fromRepID, r.amount, r.partEventID = r.level[:0], r.fromRepID[:0], r.amount[:0], r.partEventID[:0]
	r.kafka.reset()
}
