package mapping

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// ref is a compiled source path. For CSV it is a column name (raw); for
// JSON and Debezium, keys and array indexes walked from the record's root.
type ref struct {
	raw  string
	segs []seg
	// slot is where the one-pass JSON reader notes the value (see
	// scan_json.go).
	slot int
}

// seg is one step: a key, or an array index when key is empty.
type seg struct {
	key   string
	index int
}

// compilePath reads "a.b[2].c". Keys are non-empty and hold no '.', '[' or
// ']'; indexes are non-negative integers.
func compilePath(p string) (ref, error) {
	r := ref{raw: p}
	if p == "" {
		return r, fmt.Errorf("empty path")
	}
	for i, part := range strings.Split(p, ".") {
		key, rest, _ := strings.Cut(part, "[")
		if key == "" {
			return r, fmt.Errorf("path %q: part %d has no key", p, i+1)
		}
		if strings.ContainsAny(key, "]") {
			return r, fmt.Errorf("path %q: stray ']'", p)
		}
		r.segs = append(r.segs, seg{key: key})
		if rest == "" && !strings.Contains(part, "[") {
			continue
		}
		rest = "[" + rest
		for rest != "" {
			if rest[0] != '[' {
				return r, fmt.Errorf("path %q: want '[' after ']'", p)
			}
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return r, fmt.Errorf("path %q: unclosed '['", p)
			}
			n, err := strconv.Atoi(rest[1:end])
			if err != nil || n < 0 {
				return r, fmt.Errorf("path %q: %q is not an array index", p, rest[1:end])
			}
			r.segs = append(r.segs, seg{index: n})
			rest = rest[end+1:]
		}
	}
	return r, nil
}

// walk follows r from v. It returns false where a step is missing; a step
// of the wrong kind (a key into a list) also counts as missing.
func (r *ref) walk(v any) (any, bool) {
	for _, s := range r.segs {
		if s.key != "" {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[s.key]; !ok {
				return nil, false
			}
			continue
		}
		a, ok := v.([]any)
		if !ok || s.index >= len(a) {
			return nil, false
		}
		v = a[s.index]
	}
	return v, true
}

// record is one decoded source record.
type record interface {
	lookup(r *ref) (any, bool)
	// text is lookup followed by scalar, without boxing the value: found
	// reports whether the path exists, isScalar whether its value is one
	// (v holds the value only when it is not, for messages).
	text(r *ref) (s string, found, isScalar bool, v any)
	// borrowed reports whether the strings text returns are only valid
	// while the record is being mapped (they alias a parse buffer).
	borrowed() bool
}

// row is a CSV record: cells by column index.
type row struct {
	cells []string
	cols  map[string]int
}

func (w row) text(r *ref) (string, bool, bool, any) {
	i, ok := w.cols[r.raw]
	if !ok || i >= len(w.cells) {
		return "", false, true, nil
	}
	return strings.TrimSpace(w.cells[i]), true, true, nil
}

// borrowed implements record: encoding/csv gives each row strings of its own.
func (row) borrowed() bool { return false }

func (w row) lookup(r *ref) (any, bool) {
	i, ok := w.cols[r.raw]
	if !ok || i >= len(w.cells) {
		return nil, false
	}
	return w.cells[i], true
}

// scalar returns the text of a scalar value, trimmed. A nil (JSON null) is
// empty; objects and arrays are not scalars.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return strings.TrimSpace(x), true
	case json.Number:
		return string(x), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}
