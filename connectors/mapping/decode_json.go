package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/accrue/accrue/pipeline"
)

// lines turns increasing byte offsets into 1-based line numbers.
type lines struct {
	b    []byte
	off  int
	line int
}

func newLines(b []byte) lines { return lines{b: b, line: 1} }

func (l *lines) at(off int) int {
	if off < l.off { // not expected; recount
		l.off, l.line = 0, 1
	}
	if off > len(l.b) {
		off = len(l.b)
	}
	l.line += bytes.Count(l.b[l.off:off], []byte{'\n'})
	l.off = off
	return l.line
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func trimRightSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// jsonRecords finds the records of a JSON payload and calls each with its
// offset and bytes: the elements of a top-level array, the one value of a
// payload holding one, or else every non-blank line (NDJSON). A broken
// array ends in one record holding the rest of the payload, since nothing
// after a syntax error can be framed reliably.
func jsonRecords(payload []byte, each func(off int, raw []byte)) {
	start := skipSpace(payload, 0)
	if start == len(payload) {
		return
	}
	body := trimRightSpace(payload[start:])
	if json.Valid(body) {
		if body[0] != '[' {
			each(start, body)
			return
		}
		arrayRecords(payload, start, each)
		return
	}
	if payload[start] == '[' {
		arrayRecords(payload, start, each)
		return
	}
	for off := 0; off < len(payload); {
		end := bytes.IndexByte(payload[off:], '\n')
		next := len(payload)
		if end >= 0 {
			next = off + end + 1
			end = off + end
		} else {
			end = len(payload)
		}
		s := skipSpace(payload[:end], off)
		if line := trimRightSpace(payload[s:end]); len(line) > 0 {
			each(s, line)
		}
		off = next
	}
}

// arrayRecords walks the elements of the array starting at payload[start].
func arrayRecords(payload []byte, start int, each func(off int, raw []byte)) {
	d := json.NewDecoder(bytes.NewReader(payload[start:]))
	if _, err := d.Token(); err != nil { // '['
		each(start, trimRightSpace(payload[start:]))
		return
	}
	for d.More() {
		pos := int(d.InputOffset())
		// the next element starts after whitespace and a comma
		for i := start + pos; i < len(payload); i++ {
			if c := payload[i]; !isSpace(c) && c != ',' {
				pos = i - start
				break
			}
		}
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			each(start+pos, trimRightSpace(payload[start+pos:]))
			return
		}
		each(start+pos, payload[start+pos:start+int(d.InputOffset())])
	}
	if _, err := d.Token(); err != nil { // ']'
		rest := skipSpace(payload, start+int(d.InputOffset()))
		if rest < len(payload) {
			each(rest, trimRightSpace(payload[rest:]))
		}
	}
}

func (m *Mapper) mapJSON(r *Reuse, payload []byte, visit func(Outcome)) {
	var fast func(o Outcome) bool
	if m.trie != nil {
		sc := m.trie.pool.Get().(*jsonScan)
		defer m.trie.put(sc)
		fast = func(o Outcome) bool {
			if !sc.scan(o.Raw) {
				return false
			}
			m.mapRecord(r, sc, &o)
			visit(o)
			return true
		}
	}
	eachObject(payload, fast, func(o Outcome, obj jsonObject, err error) {
		if err != nil {
			o.Reject = &pipeline.Reject{Reason: ReasonMalformedJSON, Err: fmt.Errorf("line %d: %w", o.Line, jsonError(err))}
		} else {
			m.mapRecord(r, obj, &o)
		}
		visit(o)
	})
}

// eachObject frames the JSON records of payload and parses each with a
// pooled fastjson parser; fn sees the record's outcome (place and bytes
// filled in) and either its object or why it is not one. The common case,
// one object per payload (a Kafka record, a webhook), is parsed once rather
// than validated first and framed. fast, when not nil, is offered each
// record first; where it returns true it has handled the record.
func eachObject(payload []byte, fast func(o Outcome) bool, fn func(o Outcome, obj jsonObject, err error)) {
	ln := newLines(payload)
	if start := skipSpace(payload, 0); start < len(payload) && payload[start] == '{' {
		raw := trimRightSpace(payload[start:])
		o := Outcome{Line: ln.at(start), Offset: int64(start), Raw: raw}
		if fast != nil && fast(o) {
			return
		}
		p := parsers.Get()
		obj, err := parseObject(p, raw)
		if err == nil {
			fn(o, obj, nil)
			parsers.Put(p)
			return
		}
		parsers.Put(p)
	}
	p := parsers.Get()
	defer parsers.Put(p)
	jsonRecords(payload, func(off int, raw []byte) {
		o := Outcome{Line: ln.at(off), Offset: int64(off), Raw: raw}
		if fast != nil && fast(o) {
			return
		}
		obj, err := parseObject(p, raw)
		fn(o, obj, err)
	})
}
