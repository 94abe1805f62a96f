package mapping

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fastjson"

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
func (m *Mapper) mapDebezium(r *Reuse, payload []byte, visit func(Outcome)) {
	if skipSpace(payload, 0) == len(payload) { // JSON whitespace only
		// A Kafka tombstone (null value) after a delete.
		visit(Outcome{Line: 1, Skip: SkipCDCTombstone, Raw: payload})
		return
	}
	eachObject(payload, nil, func(o Outcome, obj jsonObject, err error) {
		switch {
		case bytes.Equal(o.Raw, []byte("null")):
			o.Skip = SkipCDCTombstone
		case err != nil:
			o.Reject = &pipeline.Reject{Reason: ReasonMalformedJSON, Err: fmt.Errorf("line %d: %w", o.Line, jsonError(err))}
		default:
			m.mapChange(r, obj.v, &o)
		}
		visit(o)
	})
}

func cdcErr(format string, args ...any) *pipeline.Reject {
	return pipeline.Rejectf(ReasonMalformedCDC, "", format, args...)
}

func (m *Mapper) mapChange(r *Reuse, env *fastjson.Value, o *Outcome) {
	if p := env.Get("payload"); p != nil && env.Get("op") == nil {
		switch p.Type() {
		case fastjson.TypeNull:
			o.Skip = SkipCDCTombstone
			return
		case fastjson.TypeObject:
			env = p
		default:
			o.Reject = cdcErr("payload is %s, want an object", fjKind(p))
			return
		}
	}
	// The envelope's own keys, read whatever the config, are held to
	// what Mapper.duplicateKey holds the mapped ones to.
	if obj, err := env.Object(); err == nil {
		for _, k := range [...]string{"op", "before", "after", "ts_ms", "source"} {
			if n := countKey(obj, k); n > 1 {
				o.Reject = pipeline.Rejectf(ReasonMalformedJSON, k, "the envelope's key %q appears %d times; which one is meant is not clear", k, n)
				return
			}
		}
	}
	var op string
	if v := env.Get("op"); v != nil && v.Type() == fastjson.TypeString {
		b, _ := v.StringBytes()
		op = string(b)
	}
	ts := changeTime(env)
	before, bok := image(env, "before")
	after, aok := image(env, "after")
	switch op {
	case "c", "r":
		if !aok {
			o.Reject = cdcErr("op %q without an after image", op)
			return
		}
		m.mapRow(r, after, ts, false, o)
	case "u":
		if !aok {
			o.Reject = cdcErr("op \"u\" without an after image")
			return
		}
		ta, skip, rj := m.typeOf(after)
		if rj != nil || skip != "" {
			o.Reject, o.Skip = rj, skip
			return
		}
		if bok {
			if tb, skip, rj := m.typeOf(before); rj == nil && skip == "" && tb == ta {
				o.Skip = SkipCDCNoChange
				return
			}
		}
		o.Event, o.Reject = m.event(r, after, ta, ts, ta == canonical.Cancel || ta == canonical.Return)
	case "d":
		if !bok {
			o.Reject = cdcErr("op \"d\" without a before image (set REPLICA IDENTITY FULL on the table)")
			return
		}
		tb, skip, _ := m.typeOf(before)
		switch {
		case skip != "":
			o.Skip = skip
			return
		case tb == canonical.Cancel:
			o.Skip = SkipCDCNoChange
			return
		}
		o.Event, o.Reject = m.event(r, before, canonical.Cancel, ts, true)
	case "":
		o.Reject = cdcErr("no op: not a Debezium change event")
	default:
		o.Reject = cdcErr("op %q carries no row to map (want c, r, u or d)", op)
	}
}

func (m *Mapper) mapRow(r *Reuse, rec record, ts time.Time, preferTS bool, o *Outcome) {
	t, skip, rj := m.typeOf(rec)
	switch {
	case rj != nil:
		o.Reject = rj
	case skip != "":
		o.Skip = skip
	default:
		o.Event, o.Reject = m.event(r, rec, t, ts, preferTS || t == canonical.Cancel || t == canonical.Return)
	}
}

// image returns the row image under key when it is an object.
func image(env *fastjson.Value, key string) (jsonObject, bool) {
	v := env.Get(key)
	if v == nil || v.Type() != fastjson.TypeObject {
		return jsonObject{}, false
	}
	return jsonObject{v: v}, true
}

// changeTime is when the change was made in the database (source.ts_ms),
// else when Debezium processed it (ts_ms), else zero.
func changeTime(env *fastjson.Value) time.Time {
	if src := env.Get("source"); src != nil && src.Type() == fastjson.TypeObject {
		if t, ok := millis(src.Get("ts_ms")); ok {
			return t
		}
	}
	if t, ok := millis(env.Get("ts_ms")); ok {
		return t
	}
	return time.Time{}
}

func millis(v *fastjson.Value) (time.Time, bool) {
	if v == nil || v.Type() != fastjson.TypeNumber {
		return time.Time{}, false
	}
	ms, err := strconv.ParseInt(string(v.MarshalTo(nil)), 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).UTC(), true
}
