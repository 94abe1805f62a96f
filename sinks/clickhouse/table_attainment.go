package clickhouse

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fastjson"
)

// attainmentTable maps attainment (accrue.Snapshot's JSON: a rep's
// statement in one period of one program, as of one input) to table
// attainment, a ReplacingMergeTree on (program, period, rep) versioned by
// the snapshot's version: FINAL reads each rep's latest statement.
var attainmentTable = &Table{
	Kind: "attainment",
	Name: "attainment",
	Columns: append([]string{
		"snapshot_id", "program_id", "program_version", "period", "rep_id", "currency",
		"measure", "quota", "attainment", "commission", "spiff", "override", "earned", "capped",
		"version", "event_id",
	}, kafkaColumns...),
	NewRows: func() Rows { return &attainmentRows{in: interner{}} },
}

type attainmentRows struct {
	p  fastjson.Parser
	in interner
	// The batch's strings and optional figures, until Reset.
	arena arena
	decs  slab[decimal.Decimal]

	snapshotID, programID               []string
	programVersion                      []uint32
	period, repID, currency             []string
	measure                             []decimal.Decimal
	quota, attainment                   []*decimal.Decimal
	commission, spiff, override, earned []decimal.Decimal
	capped                              []uint8
	version                             []uint64
	eventID                             []string
	kafka                               kafkaCols
}

type snapshotRow struct {
	snapshotID, programID, period, repID, currency, eventID string
	programVersion                                          uint32
	measure, commission, spiff, override, earned            decimal.Decimal
	quota, attainment                                       *decimal.Decimal
	capped                                                  uint8
	version                                                 uint64
}

// snapshot money fields, each required.
const (
	hasMeasure = 1 << iota
	hasCommission
	hasSpiff
	hasOverride
	hasEarned
	hasVersion
	hasAllFigures = hasMeasure | hasCommission | hasSpiff | hasOverride | hasEarned | hasVersion
)

func (r *attainmentRows) decode(v *fastjson.Value) (snapshotRow, error) {
	var s snapshotRow
	o, err := v.Object()
	if err != nil {
		return s, errors.New("snapshot: want a JSON object")
	}
	var ferr error
	var seen int
	money := func(field string, v *fastjson.Value, dst *decimal.Decimal, bit int) {
		if *dst, ferr = decimalField(field, v, moneyScale, moneyPrecision); ferr == nil {
			seen |= bit
		}
	}
	o.Visit(func(k []byte, v *fastjson.Value) {
		if ferr != nil {
			return
		}
		switch string(k) {
		case "snapshot_id":
			s.snapshotID, ferr = str(v, &r.arena)
		case "program_id":
			s.programID, ferr = str(v, r.in)
		case "program_version":
			var n uint64
			n, ferr = integer("program_version", v, 1<<32-1)
			s.programVersion = uint32(n)
		case "period":
			s.period, ferr = str(v, r.in)
		case "rep_id":
			s.repID, ferr = str(v, &r.arena)
		case "currency":
			s.currency, ferr = str(v, r.in)
		case "measure":
			// Exact for quantity and count measures (sums of shares).
			if s.measure, ferr = roundedField("measure", v, shareScale, sharePrecision); ferr == nil {
				seen |= hasMeasure
			}
		case "quota":
			s.quota, ferr = nullable("quota", v, moneyScale, moneyPrecision, roundedField, &r.decs)
		case "attainment":
			s.attainment, ferr = nullable("attainment", v, moneyScale, moneyPrecision, roundedField, &r.decs)
		case "commission":
			money("commission", v, &s.commission, hasCommission)
		case "spiff":
			money("spiff", v, &s.spiff, hasSpiff)
		case "override":
			money("override", v, &s.override, hasOverride)
		case "earned":
			money("earned", v, &s.earned, hasEarned)
		case "capped":
			s.capped, ferr = boolean("capped", v)
		case "version":
			if s.version, ferr = integer("version", v, 1<<63-1); ferr == nil {
				seen |= hasVersion
			}
		case "event_id":
			s.eventID, ferr = str(v, &r.arena)
		}
		if ferr == errNotString {
			ferr = fmt.Errorf("%s: %w", k, ferr)
		}
	})
	switch {
	case ferr != nil:
		return s, ferr
	case s.programID == "" || s.period == "" || s.repID == "":
		return s, errors.New("program_id, period and rep_id are required")
	case seen != hasAllFigures:
		return s, errors.New("measure, commission, spiff, override, earned and version are required")
	case s.snapshotID == "":
		s.snapshotID = fmt.Sprintf("%s/%s/%s/%d", s.programID, s.period, s.repID, s.version)
	}
	return s, nil
}

func (r *attainmentRows) Add(rec *kgo.Record) error {
	v, err := r.p.ParseBytes(rec.Value)
	if err != nil {
		return err
	}
	s, err := r.decode(v)
	if err != nil {
		return err
	}
	r.snapshotID = append(r.snapshotID, s.snapshotID)
	r.programID = append(r.programID, s.programID)
	r.programVersion = append(r.programVersion, s.programVersion)
	r.period = append(r.period, s.period)
	r.repID = append(r.repID, s.repID)
	r.currency = append(r.currency, s.currency)
	r.measure = append(r.measure, s.measure)
	r.quota = append(r.quota, s.quota)
	r.attainment = append(r.attainment, s.attainment)
	r.commission = append(r.commission, s.commission)
	r.spiff = append(r.spiff, s.spiff)
	r.override = append(r.override, s.override)
	r.earned = append(r.earned, s.earned)
	r.capped = append(r.capped, s.capped)
	r.version = append(r.version, s.version)
	r.eventID = append(r.eventID, s.eventID)
	r.kafka.add(rec)
	return nil
}

func (r *attainmentRows) Len() int { return len(r.snapshotID) }

func (r *attainmentRows) Columns() []any {
	return append([]any{
		r.snapshotID, r.programID, r.programVersion, r.period, r.repID, r.currency,
		r.measure, r.quota, r.attainment, r.commission, r.spiff, r.override, r.earned, r.capped,
		r.version, r.eventID,
	}, r.kafka.columns()...)
}

func (r *attainmentRows) Reset() {
	clear(r.quota)
	clear(r.attainment)
	r.snapshotID, r.programID, r.programVersion = r.snapshotID[:0], r.programID[:0], r.programVersion[:0]
	r.period, r.repID, r.currency = r.period[:0], r.repID[:0], r.currency[:0]
	r.measure, r.quota, r.attainment = r.measure[:0], r.quota[:0], r.attainment[:0]
	r.commission, r.spiff, r.override, r.earned = r.commission[:0], r.spiff[:0], r.override[:0], r.earned[:0]
	r.capped, r.version, r.eventID = r.capped[:0], r.version[:0], r.eventID[:0]
	r.kafka.reset()
	r.arena.reset()
	r.decs.reset()
}
