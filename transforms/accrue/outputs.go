package accrue

import (
	"strconv"
	"time"

	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/shopspring/decimal"
)

// Topics the accrual stage writes each kind of output to, keyed by rep.
const (
	TopicAccruals   = "accruals"
	TopicAttainment = "attainment"
	TopicNudges     = "nudges"
	TopicAwards     = "awards"
	// TopicOverrides is the stage's own topic of override records, keyed
	// by manager and read back by the same stage (co-partitioned with
	// sales.credited).
	TopicOverrides = "accrue.overrides"
)

// Output is what applying one input produced, in the order it fired. Every
// record carries a deterministic id derived from the input, so a consumer
// outside Kafka's transactions can drop replays.
type Output struct {
	Accruals  []Accrual
	Snapshots []Snapshot
	Nudges    []Nudge
	Awards    []Award
	// Overrides are the override records for managers, to be applied to
	// each manager's state (another partition, maybe) with ApplyOverride.
	Overrides []OverrideCredit
	// Expired lists the programs in which a return or cancel changed
	// nothing because it came later than the clawback window.
	Expired []string
}

// Statement is a rep's figures in one period of one program, as reported
// (§4.7, §5): money rounded half-even to the currency's minor unit, each of
// commission, spiff and override alone; earned is
// round(min(commission + spiffs, cap) + override), from the exact figures.
type Statement struct {
	ProgramID      string
	ProgramVersion int
	Period         string
	RepID          string
	Currency       string
	// MeasureKind is the program's measure; Measure is rounded like money
	// for amount and margin, exact for quantity and count.
	MeasureKind program.Measure
	Measure     decimal.Decimal
	// Quota and Attainment (M / Q to 4 places, half-even) are not Valid
	// when the rep has no quota.
	Quota      decimal.NullDecimal
	Attainment decimal.NullDecimal
	Commission decimal.Decimal
	Spiff      decimal.Decimal
	Override   decimal.Decimal
	Earned     decimal.Decimal
	// Capped is true when the cap bit: commission + spiffs > cap.
	Capped bool
	// MinorUnits is the currency's minor unit, the scale of money fields.
	MinorUnits int32
}

func (s *Statement) measurePlaces() int32 {
	if s.MeasureKind == program.Amount || s.MeasureKind == program.Margin {
		return s.MinorUnits
	}
	return -1
}

// AppendJSON appends the statement line of `accrue simulate`:
//
//	{"program_id":"ae","program_version":3,"period":"2026-11","rep_id":"R-17","currency":"USD",
//	 "measure":"1250.00","quota":"100000","attainment":"0.0125","commission":"25.00",
//	 "spiff":"0.00","override":"0.00","earned":"25.00","capped":false}
func (s *Statement) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	return append(s.appendFields(b), '}')
}

