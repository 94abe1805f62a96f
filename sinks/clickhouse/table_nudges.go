package clickhouse

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fastjson"
)

// nudgesTable maps nudges (accrue.Nudge's JSON) to table nudges. A nudge
// fires once per program, period, rep, kind and threshold or band; its row
// id is built as accrue.Nudge.ID builds it, or is the record's nudge_id
// where it carries one (the nudges of timers: inactivity, with neither
// threshold nor band, and period_ending, with band_from and gap). The
// timers' days and times are not columns: the id names the stretch.
var nudgesTable = &Table{
	Kind: "nudges",
	Name: "nudges",
	Columns: append([]string{
		"nudge_id", "kind", "program_id", "period", "rep_id",
		"threshold", "attainment", "band_from", "gap", "event_id",
	}, kafkaColumns...),
	NewRows: func() Rows { return &nudgeRows{in: interner{}} },
}

type nudgeRows struct {
	p  fastjson.Parser
	in interner

	nudgeID, kind, programID, period, repID []string
	threshold, attainment, bandFrom, gap    []*decimal.Decimal
	eventID                                 []string
	kafka                                   kafkaCols
}

func (r *nudgeRows) Add(rec *kgo.Record) error {
	v, err := r.p.ParseBytes(rec.Value)
	if err != nil {
		return err
	}
	if v.Type() != fastjson.TypeObject {
		return errors.New("nudge: want a JSON object")
	}
	var s [5]string // kind, program_id, period, rep_id, event_id
	for i, f := range []string{"kind", "program_id", "period", "rep_id", "event_id"} {
		var in stringer = r.in
		if f == "rep_id" || f == "event_id" {
			in = nil
		}
		if s[i], err = str(get(v, f), in); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	kind, program, period, rep, event := s[0], s[1], s[2], s[3], s[4]
	if kind == "" || program == "" || period == "" || rep == "" {
		return errors.New("kind, program_id, period and rep_id are required")
	}
	var d [4]*decimal.Decimal // threshold, attainment, band_from, gap
	for i, f := range []string{"threshold", "attainment", "band_from", "gap"} {
		if d[i], err = nullable(f, v.Get(f), shareScale, sharePrecision, roundedField, nil); err != nil {
			return err
		}
	}
	id, err := str(get(v, "nudge_id"), nil)
	if err != nil {
		return fmt.Errorf("nudge_id: %w", err)
	}
	if id == "" {
		at := d[0]
		if kind == "near_next_tier" {
			at = d[2]
		}
		if at == nil {
			return errors.New("a nudge names its threshold (attainment_crossed), band_from (near_next_tier) or nudge_id")
		}
		id = program + "/" + period + "/" + rep + "/" + kind + "/" + at.String()
	}
	r.nudgeID = append(r.nudgeID, id)
	r.kind = append(r.kind, kind)
	r.programID = append(r.programID, program)
	r.period = append(r.period, period)
	r.repID = append(r.repID, rep)
	r.threshold = append(r.threshold, d[0])
	r.attainment = append(r.attainment, d[1])
	r.bandFrom = append(r.bandFrom, d[2])
	r.gap = append(r.gap, d[3])
	r.eventID = append(r.eventID, event)
	r.kafka.add(rec)
	return nil
}

func (r *nudgeRows) Len() int { return len(r.nudgeID) }

func (r *nudgeRows) Columns() []any {
	return append([]any{
		r.nudgeID, r.kind, r.programID, r.period, r.repID,
		r.threshold, r.attainment, r.bandFrom, r.gap, r.eventID,
	}, r.kafka.columns()...)
}

func (r *nudgeRows) Reset() {
	clear(r.threshold)
	clear(r.attainment)
	clear(r.bandFrom)
	clear(r.gap)
	r.nudgeID, r.kind, r.programID, r.period, r.repID = r.nudgeID[:0], r.kind[:0], r.programID[:0], r.period[:0], r.repID[:0]
	r.threshold, r.attainment, r.bandFrom, r.gap = r.threshold[:0], r.attainment[:0], r.bandFrom[:0], r.gap[:0]
	r.eventID = r.eventID[:0]
	r.kafka.reset()
}

// awardsTable maps awards (accrue.Award's JSON) to table awards: a badge
// is awarded once per program, period and rep.
var awardsTable = &Table{
	Kind: "awards",
	Name: "awards",
	Columns: append([]string{
		"award_id", "badge", "program_id", "period", "rep_id", "event_id",
	}, kafkaColumns...),
	NewRows: func() Rows { return &awardRows{in: interner{}} },
}

type awardRows struct {
	p  fastjson.Parser
	in interner

	awardID, badge, programID, period, repID, eventID []string
	kafka                                             kafkaCols
}

func (r *awardRows) Add(rec *kgo.Record) error {
	v, err := r.p.ParseBytes(rec.Value)
	if err != nil {
		return err
	}
	if v.Type() != fastjson.TypeObject {
		return errors.New("award: want a JSON object")
	}
	var s [5]string
	for i, f := range []string{"badge", "program_id", "period", "rep_id", "event_id"} {
		var in stringer = r.in
		if f == "rep_id" || f == "event_id" {
			in = nil
		}
		if s[i], err = str(get(v, f), in); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	badge, program, period, rep, event := s[0], s[1], s[2], s[3], s[4]
	if badge == "" || program == "" || period == "" || rep == "" {
		return errors.New("badge, program_id, period and rep_id are required")
	}
	r.awardID = append(r.awardID, program+"/"+period+"/"+rep+"/"+badge)
	r.badge = append(r.badge, badge)
	r.programID = append(r.programID, program)
	r.period = append(r.period, period)
	r.repID = append(r.repID, rep)
	r.eventID = append(r.eventID, event)
	r.kafka.add(rec)
	return nil
}

func (r *awardRows) Len() int { return len(r.awardID) }

func (r *awardRows) Columns() []any {
	return append([]any{r.awardID, r.badge, r.programID, r.period, r.repID, r.eventID}, r.kafka.columns()...)
}

func (r *awardRows) Reset() {
	r.awardID, r.badge, r.programID, r.period, r.repID, r.eventID = r.awardID[:0], r.badge[:0], r.programID[:0], r.period[:0], r.repID[:0], r.eventID[:0]
	r.kafka.reset()
}
