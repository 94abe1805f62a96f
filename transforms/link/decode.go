package link

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"github.com/valyala/fastjson"

	"github.com/accrue/accrue/connectors/canonical"
)

var eventParsers fastjson.ParserPool

// errSlowPath makes DecodeEvent fall back to encoding/json for input it
// would not read the same way.
var errSlowPath = errors.New("read with encoding/json")

// DecodeEvent reads a canonical event as canonical.Event's UnmarshalJSON
// does, several times faster: the linking stage reads every event whole,
// and encoding/json was more than half of its work. Input the fast reader
// would read differently (invalid UTF-8, which encoding/json replaces; a key
// that matches a field only case-insensitively, or one given twice) goes
// through encoding/json. Like UnmarshalJSON, it does not Validate.
func DecodeEvent(b []byte) (*canonical.Event, error) {
	e, err := decodeFast(b)
	if errors.Is(err, errSlowPath) {
		e = new(canonical.Event)
		if err := json.Unmarshal(b, e); err != nil {
			return nil, err
		}
		return e, nil
	}
	return e, err
}

// The top-level fields, by bit, to catch a key given twice.
var eventFields = []string{"event_id", "source", "txn_id", "type", "ref_txn_id", "event_time", "rep_id",
	"account_id", "product_id", "quantity", "amount", "margin", "splits", "attributes"}

func decodeFast(b []byte) (*canonical.Event, error) {
	// fastjson is lenient where encoding/json is strict (escapes, numbers,
	// control characters, "nan"): only JSON that encoding/json accepts is
	// read fast. A canonical event has none of those; when an input has,
	// Valid checks the grammar, still far cheaper than a decode.
	if !utf8.Valid(b) || (!plainJSON(b) && !json.Valid(b)) {
		return nil, errSlowPath
	}
	p := eventParsers.Get()
	defer eventParsers.Put(p)
	v, err := p.ParseBytes(b)
	if err != nil {
		return nil, errSlowPath // encoding/json gives its own message
	}
	o, err := v.Object()
	if err != nil {
		return nil, errSlowPath
	}
	e := &canonical.Event{}
	var seen uint32
	// Every field's JSON type is checked in the first pass, as
	// encoding/json does before UnmarshalJSON looks at any value; the
	// values are read in the second.
	var (
		eventTime, quantity string
		hasQuantity         bool
		amount, margin      rawMoney
		hasMargin           bool
		rawSplits           [][2]string
	)
	var ferr error
	o.Visit(func(key []byte, v *fastjson.Value) {
		if ferr != nil {
			return
		}
		i := fieldIndex(key)
		if i < 0 {
			if foldsToField(key, eventFields) {
				ferr = errSlowPath
			}
			return
		}
		if seen&(1<<i) != 0 {
			ferr = errSlowPath
			return
		}
		seen |= 1 << i
		switch eventFields[i] {
		case "event_id":
			e.EventID, ferr = str(v)
		case "source":
			e.Source, ferr = str(v)
		case "txn_id":
			e.TxnID, ferr = str(v)
		case "type":
			var t string
			t, ferr = str(v)
			e.Type = canonical.Type(t)
		case "ref_txn_id":
			e.RefTxnID, ferr = str(v)
		case "rep_id":
			e.RepID, ferr = str(v)
		case "account_id":
			e.AccountID, ferr = str(v)
		case "product_id":
			e.ProductID, ferr = str(v)
		case "attributes":
			e.Attributes, ferr = attributes(v)
		case "event_time":
			eventTime, ferr = str(v)
		case "quantity":
			if hasQuantity = v.Type() != fastjson.TypeNull; hasQuantity {
				quantity, ferr = str(v)
			}
		case "amount":
			amount, ferr = moneyOf(v)
		case "margin":
			if hasMargin = v.Type() != fastjson.TypeNull; hasMargin {
				margin, ferr = moneyOf(v)
			}
		case "splits":
			rawSplits, ferr = splitsOf(v)
		}
	})
	if ferr != nil {
		return nil, ferr
	}
	// The values are read in UnmarshalJSON's order, so that an event with
	// several problems is refused for the same one.
	if eventTime != "" {
		ts, err := time.Parse(time.RFC3339Nano, eventTime)
		if err != nil {
			return nil, &canonical.FieldError{Field: "event_time", Err: fmt.Errorf("%q is not an RFC 3339 time", eventTime)}
		}
		e.EventTime = ts.UTC()
	}
	if e.Amount, ferr = amount.money("amount"); ferr != nil {
		return nil, ferr
	}
	if hasMargin {
		m, err := margin.money("margin")
		if err != nil {
			return nil, err
		}
		e.Margin = &m
	}
	if hasQuantity {
		d, err := canonical.ParseDecimal(quantity)
		if err != nil {
			return nil, &canonical.FieldError{Field: "quantity", Err: err}
		}
		e.Quantity = decimal.NewNullDecimal(d)
	}
	for i, sp := range rawSplits {
		sh, err := canonical.ParseDecimal(sp[1])
		if err != nil {
			return nil, &canonical.FieldError{Field: fmt.Sprintf("splits[%d].share", i), Err: err}
		}
		e.Splits = append(e.Splits, canonical.Split{RepID: sp[0], Share: sh})
	}
	if e.EventID == "" {
		e.EventID = canonical.DefaultEventID(e.Source, e.TxnID, e.Type)
	}
	return e, nil
}

