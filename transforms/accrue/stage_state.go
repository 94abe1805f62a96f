package accrue

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/accrue/accrue/pipeline"
)

// Entry is one value of the accrual stage's keyed state: the engine's
// State under the engine's keys (PeriodKey, SaleKey), or the stage's own
// bookkeeping. Exactly one field is set.
//
//	p/REP/PROGRAM/PERIOD, s/REP/SOURCE:TXN  State: the live figures and sales
//	o                                       Position: the offset of the last credit applied live
//	w                                       Watermark: the partition's event-time clock (timers.go)
//	r                                       Run: the recompute run in progress on the partition
//	x/p/…, x/s/…                            State: the run's shadow figures and sales
//	q/SEQ                                   Parked: a live input held back while the run is in progress
type Entry struct {
	State
	Position  *int64       `json:"position,omitempty"`
	Watermark *time.Time   `json:"watermark,omitempty"`
	Run       *RunState    `json:"run,omitempty"`
	Parked    *ParkedInput `json:"parked,omitempty"`
}

// Keys of the stage's own entries.
const (
	keyPosition  = "o"
	keyWatermark = "w"
	keyRun       = "r"
	shadowPrefix = "x/"
	parkedPrefix = "q/"
)

// EntryCodec stores an Entry in the stage's changelog: the accrual stage is
// pipeline.NewStage[accrue.Entry](cfg, accrue.EntryCodec{}, ...). An
// engine State is written as Codec writes it; the stage's own entries as
// the tag byte 'J' and their JSON.
type EntryCodec struct{}

var _ pipeline.Codec[Entry] = EntryCodec{}

const tagStage = 'J'

// stageEntry is the JSON of the stage's own entries.
type stageEntry struct {
	Position  *int64       `json:"position,omitempty"`
	Watermark *time.Time   `json:"watermark,omitempty"`
	Run       *RunState    `json:"run,omitempty"`
	Parked    *ParkedInput `json:"parked,omitempty"`
}

// Encode implements pipeline.Codec.
func (EntryCodec) Encode(dst []byte, v Entry) []byte {
	if v.Position == nil && v.Watermark == nil && v.Run == nil && v.Parked == nil {
		return Codec{}.Encode(dst, v.State)
	}
	b, err := json.Marshal(stageEntry{Position: v.Position, Watermark: v.Watermark, Run: v.Run, Parked: v.Parked})
	if err != nil {
		panic(fmt.Sprintf("accrue: encode state: %v", err))
	}
	return append(append(dst, tagStage), b...)
}

// Decode implements pipeline.Codec.
func (EntryCodec) Decode(b []byte) (Entry, error) {
	if len(b) == 0 || b[0] != tagStage {
		s, err := Codec{}.Decode(b)
		return Entry{State: s}, err
	}
	var v stageEntry
	if err := json.Unmarshal(b[1:], &v); err != nil {
		return Entry{}, fmt.Errorf("accrue state: %w", err)
	}
	n := 0
	for _, set := range []bool{v.Position != nil, v.Watermark != nil, v.Run != nil, v.Parked != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return Entry{}, fmt.Errorf("accrue state: want exactly one of position, watermark, run and parked")
	}
	return Entry{Position: v.Position, Watermark: v.Watermark, Run: v.Run, Parked: v.Parked}, nil
}

// engineStore is the engine's Store over the stage's state: live keys as
// they are, or, with the shadow prefix, a recompute run's.
type engineStore struct {
	c      *pipeline.Context[Entry]
	prefix string
}

var _ ScanStore = engineStore{}

func (s engineStore) Get(k string) (State, bool) {
	e, ok := s.c.Get(s.prefix + k)
	if !ok || (e.Period == nil && e.Sale == nil) {
		return State{}, false
	}
	return e.State, true
}

func (s engineStore) Put(k string, v State) { s.c.Put(s.prefix+k, Entry{State: v}) }
func (s engineStore) Delete(k string)       { s.c.Delete(s.prefix + k) }

// Scan lists the engine's entries under the store's prefix, keys without
// it.
func (s engineStore) Scan(fn func(string, State) bool) {
	s.c.Scan(func(k string, e Entry) bool {
		if e.Period == nil && e.Sale == nil {
			return true
		}
		if s.prefix == "" {
			if strings.HasPrefix(k, shadowPrefix) {
				return true
			}
			return fn(k, e.State)
		}
		if !strings.HasPrefix(k, s.prefix) {
			return true
		}
		return fn(k[len(s.prefix):], e.State)
	})
}
