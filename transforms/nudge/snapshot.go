package nudge

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
	"github.com/valyala/fastjson"

	"github.com/accrue/accrue/connectors/canonical"
)

// Snapshot is what the leaderboard reads of an attainment snapshot (the
// accrual stage's accrue.Snapshot, on the attainment topic): who, where,
// the figures it can rank by, and its version.
type Snapshot struct {
	ProgramID  string
	Period     string
	RepID      string
	Currency   string
	Measure    decimal.Decimal
	Attainment decimal.NullDecimal
	Earned     decimal.Decimal
	Version    int64
	EventID    string
}

// ID is the snapshot's id, as accrue.Snapshot.ID writes it.
func (s *Snapshot) ID() string {
	return fmt.Sprintf("%s/%s/%s/%d", s.ProgramID, s.Period, s.RepID, s.Version)
}

// BoardKey is the key of the leaderboard a snapshot belongs to:
// program_id|period.
func (s *Snapshot) BoardKey() string { return s.ProgramID + "|" + s.Period }

// DecodeSnapshot reads a snapshot as the accrual stage writes it:
//
//	{"snapshot_id":"ae/2026-11/R-17/3","program_id":"ae","program_version":3,"period":"2026-11",
//	 "rep_id":"R-17","currency":"USD","measure":"1250.00","quota":"100000","attainment":"0.0125",
//	 "commission":"25.00","spiff":"0.00","override":"0.00","earned":"25.00","capped":false,
//	 "version":3,"event_id":"erp:SO-1:sale"}
func DecodeSnapshot(b []byte) (*Snapshot, error) {
	var p fastjson.Parser
	v, err := p.ParseBytes(b)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	s := &Snapshot{}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"program_id", &s.ProgramID}, {"period", &s.Period}, {"rep_id", &s.RepID}, {"currency", &s.Currency}, {"event_id", &s.EventID}} {
		x := v.Get(f.name)
		if x == nil || x.Type() != fastjson.TypeString {
			if f.name == "event_id" || f.name == "currency" {
				continue
			}
			return nil, fmt.Errorf("snapshot: %s is missing", f.name)
		}
		*f.dst = string(x.GetStringBytes())
		if *f.dst == "" && f.name != "event_id" && f.name != "currency" {
			return nil, fmt.Errorf("snapshot: %s is empty", f.name)
		}
	}
	dec := func(name string, null bool) (decimal.NullDecimal, error) {
		x := v.Get(name)
		if x == nil || x.Type() == fastjson.TypeNull {
			if null {
				return decimal.NullDecimal{}, nil
			}
			return decimal.NullDecimal{}, fmt.Errorf("snapshot: %s is missing", name)
		}
		if x.Type() != fastjson.TypeString {
			return decimal.NullDecimal{}, fmt.Errorf("snapshot: %s is not a decimal string", name)
		}
		d, err := canonical.ParseDecimal(string(x.GetStringBytes()))
		if err != nil {
			return decimal.NullDecimal{}, fmt.Errorf("snapshot: %s: %w", name, err)
		}
		return decimal.NullDecimal{Decimal: d, Valid: true}, nil
	}
	m, err := dec("measure", false)
	if err != nil {
		return nil, err
	}
	s.Measure = m.Decimal
	if s.Attainment, err = dec("attainment", true); err != nil {
		return nil, err
	}
	e, err := dec("earned", true)
	if err != nil {
		return nil, err
	}
	s.Earned = e.Decimal
	ver := v.Get("version")
	if ver == nil || ver.Type() != fastjson.TypeNumber {
		return nil, errors.New("snapshot: version is missing")
	}
	if s.Version, err = ver.Int64(); err != nil || s.Version < 1 {
		return nil, errors.New("snapshot: version is not a positive whole number")
	}
	return s, nil
}
