package mapping

import (
	"encoding/json"
	"fmt"
	"strings"
	"unsafe"

	"github.com/accrue/accrue/pipeline"
	"github.com/valyala/fastjson"
)

// JSON records are parsed with fastjson into a reusable tree and only the
// mapped paths are read from it: decoding every record into map[string]any
// with encoding/json was the largest item of the ingest stage's CPU profile
// (see benchmarks/README.md).

var parsers fastjson.ParserPool

// jsonObject is a JSON record parsed by fastjson. It is valid until its
// parser parses again: mapRecord reads it and copies what it keeps.
type jsonObject struct{ v *fastjson.Value }

// borrowed implements record: text returns strings inside the parser's
// buffer, which the next record overwrites.
func (jsonObject) borrowed() bool { return true }

// parseObject parses raw, which must hold exactly one JSON object.
// fastjson's parser lets a control character through inside a string,
// which JSON does not allow: a record holding one is validated first, and
// refused for it.
func parseObject(p *fastjson.Parser, raw []byte) (jsonObject, error) {
	if hasControl(raw) {
		if err := fastjson.ValidateBytes(raw); err != nil {
			return jsonObject{}, err
		}
	}
	v, err := p.ParseBytes(raw)
	if err != nil {
		return jsonObject{}, err
	}
	if v.Type() != fastjson.TypeObject {
		return jsonObject{}, fmt.Errorf("want a JSON object, got %s", fjKind(v))
	}
	return jsonObject{v: v}, nil
}

// hasControl reports whether b holds a byte below 0x20 (whitespace
// between tokens included).
func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

func fjKind(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeNull:
		return "null"
	case fastjson.TypeArray:
		return "an array"
	case fastjson.TypeString:
		return "a string"
	case fastjson.TypeNumber:
		return "a number"
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return "a boolean"
	}
	return "an object"
}

// lookup follows r and returns the value as the mapper's generic form:
// string, json.Number (the number's exact text), bool, nil, or, for objects
// and arrays (splits, error messages), map[string]any and []any. Of a key
// repeated in one object, the first is read (JSON leaves duplicates to the
// reader; encoding/json would take the last).
func (o jsonObject) lookup(r *ref) (any, bool) {
	v := o.find(r)
	if v == nil {
		return nil, false
	}
	return generic(v), true
}

// text implements record.text without converting scalars to interfaces.
// A string it returns aliases the parser's buffer (see borrowed): mapping
// reads a dozen of them a record and keeps half, which event copies into
// one allocation.
func (o jsonObject) text(r *ref) (string, bool, bool, any) {
	v := o.find(r)
	if v == nil {
		return "", false, true, nil
	}
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return strings.TrimSpace(unsafe.String(unsafe.SliceData(b), len(b))), true, true, nil
	case fastjson.TypeNumber:
		b := v.MarshalTo(nil) // a number's exact text, in bytes of its own
		return unsafe.String(unsafe.SliceData(b), len(b)), true, true, nil
	case fastjson.TypeTrue:
		return "true", true, true, nil
	case fastjson.TypeFalse:
		return "false", true, true, nil
	case fastjson.TypeNull:
		return "", true, true, nil
	}
	return "", true, false, generic(v)
}

// jsonError shortens fastjson's parse error: it names every enclosing
// object and array on the way to the problem ("cannot parse object: cannot
// parse object value: ..."), which for a record nested 300 deep is a
// message of 15 KB. It keeps the problem itself, with how deep it was.
func jsonError(err error) error {
	msg := err.Error()
	rest, _ := strings.CutPrefix(msg, "cannot parse JSON: ")
	depth := 0
	for {
		var cut bool
		for _, p := range [...]string{"cannot parse object: cannot parse object value: ", "cannot parse array: cannot parse array value: "} {
			if r, ok := strings.CutPrefix(rest, p); ok {
				rest, cut = r, true
				depth++
			}
		}
		if !cut {
			break
		}
	}
	if depth < 2 {
		return err
	}
	return &jsonSyntaxError{msg: fmt.Sprintf("cannot parse JSON, %d levels deep: %s", depth, rest), err: err}
}

// jsonSyntaxError is a shortened parse error; Unwrap gives the original.
type jsonSyntaxError struct {
	msg string
	err error
}

func (e *jsonSyntaxError) Error() string { return e.msg }
func (e *jsonSyntaxError) Unwrap() error { return e.err }

// duplicateKey refuses a record where a key on a mapped path appears more
// than once in its object: JSON leaves duplicates to the reader, readers
// differ (this one takes the first, encoding/json the last), and a record
// that means different things to different readers is refused rather than
// read one way. Keys elsewhere in the record are not looked at.
func (m *Mapper) duplicateKey(o jsonObject) *pipeline.Reject {
	for _, r := range m.jsonRefs {
		v := o.v
		for i, s := range r.segs {
			if s.key == "" {
				arr, err := v.Array()
				if err != nil || s.index >= len(arr) {
					break
				}
				v = arr[s.index]
				continue
			}
			obj, err := v.Object()
			if err != nil {
				break
			}
			if n := countKey(obj, s.key); n > 1 {
				return pipeline.Rejectf(ReasonMalformedJSON, r.raw, "key %q of source path %q appears %d times in its object; which one is meant is not clear",
					s.key, pathPrefix(r, i), n)
			}
			if v = obj.Get(s.key); v == nil {
				break
			}
		}
	}
	return nil
}

// countKey counts the members of obj named key.
func countKey(obj *fastjson.Object, key string) int {
	n := 0
	obj.Visit(func(k []byte, _ *fastjson.Value) {
		if string(k) == key {
			n++
		}
	})
	return n
}

// pathPrefix is r's path up to and including segment i.
func pathPrefix(r *ref, i int) string {
	var b strings.Builder
	for j, s := range r.segs[:i+1] {
		if s.key == "" {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		if j > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}

// find follows r; nil when a step is missing or of the wrong kind.
func (o jsonObject) find(r *ref) *fastjson.Value {
	v := o.v
	for _, s := range r.segs {
		if s.key != "" {
			if v.Type() != fastjson.TypeObject {
				return nil
			}
			if v = v.Get(s.key); v == nil {
				return nil
			}
			continue
		}
		if v.Type() != fastjson.TypeArray {
			return nil
		}
		arr, _ := v.Array()
		if s.index >= len(arr) {
			return nil
		}
		v = arr[s.index]
	}
	return v
}

func generic(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return string(b)
	case fastjson.TypeNumber:
		return json.Number(v.MarshalTo(nil))
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeArray:
		arr, _ := v.Array()
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = generic(e)
		}
		return out
	}
	obj, _ := v.Object()
	out := make(map[string]any, obj.Len())
	obj.Visit(func(k []byte, e *fastjson.Value) { out[string(k)] = generic(e) })
	return out
}
