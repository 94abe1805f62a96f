package clickhouse

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/shopspring/decimal"
	"github.com/valyala/fastjson"

	"github.com/accrue/accrue/connectors/canonical"
)

// Records are parsed with fastjson into a reusable tree and read field by
// field into column slices: no reflection and no map per record.

// Decimal columns: money, quantities and shares. A value that does not fit
// its column exactly is refused (the record goes to sink_rejects) rather
// than cut: clickhouse-go truncates extra decimal places silently.
const (
	moneyScale, moneyPrecision = 10, 38
	shareScale, sharePrecision = 18, 38
)

// fit checks that d is exact in Decimal(precision, scale).
func fit(d decimal.Decimal, scale, precision int32) (decimal.Decimal, error) {
	if d.Exponent() < -scale {
		t := d.Truncate(scale)
		if !t.Equal(d) {
			return d, fmt.Errorf("%s has more than %d decimal places", d, scale)
		}
		d = t
	}
	if digits := int32(d.NumDigits()) + d.Exponent() + scale; digits > precision {
		return d, fmt.Errorf("%s does not fit Decimal(%d, %d)", d, precision, scale)
	}
	return d, nil
}

// parseDecimal reads a decimal string field and fits it.
func parseDecimal(field string, b []byte, scale, precision int32) (decimal.Decimal, error) {
	d, err := canonical.ParseDecimal(unsafeString(b))
	if err != nil {
		return d, fmt.Errorf("%s: %w", field, err)
	}
	if d, err = fit(d, scale, precision); err != nil {
		return d, fmt.Errorf("%s: %w", field, err)
	}
	return d, nil
}

// unsafeString views b as a string for parsing only: the result must not
// outlive b (the parser's buffer, reused by the next record).
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// minTime and maxTime bound what a DateTime column holds (1970 to 2105);
// a time outside is refused rather than wrapped.
var (
	minTime = time.Unix(0, 0)
	maxTime = time.Unix(1<<32-1, 0)
)

func parseTime(field string, b []byte) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, unsafeString(b))
	if err != nil {
		return t, fmt.Errorf("%s: %q is not an RFC 3339 time", field, b)
	}
	if t.Before(minTime) || t.After(maxTime) {
		return t, fmt.Errorf("%s: %s is outside what a DateTime column holds (1970 to 2106)", field, b)
	}
	return t.UTC(), nil
}

// stringer turns a field's bytes (the parser's, reused by the next record)
// into a string the rows keep: a copy, an interned string, or a string in
// the batch's arena. A nil stringer copies.
type stringer interface{ get(b []byte) string }

// interner shares the strings of low-cardinality fields (source, type,
// currency) between rows, so that they cost no allocation each. It stops
// growing at a bound, so that a field of unexpectedly many values only
// costs the allocations it would have without it.
type interner map[string]string

const maxInterned = 4096

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) < maxInterned {
		in[s] = s
	}
	return s
}

// event is a canonical sale event as read from its JSON for the columns.
type event struct {
	eventID, source, txnID, typ, refTxnID string
	eventTime                             time.Time
	repID, accountID, productID           string
	quantity                              *decimal.Decimal
	amount                                decimal.Decimal
	currency                              string
	margin                                *decimal.Decimal
	marginCurrency                        string
	splitReps                             []string
	splitShares                           []decimal.Decimal
	attrKeys, attrValues                  []string
}

// decodeEvent reads a canonical event (canonical.Event's JSON) from v. It
// needs what a row cannot do without (identity, time, amount); the contract
// is the stages' business, and sales.clean only carries events that passed
// it.
//
// Strings are made by in (low-cardinality fields) and to (the others), and
// the splits, attributes and optional decimals are taken from m.
func decodeEvent(v *fastjson.Value, in, to stringer, m *eventMem) (event, error) {
	var e event
	o, err := v.Object()
	if err != nil {
		return e, fmt.Errorf("event: want a JSON object")
	}
	var ferr error
	var hasTime, hasAmount bool
	var badKey string
	o.Visit(func(k []byte, v *fastjson.Value) {
		if ferr != nil {
			return
		}
		switch string(k) {
		case "event_id":
			e.eventID, ferr = str(v, to)
		case "source":
			e.source, ferr = str(v, in)
		case "txn_id":
			e.txnID, ferr = str(v, to)
		case "type":
			e.typ, ferr = str(v, in)
		case "ref_txn_id":
			e.refTxnID, ferr = str(v, to)
		case "rep_id":
			e.repID, ferr = str(v, to)
		case "account_id":
			e.accountID, ferr = str(v, to)
		case "product_id":
			e.productID, ferr = str(v, to)
		case "event_time":
			if b, err := v.StringBytes(); err != nil {
				ferr = errNotString
			} else {
				e.eventTime, ferr = parseTime("event_time", b)
				hasTime = ferr == nil
			}
		case "quantity":
			if v.Type() != fastjson.TypeNull {
				var q decimal.Decimal
				if q, ferr = decimalField("quantity", v, moneyScale, moneyPrecision); ferr == nil {
					e.quantity = m.decimal(q)
				}
			}
		case "amount":
			e.amount, e.currency, ferr = money("amount", v, in)
			hasAmount = ferr == nil
		case "margin":
			if v.Type() != fastjson.TypeNull {
				var mg decimal.Decimal
				if mg, e.marginCurrency, ferr = money("margin", v, in); ferr == nil {
					e.margin = m.decimal(mg)
				}
			}
		case "splits":
			ferr = e.decodeSplits(v, to, m)
		case "attributes":
			ferr = e.decodeAttributes(v, to, m)
		}
		if ferr != nil {
			badKey = string(k)
		}
	})
	switch {
	case ferr == errNotString:
		return e, fmt.Errorf("%s: %w", badKey, ferr)
	case ferr != nil:
		return e, ferr
	case !hasTime:
		return e, fmt.Errorf("event_time is missing")
	case !hasAmount:
		return e, fmt.Errorf("amount is missing")
	case e.eventID == "" && (e.source == "" || e.txnID == "" || e.typ == ""):
		return e, fmt.Errorf("event has no event_id and no source, txn_id and type to make one")
	case e.eventID == "":
		e.eventID = canonical.DefaultEventID(e.source, e.txnID, canonical.Type(e.typ))
	}
	return e, nil
}