func (s *Statement) appendFields(b []byte) []byte {
	b = strField(b, "program_id", s.ProgramID)
	b = intField(b, "program_version", int64(s.ProgramVersion))
	b = strField(b, "period", s.Period)
	b = strField(b, "rep_id", s.RepID)
	b = strField(b, "currency", s.Currency)
	b = decField(b, "measure", s.Measure, s.measurePlaces())
	if s.Quota.Valid {
		b = writtenField(b, "quota", s.Quota.Decimal)
		b = decField(b, "attainment", s.Attainment.Decimal, 4)
	} else {
		b = nullField(b, "quota")
		b = nullField(b, "attainment")
	}
	b = decField(b, "commission", s.Commission, s.MinorUnits)
	b = decField(b, "spiff", s.Spiff, s.MinorUnits)
	b = decField(b, "override", s.Override, s.MinorUnits)
	b = decField(b, "earned", s.Earned, s.MinorUnits)
	return boolField(b, "capped", s.Capped)
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (s Statement) MarshalJSON() ([]byte, error) { return s.AppendJSON(nil), nil }

// Snapshot is a statement as of one input, for the attainment topic:
// Version rises by one with every snapshot of the same (program, period,
// rep), so a reader keeps the highest (ClickHouse: ReplacingMergeTree on
// the key, versioned by Version).
type Snapshot struct {
	Statement
	Version int64
	// EventID is the source event of the input that produced it.
	EventID string
	// lazy, when set, is what Statement is to be computed of: an engine
	// that defers statements (the stage's, which writes only the last
	// snapshot of a batch) leaves it to resolve.
	lazy *lazyStatement
}

// lazyStatement is a statement not yet computed: the period's state as
// the input left it (never changed afterwards: the engine changes copies)
// and its figures.
type lazyStatement struct {
	e  *Engine
	f  *family
	ps *PeriodState
	fg figures
}

// resolve computes the statement of a deferred snapshot.
func (s *Snapshot) resolve() {
	if l := s.lazy; l != nil {
		s.Statement, s.lazy = l.e.statement(l.f, l.ps, &l.fg), nil
	}
}

// ID is the snapshot's deterministic id: program, period, rep, version.
func (s *Snapshot) ID() string { return string(s.appendID(nil)) }

func (s *Snapshot) appendID(b []byte) []byte {
	b = append(b, s.ProgramID...)
	b = append(b, '/')
	b = append(b, s.Period...)
	b = append(b, '/')
	b = append(b, s.RepID...)
	b = append(b, '/')
	return strconv.AppendInt(b, s.Version, 10)
}

// AppendJSON appends {"snapshot_id", the statement's fields, "version",
// "event_id"}.
func (s *Snapshot) AppendJSON(b []byte) []byte {
	b = append(field(append(b, '{'), "snapshot_id"), '"')
	if plainString(s.ProgramID) && plainString(s.Period) && plainString(s.RepID) {
		b = append(s.appendID(b), '"')
	} else {
		// An id that needs escaping: rare enough to build it first.
		b = appendString(b[:len(b)-1], s.ID())
	}
	b = s.appendFields(b)
	b = intField(b, "version", s.Version)
	b = strField(b, "event_id", s.EventID)
	return append(b, '}')
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (s Snapshot) MarshalJSON() ([]byte, error) { return s.AppendJSON(nil), nil }

// Accrual is the change of a rep's reported earned in one period of one
// program (§4.8): Delta is round(new) − round(old), so a period's deltas add
// up to its reported earned, to the cent.
type Accrual struct {
	// ID is derived from the input and the figures it moved: input id,
	// "#", program, "/", period, "/", rep.
	ID             string
	ProgramID      string
	ProgramVersion int
	Period         string
	RepID          string
	Currency       string
	Delta          decimal.Decimal
	// Earned is the reported earned after the change.
	Earned decimal.Decimal
	Capped bool
	// EventID is the source event; InputID the credit (or override
	// record) that carried it.
	EventID string
	InputID string
	// Trace is what moved: each band, spiff and override whose exact
	// figure changed, by how much.
	Trace      []Part
	MinorUnits int32
}

// Part is one exact change behind an accrual.
type Part struct {
	// Kind is "commission", "spiff" or "override".
	Kind string
	// BandFrom and Rate are the band's lower bound as written and its
	// rate (commission), or the override's rate.
	BandFrom decimal.NullDecimal
	Rate     decimal.NullDecimal
	// SpiffID names the spiff (spiff).
	SpiffID string
	// Level and FromRepID are the override's level and the report it was
	// earned on (override).
	Level     int
	FromRepID string
	// EventID is the source event of an override part when the accrual
	// sums several (OverrideCredit.Sources); empty when it is the
	// accrual's own.
	EventID string
	// Amount is the exact change, in the program's currency.
	Amount decimal.Decimal
}

// AppendJSON appends the accrual record:
//
//	{"accrual_id":"erp:SO-1:sale/R-17#ae/2026-11/R-17","program_id":"ae","program_version":3,
//	 "period":"2026-11","rep_id":"R-17","currency":"USD","delta":"25.00","earned":"25.00",
//	 "capped":false,"event_id":"erp:SO-1:sale","input_id":"erp:SO-1:sale/R-17",
//	 "trace":[{"kind":"commission","band_from":"0","rate":"0.02","amount":"25"}]}
func (a *Accrual) AppendJSON(b []byte) []byte {
	b = strField(append(b, '{'), "accrual_id", a.ID)
	b = strField(b, "program_id", a.ProgramID)
	b = intField(b, "program_version", int64(a.ProgramVersion))
	b = strField(b, "period", a.Period)
	b = strField(b, "rep_id", a.RepID)
	b = strField(b, "currency", a.Currency)
	b = decField(b, "delta", a.Delta, a.MinorUnits)
	b = decField(b, "earned", a.Earned, a.MinorUnits)
	b = boolField(b, "capped", a.Capped)
	b = strField(b, "event_id", a.EventID)
	b = strField(b, "input_id", a.InputID)
	b = append(field(b, "trace"), '[')
	for i, p := range a.Trace {
		if i > 0 {
			b = append(b, ',')
		}
		b = strField(append(b, '{'), "kind", p.Kind)
		if p.BandFrom.Valid {
			b = writtenField(b, "band_from", p.BandFrom.Decimal)
		}
		if p.SpiffID != "" {
			b = strField(b, "spiff_id", p.SpiffID)
		}
		if p.Level > 0 {
			b = intField(b, "level", int64(p.Level))
			b = strField(b, "from_rep_id", p.FromRepID)
		}
		if p.EventID != "" {
			b = strField(b, "event_id", p.EventID)
		}
		if p.Rate.Valid {
			b = writtenField(b, "rate", p.Rate.Decimal)
		}
		b = decField(b, "amount", p.Amount, -1)
		b = append(b, '}')
	}
	return append(b, ']', '}')
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (a Accrual) MarshalJSON() ([]byte, error) { return a.AppendJSON(nil), nil }

// Nudge kinds (§4.9): checked after each input, and fired by timers in
// event time (timers.go).
const (
	NudgeAttainmentCrossed = "attainment_crossed"
	NudgeNearNextTier      = "near_next_tier"
	NudgeInactivity        = "inactivity"
	NudgePeriodEnding      = "period_ending"
)

// Nudge is one nudge (§4.9), with the event that triggered it, or the
// timer that fired it.
type Nudge struct {
	Kind      string
	ProgramID string
	Period    string
	RepID     string
	// Threshold and Attainment (4 places) for attainment_crossed.
	Threshold  decimal.Decimal
	Attainment decimal.Decimal
	// BandFrom (as written) and Gap (L_next − M, in the measure's unit)
	// for near_next_tier and period_ending.
	BandFrom decimal.Decimal
	Gap      decimal.Decimal
	// EventID is the event that triggered the nudge; empty for the
	// nudges of timers, which no event triggers.
	EventID string
	// GapPlaces is how Gap is reported: the minor unit for amount and
	// margin, -1 (exact) for quantity and count.
	GapPlaces int32
	// Days is nudges.inactivity.days (inactivity) or
	// nudges.period_ending.days_before (period_ending).
	Days int
	// At is the event time the timer fell due (inactivity: LastSale plus
	// Days; period_ending: PeriodEnd less Days); the partition's
	// watermark had reached it when the nudge fired.
	At time.Time
	// LastSale is the rep's last credited sale in the period
	// (inactivity); PeriodEnd the instant the period closes
	// (period_ending).
	LastSale  time.Time
	PeriodEnd time.Time
}

// ID is the nudge's deterministic id: it fires once per program, period,
// rep, kind and threshold or band; inactivity once per stretch (named by
// the last sale's time, RFC 3339 in UTC), period_ending once per period.
func (n *Nudge) ID() string {
	base := n.ProgramID + "/" + n.Period + "/" + n.RepID + "/" + n.Kind
	switch n.Kind {
	case NudgeNearNextTier:
		return base + "/" + n.BandFrom.String()
	case NudgeInactivity:
		return base + "/" + n.LastSale.UTC().Format(time.RFC3339Nano)
	case NudgePeriodEnding:
		return base
	}
	return base + "/" + n.Threshold.String()
}

// timer reports whether a timer fired the nudge.
func (n *Nudge) timer() bool { return n.Kind == NudgeInactivity || n.Kind == NudgePeriodEnding }

// AppendJSON appends the nudge in the form of §5:
//
//	{"kind":"attainment_crossed","program_id","period","rep_id","threshold","attainment","event_id"}
//	{"kind":"near_next_tier","program_id","period","rep_id","band_from","gap","event_id"}
//
// and, for the nudges of timers, with their id (nudge_id) since no field
// of theirs makes it:
//
//	{"kind":"inactivity","nudge_id","program_id","period","rep_id","days","last_sale","at"}
//	{"kind":"period_ending","nudge_id","program_id","period","rep_id","days_before","period_end","band_from","gap","at"}
func (n *Nudge) AppendJSON(b []byte) []byte {
	b = strField(append(b, '{'), "kind", n.Kind)
	if n.timer() {
		b = strField(b, "nudge_id", n.ID())
	}
	b = strField(b, "program_id", n.ProgramID)
	b = strField(b, "period", n.Period)
	b = strField(b, "rep_id", n.RepID)
	switch n.Kind {
	case NudgeNearNextTier:
		b = writtenField(b, "band_from", n.BandFrom)
		b = decField(b, "gap", n.Gap, n.GapPlaces)
	case NudgeInactivity:
		b = intField(b, "days", int64(n.Days))
		b = strField(b, "last_sale", n.LastSale.UTC().Format(time.RFC3339Nano))
		b = strField(b, "at", n.At.UTC().Format(time.RFC3339Nano))
		return append(b, '}')
	case NudgePeriodEnding:
		b = intField(b, "days_before", int64(n.Days))
		b = strField(b, "period_end", n.PeriodEnd.UTC().Format(time.RFC3339Nano))
		b = writtenField(b, "band_from", n.BandFrom)
		b = decField(b, "gap", n.Gap, n.GapPlaces)
		b = strField(b, "at", n.At.UTC().Format(time.RFC3339Nano))
		return append(b, '}')
	default:
		b = writtenField(b, "threshold", n.Threshold)
		b = decField(b, "attainment", n.Attainment, 4)
	}
	b = strField(b, "event_id", n.EventID)
	return append(b, '}')
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (n Nudge) MarshalJSON() ([]byte, error) { return n.AppendJSON(nil), nil }

// Award is a badge awarded (§4.10), with the event that triggered it.
type Award struct {
	Badge     string
	ProgramID string
	Period    string
	RepID     string
	EventID   string
}

// ID is the award's deterministic id: a badge is awarded once per program,
// period and rep.
func (a *Award) ID() string { return a.ProgramID + "/" + a.Period + "/" + a.RepID + "/" + a.Badge }

// AppendJSON appends {"badge","program_id","period","rep_id","event_id"}.
func (a *Award) AppendJSON(b []byte) []byte {
	b = strField(append(b, '{'), "badge", a.Badge)
	b = strField(b, "program_id", a.ProgramID)
	b = strField(b, "period", a.Period)
	b = strField(b, "rep_id", a.RepID)
	b = strField(b, "event_id", a.EventID)
	return append(b, '}')
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (a Award) MarshalJSON() ([]byte, error) { return a.AppendJSON(nil), nil }
