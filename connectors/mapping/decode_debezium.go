package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
)

// mapDebezium reads Debezium change events: one envelope per payload (a
// Kafka record value) or one a line, each either wrapped as
// {"schema":…,"payload":{…}} or bare {"before","after","op","source"}.
//
// A row created or read (snapshot) maps by its status like any record. An
// update maps by its new status unless its old status mapped to the same
// type (cdc_no_change), so a row that becomes closed-won is a sale and a row
// that becomes cancelled is a cancel of itself. A delete is a cancel of the
// row, unless its status was ignored or already a cancel. Cancels and
// returns so made take the change's time (source.ts_ms) as event_time.
func (m *Mapper) mapDebezium(payload []byte, visit func(Outcome)) {
	if len(bytes.TrimSpace(payload)) == 0 {
		// A Kafka tombstone (null value) after a delete.
		visit(Outcome{Line: 1, Skip: SkipCDCTombstone, Raw: payload})
		return
	}
	ln := newLines(payload)
	jsonRecords(payload, func(off int, raw []byte) {
		o := Outcome{Line: ln.at(off), Offset: int64(off), Raw: raw}
		if bytes.Equal(raw, []byte("null")) {
			o.Skip = SkipCDCTombstone
			visit(o)
			return
		}
		obj, err := decodeObject(raw)
		if err != nil {
			o.Reject = &pipeline.Reject{Reason: ReasonMalformedJSON, Err: fmt.Errorf("line %d: %w", o.Line, err)}
			visit(o)
			return
		}
		m.mapChange(obj, &o)
		visit(o)
	})
}

func cdcErr(format string, args ...any) *pipeline.Reject {
	return pipeline.Rejectf(ReasonMalformedCDC, "", format, args...)
}

func (m *Mapper) mapChange(env map[string]any, o *Outcome) {
	if p, ok := env["payload"]; ok {
		if _, hasOp := env["op"]; !hasOp {
			if p == nil {
				o.Skip = SkipCDCTombstone
				return
			}
			pm, ok := p.(map[string]any)
			if !ok {
				o.Reject = cdcErr("payload is %s, want an object", jsonKind(p))
				return
			}
			env = pm
		}
	}
	op, _ := env["op"].(string)
	ts := changeTime(env)
	before, bok := env["before"].(map[string]any)
	after, aok := env["after"].(map[string]any)
	switch op {
	case "c", "r":
		if !aok {
			o.Reject = cdcErr("op %q without an after image", op)
			return
		}
		m.mapRow(object(after), ts, false, o)
	case "u":
		if !aok {
			o.Reject = cdcErr("op \"u\" without an after image")
			return
		}
		ta, skip, rj := m.typeOf(object(after))
		if rj != nil || skip != "" {
			o.Reject, o.Skip = rj, skip
			return
		}
		if bok {
			if tb, skip, rj := m.typeOf(object(before)); rj == nil && skip == "" && tb == ta {
				o.Skip = SkipCDCNoChange
				return
			}
		}
		o.Event, o.Reject = m.event(object(after), ta, ts, ta == canonical.Cancel || ta == canonical.Return)
	case "d":
		if !bok {
			o.Reject = cdcErr("op \"d\" without a before image (set REPLICA IDENTITY FULL on the table)")
			return
		}
		tb, skip, _ := m.typeOf(object(before))
		switch {
		case skip != "":
			o.Skip = skip
			return
		case tb == canonical.Cancel:
			o.Skip = SkipCDCNoChange
			return
		}
		o.Event, o.Reject = m.event(object(before), canonical.Cancel, ts, true)
	case "":
		o.Reject = cdcErr("no op: not a Debezium change event")
	default:
		o.Reject = cdcErr("op %q carries no row to map (want c, r, u or d)", op)
	}
}

func (m *Mapper) mapRow(rec record, ts time.Time, preferTS bool, o *Outcome) {
	t, skip, rj := m.typeOf(rec)
	switch {
	case rj != nil:
		o.Reject = rj
	case skip != "":
		o.Skip = skip
	default:
		o.Event, o.Reject = m.event(rec, t, ts, preferTS || t == canonical.Cancel || t == canonical.Return)
	}
}

// changeTime is when the change was made in the database (source.ts_ms),
// else when Debezium processed it (ts_ms), else zero.
func changeTime(env map[string]any) time.Time {
	if src, ok := env["source"].(map[string]any); ok {
		if t, ok := millis(src["ts_ms"]); ok {
			return t
		}
	}
	if t, ok := millis(env["ts_ms"]); ok {
		return t
	}
	return time.Time{}
}

func millis(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	ms, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).UTC(), true
}