// str reads a string field; null is "". The string is made by to (a copy
// when nil).
func str(v *fastjson.Value, to stringer) (string, error) {
	if v.Type() == fastjson.TypeNull {
		return "", nil
	}
	b, err := v.StringBytes()
	if err != nil {
		return "", errNotString
	}
	return keep(to, b), nil
}

// keep makes b a string with to, or copies it when to is nil.
func keep(to stringer, b []byte) string {
	if to != nil {
		return to.get(b)
	}
	return string(b)
}

// arena holds the bytes of one batch's strings in large chunks, so that a
// record's strings cost no allocation each. Its strings are valid until
// reset, which Rows call only once their batch was written (clickhouse-go
// copies strings into its own buffers when columns are appended).
type arena struct {
	cur  []byte
	used [][]byte // full chunks of this batch
	free [][]byte // chunks of earlier batches, for reuse
}

const arenaChunk = 256 << 10

func (a *arena) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > cap(a.cur)-len(a.cur) {
		if a.cur != nil {
			a.used = append(a.used, a.cur)
		}
		if n := len(a.free); n > 0 && len(b) <= cap(a.free[n-1]) {
			a.cur, a.free = a.free[n-1][:0], a.free[:n-1]
		} else {
			a.cur = make([]byte, 0, max(arenaChunk, len(b)))
		}
	}
	start := len(a.cur)
	a.cur = append(a.cur, b...)
	return unsafe.String(&a.cur[start], len(b))
}

func (a *arena) reset() {
	for _, c := range a.used {
		a.free = append(a.free, c[:0])
	}
	a.used = a.used[:0]
	a.cur = a.cur[:0]
}

// slab hands out values and short slices of T from large chunks, for the
// same reason and with the same lifetime as arena.
type slab[T any] struct {
	cur        []T
	used, free [][]T
}

const slabChunk = 4096

// take returns a slice of n zero values, valid until reset.
func (s *slab[T]) take(n int) []T {
	if n > cap(s.cur)-len(s.cur) {
		if s.cur != nil {
			s.used = append(s.used, s.cur)
		}
		if k := len(s.free); k > 0 && n <= cap(s.free[k-1]) {
			s.cur, s.free = s.free[k-1][:0], s.free[:k-1]
		} else {
			s.cur = make([]T, 0, max(slabChunk, n))
		}
	}
	start := len(s.cur)
	var zero T
	for range n {
		s.cur = append(s.cur, zero)
	}
	return s.cur[start : start+n : start+n]
}

// put stores v in the slab and returns where, valid until reset.
func (s *slab[T]) put(v T) *T {
	p := &s.take(1)[0]
	*p = v
	return p
}

func (s *slab[T]) reset() {
	for _, c := range s.used {
		clear(c)
		s.free = append(s.free, c[:0])
	}
	clear(s.cur)
	s.used = s.used[:0]
	s.cur = s.cur[:0]
}

func decimalField(field string, v *fastjson.Value, scale, precision int32) (decimal.Decimal, error) {
	b, err := v.StringBytes()
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%s: want a decimal string", field)
	}
	return parseDecimal(field, b, scale, precision)
}

// money reads {"value": "…", "currency": "…"}; field is "amount" or
// "margin" (constant names, so that no error name is built per record).
func money(field string, v *fastjson.Value, in stringer) (decimal.Decimal, string, error) {
	valueName, currencyName := "amount.value", "amount.currency"
	if field == "margin" {
		valueName, currencyName = "margin.value", "margin.currency"
	}
	if v.Type() != fastjson.TypeObject {
		return decimal.Decimal{}, "", fmt.Errorf("%s: want an object with value and currency", field)
	}
	d, err := decimalField(valueName, get(v, "value"), moneyScale, moneyPrecision)
	if err != nil {
		return d, "", err
	}
	cur, err := str(get(v, "currency"), in)
	if err != nil {
		return d, "", fmt.Errorf("%s: %w", currencyName, err)
	}
	return d, cur, nil
}

