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
func decodeEvent(v *fastjson.Value, in interner) (event, error) {
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
			e.eventID, ferr = str(v, nil)
		case "source":
			e.source, ferr = str(v, in)
		case "txn_id":
			e.txnID, ferr = str(v, nil)
		case "type":
			e.typ, ferr = str(v, in)
		case "ref_txn_id":
			e.refTxnID, ferr = str(v, nil)
		case "rep_id":
			e.repID, ferr = str(v, nil)
		case "account_id":
			e.accountID, ferr = str(v, nil)
		case "product_id":
			e.productID, ferr = str(v, nil)
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
					e.quantity = &q
				}
			}
		case "amount":
			e.amount, e.currency, ferr = money("amount", v, in)
			hasAmount = ferr == nil
		case "margin":
			if v.Type() != fastjson.TypeNull {
				var m decimal.Decimal
				if m, e.marginCurrency, ferr = money("margin", v, in); ferr == nil {
					e.margin = &m
				}
			}
		case "splits":
			ferr = e.decodeSplits(v)
		case "attributes":
			ferr = e.decodeAttributes(v)
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

// str reads a string field; null is "". With in, the string is interned.
func str(v *fastjson.Value, in interner) (string, error) {
	if v.Type() == fastjson.TypeNull {
		return "", nil
	}
	b, err := v.StringBytes()
	if err != nil {
		return "", errNotString
	}
	if in != nil {
		return in.get(b), nil
	}
	return string(b), nil
}

func decimalField(field string, v *fastjson.Value, scale, precision int32) (decimal.Decimal, error) {
	b, err := v.StringBytes()
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%s: want a decimal string", field)
	}
	return parseDecimal(field, b, scale, precision)
}

func money(field string, v *fastjson.Value, in interner) (decimal.Decimal, string, error) {
	if v.Type() != fastjson.TypeObject {
		return decimal.Decimal{}, "", fmt.Errorf("%s: want an object with value and currency", field)
	}
	d, err := decimalField(field+".value", get(v, "value"), moneyScale, moneyPrecision)
	if err != nil {
		return d, "", err
	}
	cur, err := str(get(v, "currency"), in)
	if err != nil {
		return d, "", fmt.Errorf("%s.currency: %w", field, err)
	}
	return d, cur, nil
}

func (e *event) decodeSplits(v *fastjson.Value) error {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	arr, err := v.Array()
	if err != nil {
		return fmt.Errorf("splits: want an array")
	}
	for i, s := range arr {
		rep, err := str(get(s, "rep_id"), nil)
		if err != nil {
			return fmt.Errorf("splits[%d].rep_id: %w", i, err)
		}
		share, err := decimalField(fmt.Sprintf("splits[%d].share", i), get(s, "share"), shareScale, sharePrecision)
		if err != nil {
			return err
		}
		e.splitReps = append(e.splitReps, rep)
		e.splitShares = append(e.splitShares, share)
	}
	return nil
}

func (e *event) decodeAttributes(v *fastjson.Value) error {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	o, err := v.Object()
	if err != nil {
		return fmt.Errorf("attributes: want an object")
	}
	o.Visit(func(k []byte, v *fastjson.Value) {
		if err != nil {
			return
		}
		var s string
		if s, err = str(v, nil); err != nil {
			err = fmt.Errorf("attributes.%s: %w", k, err)
			return
		}
		e.attrKeys = append(e.attrKeys, string(k))
		e.attrValues = append(e.attrValues, s)
	})
	return err
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
func nullable(field string, v *fastjson.Value, scale, precision int32,
	read func(string, *fastjson.Value, int32, int32) (decimal.Decimal, error)) (*decimal.Decimal, error) {
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil, nil
	}
	d, err := read(field, v, scale, precision)
	if err != nil {
		return nil, err
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
