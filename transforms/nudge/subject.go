package nudge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/accrue/accrue/connectors/canonical"
)

// The accrual stage's nudge kinds (PROGRAMS.md §4.9; accrue.Nudge).
const (
	KindAttainmentCrossed = "attainment_crossed"
	KindNearNextTier      = "near_next_tier"
	// The nudges of the accrual stage's timers carry their id in
	// nudge_id.
	KindInactivity   = "inactivity"
	KindPeriodEnding = "period_ending"
)

// Kinds of awards, for templates and throttling: a badge of a program, and
// a contest's award.
const (
	KindBadge        = "badge"
	KindContestAward = "contest_award"
)

// Subject is a nudge or an award as the delivery stage reads it, whatever
// stage emitted it: the accrual stage's nudges and badges
// (accrue.Nudge, accrue.Award), the leaderboard's nudges (LeaderNudge) and
// the contests' awards.
type Subject struct {
	// Award is true for a record of the awards topic.
	Award bool
	// Kind is the nudge's kind, KindBadge or KindContestAward.
	Kind string
	// ID is the record's deterministic id (accrue.Nudge.ID,
	// accrue.Award.ID, nudge_id, award_id).
	ID      string
	RepID   string
	EventID string
	// Badge is the badge awarded (a program's badge, or a contest's
	// reward badge); empty for nudges and money rewards.
	Badge string
	// ProgramID and Period name the program (or contest) and period, for
	// templates and certificates.
	ProgramID string
	Period    string
	// Fields are the record's fields, for templates.
	Fields map[string]any
}

// IdempotencyKey is the key a notification service deduplicates on:
// "nudge:" or "award:" and the id. Replays of a record carry the same key.
func (s *Subject) IdempotencyKey() string {
	if s.Award {
		return "award:" + s.ID
	}
	return "nudge:" + s.ID
}

// DecodeSubject reads a record of the nudges topic (award false) or of the
// awards topic (award true).
func DecodeSubject(b []byte, award bool) (*Subject, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	s := &Subject{Award: award, RepID: str("rep_id"), EventID: str("event_id"), ProgramID: str("program_id"),
		Period: str("period"), Fields: m}
	if s.RepID == "" {
		return nil, errors.New("rep_id is missing")
	}
	dec := func(k string) error {
		if _, err := canonical.ParseDecimal(str(k)); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		return nil
	}
	switch {
	case award && str("award_id") != "":
		s.Kind, s.ID = KindContestAward, str("award_id")
		s.ProgramID = str("contest_id")
		if r, ok := m["reward"].(map[string]any); ok {
			s.Badge, _ = r["badge"].(string)
		}
	case award:
		// The accrual stage's badge (accrue.Award): its id is
		// PROGRAM/PERIOD/REP/BADGE, as accrue.Award.ID writes it.
		badge := str("badge")
		if badge == "" || s.ProgramID == "" || s.Period == "" {
			return nil, errors.New("an award needs badge, program_id and period, or award_id")
		}
		s.Kind, s.ID, s.Badge = KindBadge, s.ProgramID+"/"+s.Period+"/"+s.RepID+"/"+badge, badge
	case str("nudge_id") != "":
		s.Kind, s.ID = str("kind"), str("nudge_id")
	default:
		// The accrual stage's nudge (accrue.Nudge): its id is
		// PROGRAM/PERIOD/REP/KIND/AT, AT the threshold or the band's
		// lower bound as a decimal's String, as accrue.Nudge.ID writes it.
		kind := str("kind")
		if kind == "" || s.ProgramID == "" || s.Period == "" {
			return nil, errors.New("a nudge needs kind, program_id and period, or nudge_id")
		}
		atField := "threshold"
		if kind == KindNearNextTier {
			atField = "band_from"
		}
		if err := dec(atField); err != nil {
			return nil, err
		}
		at, _ := canonical.ParseDecimal(str(atField))
		s.Kind, s.ID = kind, s.ProgramID+"/"+s.Period+"/"+s.RepID+"/"+kind+"/"+at.String()
	}
	if s.Kind == "" {
		return nil, errors.New("kind is missing")
	}
	return s, nil
}