func (e *event) decodeSplits(v *fastjson.Value, to stringer, m *eventMem) error {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	arr, err := v.Array()
	if err != nil {
		return fmt.Errorf("splits: want an array")
	}
	if len(arr) == 0 {
		return nil
	}
	reps, shares := m.strings(len(arr)), m.decimals(len(arr))
	for i, s := range arr {
		if reps[i], err = str(get(s, "rep_id"), to); err != nil {
			return fmt.Errorf("splits[%d].rep_id: %w", i, err)
		}
		if shares[i], err = decimalField("share", get(s, "share"), shareScale, sharePrecision); err != nil {
			return fmt.Errorf("splits[%d].%w", i, err)
		}
	}
	e.splitReps, e.splitShares = reps, shares
	return nil
}

func (e *event) decodeAttributes(v *fastjson.Value, to stringer, m *eventMem) error {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	o, err := v.Object()
	if err != nil {
		return fmt.Errorf("attributes: want an object")
	}
	n := o.Len()
	if n == 0 {
		return nil
	}
	keys, values := m.strings(n), m.strings(n)
	i := 0
	o.Visit(func(k []byte, v *fastjson.Value) {
		if err != nil {
			return
		}
		if values[i], err = str(v, to); err != nil {
			err = fmt.Errorf("attributes.%s: %w", k, err)
			return
		}
		keys[i] = keep(to, k)
		i++
	})
	e.attrKeys, e.attrValues = keys, values
	return err
}

// eventMem supplies the slices and optional decimals of decoded events:
// from slabs that live as long as the batch, or, with nil slabs, freshly
// allocated.
type eventMem struct {
	strs *slab[string]
	decs *slab[decimal.Decimal]
}

func (m *eventMem) strings(n int) []string {
	if m == nil || m.strs == nil {
		return make([]string, n)
	}
	return m.strs.take(n)
}

func (m *eventMem) decimals(n int) []decimal.Decimal {
	if m == nil || m.decs == nil {
		return make([]decimal.Decimal, n)
	}
	return m.decs.take(n)
}

func (m *eventMem) decimal(d decimal.Decimal) *decimal.Decimal {
	if m == nil || m.decs == nil {
		return &d
	}
	return m.decs.put(d)
}

// errNotString is the error of a field that should be a string.
var errNotString = errors.New("want a JSON string")

// null stands for a field that is absent, so that the readers report what
// they wanted rather than dereference nil.
var null = fastjson.MustParse("null")

func get(v *fastjson.Value, key string) *fastjson.Value {
	if f := v.Get(key); f != nil {
		return f
	}
	return null
}

// roundedField reads a decimal string that explains a figure rather than
// being money (a quota, an attainment, a band, a rate, an exact part of a
// commission): beyond the column's scale it is rounded half-even, since no
// sum of money is made from it. It must still fit the column's precision.
func roundedField(field string, v *fastjson.Value, scale, precision int32) (decimal.Decimal, error) {
	b, err := v.StringBytes()
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%s: want a decimal string", field)
	}
	d, err := canonical.ParseDecimal(unsafeString(b))
	if err != nil {
		return d, fmt.Errorf("%s: %w", field, err)
	}
	if d.Exponent() < -scale {
		d = d.RoundBank(scale)
	}
	if d, err = fit(d, scale, precision); err != nil {
		return d, fmt.Errorf("%s: %w", field, err)
	}
	return d, nil
}

// nullable reads an optional decimal with read: null or absent is nil.
// The value is kept in into when it is given, else allocated.
func nullable(field string, v *fastjson.Value, scale, precision int32,
	read func(string, *fastjson.Value, int32, int32) (decimal.Decimal, error), into *slab[decimal.Decimal]) (*decimal.Decimal, error) {
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil, nil
	}
	d, err := read(field, v, scale, precision)
	if err != nil {
		return nil, err
	}
	if into != nil {
		return into.put(d), nil
	}
	return &d, nil
}

// integer reads a JSON number that must be a whole number in [0, max].
func integer(field string, v *fastjson.Value, max uint64) (uint64, error) {
	n, err := v.Uint64()
	if err != nil || n > max {
		return 0, fmt.Errorf("%s: want a whole number from 0 to %d", field, max)
	}
	return n, nil
}

func boolean(field string, v *fastjson.Value) (uint8, error) {
	switch v.Type() {
	case fastjson.TypeTrue:
		return 1, nil
	case fastjson.TypeFalse:
		return 0, nil
	}
	return 0, fmt.Errorf("%s: want true or false", field)
}
