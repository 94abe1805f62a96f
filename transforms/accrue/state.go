package accrue

import (
	"slices"
	"time"

	"github.com/accrue/accrue/pipeline"
)

// Store is the keyed state the engine reads and writes: the accrual stage's
// *pipeline.Context[State], or a MemoryStore offline. Every key the engine
// uses names one rep, so a stage keyed by rep holds all a rep's state on the
// rep's partition.
//
// The engine never modifies a value it got from Get: it copies, changes the
// copy and Puts it, and only once every check of an input has passed, so a
// rejected input leaves the store untouched (as pipeline.Processor
// requires).
type Store interface {
	Get(key string) (State, bool)
	Put(key string, v State)
	Delete(key string)
}

var _ Store = (*pipeline.Context[State])(nil)

// MemoryStore is a Store in a map, for `accrue simulate` and tests.
type MemoryStore map[string]State

// Get implements Store.
func (m MemoryStore) Get(k string) (State, bool) { v, ok := m[k]; return v, ok }

// Put implements Store.
func (m MemoryStore) Put(k string, v State) { m[k] = v }

// Delete implements Store.
func (m MemoryStore) Delete(k string) { delete(m, k) }

// State is one value of the engine's keyed state: exactly one of Period (the
// figures of one program, period and rep) and Sale (what one rep got from
// one sale, for its returns and cancel).
type State struct {
	Period *PeriodState `json:"period,omitempty"`
	Sale   *SaleState   `json:"sale,omitempty"`
}

// PeriodKey is the state key of a rep's figures in a program's period.
func PeriodKey(programID, period, repID string) string {
	return "p/" + repID + "/" + programID + "/" + period
}

// SaleKey is the state key of what rep got from the sale (source, txnID).
func SaleKey(repID, source, txnID string) string {
	return "s/" + repID + "/" + source + ":" + txnID
}

// PeriodState is the running figures of one rep in one period of one
// program. Amounts are exact, in the program's currency; only statements
// round.
type PeriodState struct {
	ProgramID string `json:"program_id"`
	Period    string `json:"period"`
	RepID     string `json:"rep_id"`
	// Measure is the period measure M so far (0 for a manager who only
	// earns overrides).
	Measure Num `json:"measure"`
	// Count is the count measure (+share a sale, −share a cancel), kept
	// whatever the program measures, for count badges.
	Count Num `json:"count"`
	// Spiffs are each spiff's period total before its max_per_period cap,
	// by spiff id, in id order.
	Spiffs []Amount `json:"spiffs,omitempty"`
	// Override is the total of the overrides earned on reports.
	Override Num `json:"override"`
	// Earned is the rounded earned of the last emission; the next delta is
	// measured from it.
	Earned Num `json:"earned"`
	// Version counts the snapshots emitted.
	Version int64 `json:"version"`
	// Crossed, Near and Badges are what has fired this period: attainment
	// thresholds, next-tier bands (by band from) and badge ids.
	Crossed []string `json:"crossed,omitempty"`
	Near    []string `json:"near,omitempty"`
	Badges  []string `json:"badges,omitempty"`
	// LastSale is the event time of the rep's latest credited sale in
	// the period, kept where the program has inactivity nudges: the
	// inactivity timer falls due nudges.inactivity.days after it. Idle is
	// the LastSale whose stretch of inactivity has fired (or was
	// dropped), so that a stretch fires once and the next sale re-arms.
	LastSale time.Time `json:"last_sale"`
	Idle     time.Time `json:"idle"`
	// Ending is set once the period_ending timer was checked, whether
	// the nudge fired or the rep was out of reach: once per period.
	Ending bool `json:"ending,omitempty"`
}

// timersSet reports whether any timer field is set.
func (p *PeriodState) timersSet() bool {
	return !p.LastSale.IsZero() || !p.Idle.IsZero() || p.Ending
}

// Amount is an exact amount under an id (a spiff's).
type Amount struct {
	ID     string `json:"id"`
	Amount Num    `json:"amount"`
}

// SaleState is what one recipient got from one sale: the sale's figures,
// what came back so far, and the contribution to each program it counted
// in, so that a return or cancel reverses exactly that.
type SaleState struct {
	RepID     string    `json:"rep_id"`
	Source    string    `json:"source"`
	TxnID     string    `json:"txn_id"`
	EventID   string    `json:"event_id"`
	EventTime time.Time `json:"event_time"`
	Share     Num       `json:"share"`
	// Amount is the sale's own amount in its own Currency; Returned the
	// total of its returns so far, in the same currency.
	Amount   Num    `json:"amount"`
	Currency string `json:"currency"`
	Returned Num    `json:"returned"`
	// Cancelled is set once a cancel arrived.
	Cancelled bool `json:"cancelled,omitempty"`
	// Programs are the programs the sale counted in for this rep.
	Programs []SaleProgram `json:"programs,omitempty"`
}

// SaleProgram is a sale's contribution to one program, for one rep.
type SaleProgram struct {
	ProgramID string `json:"program_id"`
	Version   int    `json:"version"`
	Period    string `json:"period"`
	// WindowDays is the clawback window of the version that credited the
	// sale; -1 when it had none (every return and cancel reverses).
	WindowDays int `json:"window_days"`
	// Rate is the FX rate of the measure's currency into the program's
	// currency on the sale's date (1 for quantity and count).
	Rate Num `json:"rate"`
	// Contribution is the measure contribution; Reversed how much of it
	// returns have taken back so far.
	Contribution Num `json:"contribution"`
	Reversed     Num `json:"reversed"`
	// Returned is the total returned amount this program has reversed
	// (returns after the clawback window are not in it).
	Returned Num `json:"returned"`
	// Spiffs are the spiffs the sale earned, by spiff id.
	Spiffs []Amount `json:"spiffs,omitempty"`
	// Overrides are the managers who earn on the contribution, as of the
	// sale.
	Overrides []Manager `json:"overrides,omitempty"`
}

// Manager is one link of a rep's management chain that earns overrides.
type Manager struct {
	RepID string `json:"rep_id"`
	Level int    `json:"level"`
	Rate  Num    `json:"rate"`
}

// clone is a copy of p to change. Spiffs are changed in place and so
// copied; the lists of what fired only grow, and with no room left to grow
// into, an append copies them.
func (p *PeriodState) clone() *PeriodState {
	c := *p
	c.Spiffs = slices.Clone(p.Spiffs)
	c.Crossed = slices.Clip(p.Crossed)
	c.Near = slices.Clip(p.Near)
	c.Badges = slices.Clip(p.Badges)
	return &c
}

// clone is a copy of s to change: its programs' figures change in place,
// their spiffs and managers never do.
func (s *SaleState) clone() *SaleState {
	c := *s
	c.Programs = slices.Clone(s.Programs)
	return &c
}

// spiff returns the total of spiff id.
func spiffTotal(as []Amount, id string) Num {
	for _, a := range as {
		if a.ID == id {
			return a.Amount
		}
	}
	return Num{}
}

// addAmount adds v to id's total, keeping as in id order.
func addAmount(as []Amount, id string, v fig) []Amount {
	i, found := slices.BinarySearchFunc(as, id, func(a Amount, id string) int {
		switch {
		case a.ID < id:
			return -1
		case a.ID > id:
			return 1
		}
		return 0
	})
	if found {
		as[i].Amount = as[i].Amount.plus(v)
		return as
	}
	return slices.Insert(as, i, Amount{ID: id, Amount: numOf(v)})
}