func fieldIndex(key []byte) int {
	for i, f := range eventFields {
		if string(key) == f {
			return i
		}
	}
	return -1
}

// foldsToField reports whether key is one of fields but for case, which
// encoding/json would match.
func foldsToField(key []byte, fields []string) bool {
	for _, f := range fields {
		if strings.EqualFold(string(key), f) {
			return true
		}
	}
	return false
}

// str reads a string field; null is "" (as encoding/json leaves a string
// untouched by null), any other type is an error.
func str(v *fastjson.Value) (string, error) {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return string(b), nil
	case fastjson.TypeNull:
		return "", nil
	}
	return "", errSlowPath // a type error: encoding/json words it
}

// rawMoney is {"value": "...", "currency": "..."} before its value is
// read.
type rawMoney struct{ value, currency string }

// moneyOf reads a money object's strings; null is an empty one.
func moneyOf(v *fastjson.Value) (rawMoney, error) {
	var m rawMoney
	if v.Type() == fastjson.TypeNull {
		return m, nil
	}
	o, err := v.Object()
	if err != nil {
		return m, errSlowPath
	}
	err = visitFields(o, []string{"value", "currency"}, func(i int, v *fastjson.Value) (err error) {
		if i == 0 {
			m.value, err = str(v)
		} else {
			m.currency, err = str(v)
		}
		return err
	})
	return m, err
}

// money is the Money of m; an empty value is a missing one.
func (m rawMoney) money(field string) (canonical.Money, error) {
	if m.value == "" {
		return canonical.Money{}, &canonical.FieldError{Field: field + ".value", Err: canonical.ErrMissing}
	}
	d, err := canonical.ParseDecimal(m.value)
	if err != nil {
		return canonical.Money{}, &canonical.FieldError{Field: field + ".value", Err: err}
	}
	return canonical.Money{Value: d, Currency: m.currency}, nil
}

// splitsOf reads the rep and share strings of every split.
func splitsOf(v *fastjson.Value) ([][2]string, error) {
	if v.Type() == fastjson.TypeNull {
		return nil, nil
	}
	a, err := v.Array()
	if err != nil {
		return nil, errSlowPath
	}
	var out [][2]string
	for _, sv := range a {
		o, err := sv.Object()
		if err != nil {
			// null included: encoding/json leaves it a zero split.
			return nil, errSlowPath
		}
		var sp [2]string
		if err := visitFields(o, []string{"rep_id", "share"}, func(i int, v *fastjson.Value) (err error) {
			sp[i], err = str(v)
			return err
		}); err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	return out, nil
}

// visitFields calls fn for every key of o that is one of fields, with its
// index; a key given twice, or one of fields but for case, is left to
// encoding/json.
func visitFields(o *fastjson.Object, fields []string, fn func(i int, v *fastjson.Value) error) error {
	var seen uint8
	var ferr error
	o.Visit(func(key []byte, v *fastjson.Value) {
		if ferr != nil {
			return
		}
		for i, f := range fields {
			if string(key) == f {
				if seen&(1<<i) != 0 {
					ferr = errSlowPath
					return
				}
				seen |= 1 << i
				ferr = fn(i, v)
				return
			}
		}
		if foldsToField(key, fields) {
			ferr = errSlowPath
		}
	})
	return ferr
}

func attributes(v *fastjson.Value) (map[string]string, error) {
	if v.Type() == fastjson.TypeNull {
		return nil, nil
	}
	o, err := v.Object()
	if err != nil {
		return nil, errSlowPath
	}
	m := make(map[string]string, o.Len())
	var ferr error
	o.Visit(func(key []byte, v *fastjson.Value) {
		if ferr == nil {
			m[string(key)], ferr = str(v)
		}
	})
	if ferr != nil {
		return nil, ferr
	}
	return m, nil
}

// plainJSON reports whether b is free of what fastjson reads more leniently
// than encoding/json: it has no backslash, no control character but
// whitespace between tokens, no number, and no bare word but true, false
// and null. Strings then end at the next quote, and fastjson's grammar for
// the rest (objects, arrays, strings, literals) is as strict as
// encoding/json's.
func plainJSON(b []byte) bool {
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			inString = !inString
		case c == '\\':
			return false
		case c < 0x20:
			if inString || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
				return false
			}
		case inString:
		case c == '{' || c == '}' || c == '[' || c == ']' || c == ',' || c == ':' || c == ' ':
		default:
			var word string
			switch c {
			case 't':
				word = "true"
			case 'f':
				word = "false"
			case 'n':
				word = "null"
			default:
				return false
			}
			if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
				return false
			}
			i += len(word) - 1
			if next := i + 1; next < len(b) && (b[next] >= 'a' && b[next] <= 'z' || b[next] >= '0' && b[next] <= '9') {
				return false
			}
		}
	}
	return !inString
}
