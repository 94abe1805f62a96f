package accrue

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

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
	// EventID is the source event; of a record that sums several
	// contributions (Sources), the event of the last.
	EventID string
	// Sources are the contributions of a record that stands for several:
	// the stage sums what a batch's credits earn one manager under one
	// program version, at one level, in one period, into one record
	// (SumOverrides). Amount is then their exact total, FromRepID is
	// empty, and the manager's accrual traces each source. Without
	// Sources the record is the one contribution of FromRepID.
	Sources []OverrideSource
}

// OverrideSource is one contribution summed into an override record.
type OverrideSource struct {
	FromRepID string
	EventID   string
	// Amount is Rate × the contribution, exact.
	Amount decimal.Decimal
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
	if len(o.Sources) > 0 {
		b = append(field(b, "sources"), '[')
		for i := range o.Sources {
			if i > 0 {
				b = append(b, ',')
			}
			src := &o.Sources[i]
			b = strField(append(b, '{'), "from_rep_id", src.FromRepID)
			b = strField(b, "event_id", src.EventID)
			b = writtenField(b, "amount", src.Amount)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
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
	Sources        []struct {
		FromRepID string `json:"from_rep_id"`
		EventID   string `json:"event_id"`
		Amount    string `json:"amount"`
	} `json:"sources"`
}

// DecodeOverride reads a record written by AppendJSON. A record in
// AppendJSON's layout (its field order, no spacing, no escapes) is read by
// position; anything else with encoding/json, so that both read the same.
func DecodeOverride(b []byte) (*OverrideCredit, error) {
	if o, ok := decodeOverrideFast(b); ok {
		return o, nil
	}
	return decodeOverrideJSON(b)
}

// decodeOverrideFast reads
//
//	{"override_id":"…","program_id":"…","program_version":N,"period":"…","manager_id":"…",
//	 "level":N,"from_rep_id":"…","rate":"…","amount":"…","event_id":"…"
//	 [,"sources":[{"from_rep_id":"…","event_id":"…","amount":"…"},…]]}
//
// with plain strings (no quote, backslash or control character, valid
// UTF-8) and integers of up to 18 digits. It reports false for anything
// else, and for what decodeOverrideJSON would refuse (which then says why).
func decodeOverrideFast(b []byte) (*OverrideCredit, bool) {
	// Every string of the record is a piece of one copy of it.
	r := fixedReader{b: b, s: string(b), ok: true}
	r.lit(`{"override_id":`)
	id := r.str()
	r.lit(`,"program_id":`)
	programID := r.str()
	r.lit(`,"program_version":`)
	version := r.int()
	r.lit(`,"period":`)
	period := r.str()
	r.lit(`,"manager_id":`)
	manager := r.str()
	r.lit(`,"level":`)
	level := r.int()
	r.lit(`,"from_rep_id":`)
	from := r.str()
	r.lit(`,"rate":`)
	rate := r.str()
	r.lit(`,"amount":`)
	amount := r.str()
	r.lit(`,"event_id":`)
	eventID := r.str()
	var sources []OverrideSource
	if r.peek(`,"sources":[`) {
		r.lit(`,"sources":[`)
		sources = make([]OverrideSource, 0, 16)
		for r.ok {
			if len(sources) > 0 {
				r.lit(`,`)
			}
			r.lit(`{"from_rep_id":`)
			src := OverrideSource{FromRepID: r.str()}
			r.lit(`,"event_id":`)
			src.EventID = r.str()
			r.lit(`,"amount":`)
			a, err := canonical.ParseDecimal(r.str())
			r.lit(`}`)
			if err != nil || src.FromRepID == "" {
				return nil, false
			}
			src.Amount = a
			sources = append(sources, src)
			if r.peek(`]`) {
				break
			}
		}
		r.lit(`]`)
	}
	r.lit(`}`)
	if !r.ok || r.at != len(b) || id == "" || programID == "" || manager == "" || period == "" {
		return nil, false
	}
	rd, err := canonical.ParseDecimal(rate)
	if err != nil {
		return nil, false
	}
	ad, err := canonical.ParseDecimal(amount)
	if err != nil {
		return nil, false
	}
	if sources != nil {
		total := sources[0].Amount
		for _, src := range sources[1:] {
			total = add(total, src.Amount)
		}
		if from != "" || cmp(total, ad) != 0 {
			return nil, false // decodeOverrideJSON says why
		}
	}
	return &OverrideCredit{ID: id, ProgramID: programID, ProgramVersion: version, Period: period,
		ManagerID: manager, Level: level, FromRepID: from, Rate: rd, Amount: ad, EventID: eventID, Sources: sources}, true
}

// fixedReader reads bytes of a known layout; ok turns false at the first
// mismatch, after which every read returns nothing.
type fixedReader struct {
	b  []byte
	s  string // b as a string
	at int
	ok bool
}

func (r *fixedReader) lit(s string) {
	if !r.ok || len(r.b)-r.at < len(s) || string(r.b[r.at:r.at+len(s)]) != s {
		r.ok = false
		return
	}
	r.at += len(s)
}

// peek reports whether s comes next.
func (r *fixedReader) peek(s string) bool {
	return r.ok && len(r.b)-r.at >= len(s) && string(r.b[r.at:r.at+len(s)]) == s
}

// str reads a plain JSON string.
func (r *fixedReader) str() string {
	if !r.ok || r.at >= len(r.b) || r.b[r.at] != '"' {
		r.ok = false
		return ""
	}
	start := r.at + 1
	for i := start; i < len(r.b); i++ {
		switch c := r.b[i]; {
		case c == '"':
			if !utf8.Valid(r.b[start:i]) {
				r.ok = false
				return ""
			}
			r.at = i + 1
			return r.s[start:i]
		case c == '\\' || c < 0x20:
			r.ok = false
			return ""
		}
	}
	r.ok = false
	return ""
}

// int reads a JSON integer of up to 18 digits, as encoding/json reads one
// into an int.
func (r *fixedReader) int() int {
	if !r.ok {
		return 0
	}
	i := r.at
	neg := i < len(r.b) && r.b[i] == '-'
	if neg {
		i++
	}
	start, n := i, 0
	for ; i < len(r.b) && r.b[i] >= '0' && r.b[i] <= '9'; i++ {
		n = n*10 + int(r.b[i]-'0')
	}
	digits := i - start
	if digits == 0 || digits > 18 || (digits > 1 && r.b[start] == '0') {
		r.ok = false
		return 0
	}
	r.at = i
	if neg {
		return -n
	}
	return n
}

// decodeOverrideJSON reads a record with encoding/json.
func decodeOverrideJSON(b []byte) (*OverrideCredit, error) {
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
	o := &OverrideCredit{ID: w.ID, ProgramID: w.ProgramID, ProgramVersion: w.ProgramVersion,
		Period: w.Period, ManagerID: w.ManagerID, Level: w.Level, FromRepID: w.FromRepID,
		Rate: rate, Amount: amount, EventID: w.EventID}
	if len(w.Sources) == 0 {
		return o, nil
	}
	if w.FromRepID != "" {
		return nil, fmt.Errorf("override: from_rep_id %q beside sources: a record of several contributions names each in sources", w.FromRepID)
	}
	o.Sources = make([]OverrideSource, len(w.Sources))
	var total decimal.Decimal
	for i, src := range w.Sources {
		a, err := canonical.ParseDecimal(src.Amount)
		if err != nil {
			return nil, fmt.Errorf("override: sources[%d].amount: %w", i, err)
		}
		if src.FromRepID == "" {
			return nil, fmt.Errorf("override: sources[%d].from_rep_id is missing", i)
		}
		o.Sources[i] = OverrideSource{FromRepID: src.FromRepID, EventID: src.EventID, Amount: a}
		total = total.Add(a)
	}
	if !total.Equal(amount) {
		return nil, fmt.Errorf("override: amount %s is not the sum of its sources (%s)", w.Amount, total.String())
	}
	return o, nil
}

func overrideID(inputID, programID string, level int) string {
	return inputID + "/override/" + programID + "/" + strconv.Itoa(level)
}
