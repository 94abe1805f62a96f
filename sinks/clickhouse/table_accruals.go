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
	// The batch's strings and the trace's slices live in these until
	// Reset, so that a record costs few allocations of its own.
	arena arena
	mem   traceMem

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

// traceMem hands out the slices of decoded traces from slabs that live as
// long as the batch, and keeps the trace's rates and band bounds by their
// text: they repeat from row to row, so most are parsed once.
type traceMem struct {
	strs slab[string]
	decs slab[decimal.Decimal]
	ptrs slab[*decimal.Decimal]
	u8s  slab[uint8]
	seen map[string]decimal.Decimal
}

// maxSeenDecimals bounds traceMem.seen; it starts again when full.
const maxSeenDecimals = 4096

// decimal reads a rate or band bound (roundedField at the share scale)
// and remembers it by its text.
func (m *traceMem) decimal(field string, v *fastjson.Value) (decimal.Decimal, error) {
	b, err := v.StringBytes()
	if err == nil {
		if d, ok := m.seen[string(b)]; ok {
			return d, nil
		}
	}
	d, err := roundedField(field, v, shareScale, sharePrecision)
	if err == nil {
		if m.seen == nil || len(m.seen) >= maxSeenDecimals {
			m.seen = make(map[string]decimal.Decimal, 64)
		}
		m.seen[string(b)] = d
	}
	return d, err
}

func (m *traceMem) reset() {
	m.strs.reset()
	m.decs.reset()
	m.ptrs.reset()
	m.u8s.reset()
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
			a.accrualID, ferr = str(v, &r.arena)
		case "program_id":
			a.programID, ferr = str(v, r.in)
		case "program_version":
			var n uint64
			n, ferr = integer("program_version", v, 1<<32-1)
			a.programVersion = uint32(n)
		case "period":
			a.period, ferr = str(v, r.in)
		case "rep_id":
			a.repID, ferr = str(v, &r.arena)
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
			a.eventID, ferr = str(v, &r.arena)
		case "input_id":
			a.inputID, ferr = str(v, &r.arena)
		case "trace":
			ferr = a.decodeTrace(v, r.in, &r.arena, &r.mem)
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

func (a *accrualRow) decodeTrace(v *fastjson.Value, in, to stringer, m *traceMem) error {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	parts, err := v.Array()
	if err != nil {
		return errors.New("trace: want an array")
	}
	n := len(parts)
	if n == 0 {
		return nil
	}
	a.kind, a.spiffID, a.fromRepID, a.partEventID = m.strs.take(n), m.strs.take(n), m.strs.take(n), m.strs.take(n)
	a.bandFrom, a.rate = m.ptrs.take(n), m.ptrs.take(n)
	a.level, a.amount = m.u8s.take(n), m.decs.take(n)
	for i, p := range parts {
		// Field names are constants and the part's index is added only to
		// an error, so that a good part builds no string.
		field := ""
		if a.kind[i], err = str(get(p, "kind"), in); err != nil {
			field = "kind"
		} else if a.spiffID[i], err = str(get(p, "spiff_id"), in); err != nil {
			field = "spiff_id"
		} else if a.fromRepID[i], err = str(get(p, "from_rep_id"), to); err != nil {
			field = "from_rep_id"
		} else if a.partEventID[i], err = str(get(p, "event_id"), to); err != nil {
			field = "event_id"
		}
		if err != nil {
			return fmt.Errorf("trace[%d].%s: %w", i, field, err)
		}
		if l := p.Get("level"); l != nil {
			level, err := integer("level", l, 255)
			if err != nil {
				return fmt.Errorf("trace[%d].%w", i, err)
			}
			a.level[i] = uint8(level)
		}
		for _, f := range [...]struct {
			name string
			to   **decimal.Decimal
		}{{"band_from", &a.bandFrom[i]}, {"rate", &a.rate[i]}} {
			fv := p.Get(f.name)
			if fv == nil || fv.Type() == fastjson.TypeNull {
				continue
			}
			d, err := m.decimal(f.name, fv)
			if err != nil {
				return fmt.Errorf("trace[%d].%w", i, err)
			}
			*f.to = m.decs.put(d)
		}
		if a.amount[i], err = roundedField("amount", get(p, "amount"), shareScale, sharePrecision); err != nil {
			return fmt.Errorf("trace[%d].%w", i, err)
		}
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
	r.arena.reset()
	r.mem.reset()
}
