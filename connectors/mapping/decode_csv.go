package mapping

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"

	"github.com/accrue/accrue/pipeline"
)

var bom = []byte("\xEF\xBB\xBF")

// mapCSV reads delimited rows. With a header, the payload's first row names
// the columns (a payload is then a whole file); without, csv.columns does
// and every row is a record (a payload may be one line, as from Kafka).
func (m *Mapper) mapCSV(reuse *Reuse, payload []byte, visit func(Outcome)) {
	base := 0
	if bytes.HasPrefix(payload, bom) {
		base = len(bom)
	}
	body := payload[base:]
	r := csv.NewReader(bytes.NewReader(body))
	r.Comma = m.delim
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	ln := newLines(payload)
	cols := m.cols
	if m.header {
		hdr, err := r.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			// Without a header nothing after it can be read: one reject
			// holding the whole payload.
			visit(Outcome{Line: 1, Offset: int64(base), Raw: body,
				Reject: &pipeline.Reject{Reason: ReasonMalformedCSV, Err: fmt.Errorf("header: %w", err)}})
			return
		}
		cols = make(map[string]int, len(hdr))
		for i, h := range hdr {
			h = trimCell(h)
			if _, dup := cols[h]; !dup {
				cols[h] = i
			}
		}
	}
	width := len(cols)
	if !m.header {
		width = len(m.cols)
	}
	for {
		start := int(r.InputOffset())
		// encoding/csv skips blank lines: the record starts at the first
		// byte that is not a line break.
		for start < len(body) && (body[start] == '\n' || body[start] == '\r') {
			start++
		}
		cells, err := r.Read()
		if err == io.EOF {
			return
		}
		end := int(r.InputOffset())
		raw := trimRightNewline(body[start:max(start, end)])
		o := Outcome{Line: ln.at(base + start), Offset: int64(base + start), Raw: raw}
		var pe *csv.ParseError
		switch {
		case err != nil && errors.As(err, &pe):
			o.Reject = &pipeline.Reject{Reason: ReasonMalformedCSV, Err: fmt.Errorf("line %d, column %d: %w", pe.StartLine, pe.Column, pe.Err)}
		case err != nil:
			o.Reject = &pipeline.Reject{Reason: ReasonMalformedCSV, Err: err}
		case len(cells) != width:
			o.Reject = pipeline.Rejectf(ReasonMalformedCSV, "", "line %d: %d cells, the header has %d", o.Line, len(cells), width)
		default:
			m.mapRecord(reuse, row{cells: cells, cols: cols}, &o)
		}
		visit(o)
		if err != nil && end <= start {
			return // no progress: stop rather than loop
		}
	}
}

func trimCell(s string) string { return string(bytes.TrimSpace([]byte(s))) }

func trimRightNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
