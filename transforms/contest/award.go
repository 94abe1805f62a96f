package contest

import (
	"encoding/json"
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/transforms/accrue/program"
	iso "github.com/accrue/accrue/transforms/currency"
)

// Topics of the contest stages.
const (
	TopicCredits  = "sales.credited"
	TopicProgress = "contest.progress"
	TopicAwards   = "awards"
)

// Award is a contest's award, on the awards topic keyed by rep:
//
//	{"award_id":"contest/q4-blitz/R-17/rank-1","contest_id":"q4-blitz","contest_name":"Q4 blitz",
//	 "contest_kind":"race","rep_id":"R-17","rank":1,"tied":false,"measure":"52000.00",
//	 "reward":{"amount":"500.00","currency":"USD"}}
//
// A milestone's has no rank ("rank":0) and the id ends in /milestone; a
// badge reward is {"badge":"contest-gold"}.
type Award struct {
	AwardID     string     `json:"award_id"`
	ContestID   string     `json:"contest_id"`
	ContestName string     `json:"contest_name"`
	ContestKind string     `json:"contest_kind"`
	RepID       string     `json:"rep_id"`
	Rank        int        `json:"rank"`
	Tied        bool       `json:"tied"`
	Measure     string     `json:"measure"`
	Reward      wireReward `json:"reward"`
	EventID     string     `json:"event_id,omitempty"`
}

type wireReward struct {
	Amount   string `json:"amount,omitempty"`
	Currency string `json:"currency,omitempty"`
	Badge    string `json:"badge,omitempty"`
}

func newAward(c *Contest, rep string, rank int, tied bool, measure decimal.Decimal, r *Reward, eventID string) *Award {
	id := "contest/" + c.ID + "/" + rep + "/milestone"
	if c.Kind == Race {
		id = "contest/" + c.ID + "/" + rep + "/rank-" + strconv.Itoa(rank)
	}
	a := &Award{AwardID: id, ContestID: c.ID, ContestName: c.Name, ContestKind: string(c.Kind), RepID: rep, Rank: rank,
		Tied: tied, Measure: c.format(measure), EventID: eventID}
	if r.Amount.Valid {
		places, _ := iso.MinorUnits(r.Currency)
		a.Reward = wireReward{Amount: r.Amount.Decimal.StringFixed(places), Currency: r.Currency}
	} else {
		a.Reward = wireReward{Badge: r.Badge}
	}
	return a
}

// format writes a measure as reports do: money to the currency's minor
// unit, half-even; quantities and counts exactly.
func (c *Contest) format(m decimal.Decimal) string {
	if c.Measure == program.Amount || c.Measure == program.Margin {
		places, _ := iso.MinorUnits(c.Currency)
		return m.RoundBank(places).StringFixed(places)
	}
	return m.String()
}

func (a *Award) json() []byte {
	b, _ := json.Marshal(a)
	return b
}
