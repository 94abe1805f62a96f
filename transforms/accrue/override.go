package accrue

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/shopspring/decimal"
)

// OverrideCredit is an override a manager earns on one measure contribution
// of a report (§4.6), or its reversal (a negative Amount). The engine
// computes it where the report's contribution is computed, on the report's
// partition, and hands it on addressed to the manager: the stage emits it to
// TopicOverrides keyed by ManagerID and applies it when it comes back on the
// manager's partition; simulate applies it at once.
type OverrideCredit struct {
	// ID is the record's deterministic id: the input's id, "/override/",
	// the program, "/", the level.
	ID             string
	ProgramID      string
	ProgramVersion int
	// Period is the period of the contribution (a reversal's is its
	// original's).
	Period    string
	ManagerID string
	Level     int
	// FromRepID is the report whose contribution earned it.
	FromRepID string
	Rate      decimal.Decimal
	// Amount is Rate × the contribution, exact, in the program's currency.
	Amount decimal.Decimal
	// EventID is the source event.
	EventID string
}

// AppendJSON appends the record as TopicOverrides carries it:
//
//	{"override_id":"erp:SO-1:sale/R-17/override/ae/1","program_id":"ae","program_version":3,
//	 "period":"2026-11","manager_id":"M-1","level":1,"from_rep_id":"R-17","rate":"0.01",
//	 "amount":"12.5","event_id":"erp:SO-1:sale"}
func (o *OverrideCredit) AppendJSON(b []byte) []byte {
	b = strField(append(b, '{'), "override_id", o.ID)
	b = strField(b, "program_id", o.ProgramID)
	b = intField(b, "program_version", int64(o.ProgramVersion))
	b = strField(b, "period", o.Period)
	b = strField(b, "manager_id", o.ManagerID)
	b = intField(b, "level", int64(o.Level))
	b = strField(b, "from_rep_id", o.FromRepID)
	b = writtenField(b, "rate", o.Rate)
	b = writtenField(b, "amount", o.Amount)
	b = strField(b, "event_id", o.EventID)
	return append(b, '}')
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (o OverrideCredit) MarshalJSON() ([]byte, error) { return o.AppendJSON(nil), nil }

type wireOverride struct {
	ID             string `json:"override_id"`
	ProgramID      string `json:"program_id"`
	ProgramVersion int    `json:"program_version"`
	Period         string `json:"period"`
	ManagerID      string `json:"manager_id"`
	Level          int    `json:"level"`
	FromRepID      string `json:"from_rep_id"`
	Rate           string `json:"rate"`
	Amount         string `json:"amount"`
	EventID        string `json:"event_id"`
}

// DecodeOverride reads a record written by AppendJSON.
func DecodeOverride(b []byte) (*OverrideCredit, error) {
	var w wireOverride
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("override: %w", err)
	}
	switch {
	case w.ID == "":
		return nil, fmt.Errorf("override: override_id is missing")
	case w.ProgramID == "":
		return nil, fmt.Errorf("override: program_id is missing")
	case w.ManagerID == "":
		return nil, fmt.Errorf("override: manager_id is missing")
	case w.Period == "":
		return nil, fmt.Errorf("override: period is missing")
	}
	rate, err := canonical.ParseDecimal(w.Rate)
	if err != nil {
		return nil, fmt.Errorf("override: rate: %w", err)
	}
	amount, err := canonical.ParseDecimal(w.Amount)
	if err != nil {
		return nil, fmt.Errorf("override: amount: %w", err)
	}
	return &OverrideCredit{ID: w.ID, ProgramID: w.ProgramID, ProgramVersion: w.ProgramVersion,
		Period: w.Period, ManagerID: w.ManagerID, Level: w.Level, FromRepID: w.FromRepID,
		Rate: rate, Amount: amount, EventID: w.EventID}, nil
}

func overrideID(inputID, programID string, level int) string {
	return inputID + "/override/" + programID + "/" + strconv.Itoa(level)
}
