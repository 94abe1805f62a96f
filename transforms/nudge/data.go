package nudge

import (
	"maps"

	"github.com/accrue/accrue/transforms/accrue/program"
)

// Person is a rep as templates see it: .rep.id, .rep.name, .rep.email.
type Person struct {
	ID, Name, Email string
}

// DataInputs is what a template's data is made of besides the record.
type DataInputs struct {
	Rep Person
	// Program is the program the record names, nil when the catalog does
	// not hold it (or for a contest).
	Program *program.Program
	// ByRep is the rep who overtook (leaderboard_overtaken).
	ByRep Person
	// BadgeTitle is the badge's title from the delivery configuration,
	// or its id.
	BadgeTitle string
	// Certificate is the certificate issued with an award, if any.
	Certificate *CertificateRef
}

// CertificateRef is where an award's certificate is and its verification
// code.
type CertificateRef struct {
	Code string `json:"code"`
	URI  string `json:"uri"`
}

// TemplateData is the data a template is executed with: every field of the
// record as it was written (decimals are strings, numbers JSON numbers),
// and
//
//	.rep          {id, name, email} of the recipient
//	.program      {id, name, currency, measure} of the program ({id, name: id} when unknown; for contest awards the contest's id and name)
//	.band_rate    the rate of the band a near_next_tier or period_ending nudge is near ("" when the program is unknown)
//	.by_rep       {id, name} of the rep who overtook (leaderboard_overtaken)
//	.badge_title  the badge's title (badge, and contest awards of a badge)
//	.certificate  {code, uri} of an award's certificate, or nothing
func TemplateData(s *Subject, in DataInputs) map[string]any {
	m := maps.Clone(s.Fields)
	m["rep"] = map[string]any{"id": in.Rep.ID, "name": in.Rep.Name, "email": in.Rep.Email}
	prog := map[string]any{"id": s.ProgramID, "name": s.ProgramID, "currency": "", "measure": ""}
	if p := in.Program; p != nil {
		prog["name"], prog["currency"], prog["measure"] = p.Name, p.Currency, string(p.Credit.Measure)
	}
	if s.Kind == KindContestAward {
		if name, ok := s.Fields["contest_name"].(string); ok && name != "" {
			prog["name"] = name
		}
		// Every reward has the three keys, so that a template can test
		// {{if .reward.amount}} whatever the reward is.
		r := map[string]any{"amount": "", "currency": "", "badge": ""}
		if got, ok := s.Fields["reward"].(map[string]any); ok {
			maps.Copy(r, got)
		}
		m["reward"] = r
	}
	m["program"] = prog
	switch s.Kind {
	case KindNearNextTier, KindPeriodEnding:
		m["band_rate"] = ""
		if p := in.Program; p != nil {
			if from, err := toDecimal(s.Fields["band_from"]); err == nil {
				for _, b := range p.Tiers.Bands {
					if b.From.Equal(from) {
						m["band_rate"] = b.Rate.String()
					}
				}
			}
		}
	case KindOvertaken:
		m["by_rep"] = map[string]any{"id": in.ByRep.ID, "name": in.ByRep.Name}
	}
	if s.Award {
		m["badge_title"] = in.BadgeTitle
		m["certificate"] = nil
		if c := in.Certificate; c != nil {
			m["certificate"] = map[string]any{"code": c.Code, "uri": c.URI}
		}
	}
	return m
}

// Examples are the template data of one documented record of every kind
// the stages emit; ParseTemplates renders every template on its kind's
// example, so that a misspelt field is refused with the file.
var Examples = map[string]map[string]any{}

func init() {
	prog := &program.Program{ID: "ae-commission", Name: "Account executive commission", Currency: "USD",
		Credit: program.Credit{Measure: program.Amount}}
	ana := Person{ID: "R-17", Name: "Ana Lima", Email: "ana@example.com"}
	for kind, rec := range map[string]string{
		KindAttainmentCrossed: `{"kind":"attainment_crossed","program_id":"ae-commission","period":"2026-11","rep_id":"R-17","threshold":"0.8","attainment":"0.8981","event_id":"erp-eu:SO-1003:sale"}`,
		KindNearNextTier:      `{"kind":"near_next_tier","program_id":"ae-commission","period":"2026-11","rep_id":"R-17","band_from":"1.0","gap":"500.00","event_id":"erp-eu:SO-1004:sale"}`,
		KindInactivity:        `{"kind":"inactivity","nudge_id":"ae-commission/2026-11/R-17/inactivity/2026-11-03T10:15:00Z","program_id":"ae-commission","period":"2026-11","rep_id":"R-17","days":7,"last_sale":"2026-11-03T10:15:00Z","at":"2026-11-10T10:15:00Z"}`,
		KindPeriodEnding:      `{"kind":"period_ending","nudge_id":"ae-commission/2026-11/R-17/period_ending","program_id":"ae-commission","period":"2026-11","rep_id":"R-17","days_before":5,"period_end":"2026-12-01T00:00:00Z","band_from":"1.0","gap":"500.00","at":"2026-11-26T00:00:00Z"}`,
		KindTopN:              `{"kind":"leaderboard_top_n","nudge_id":"ae-commission/2026-11/R-17/leaderboard_top_n/10","program_id":"ae-commission","period":"2026-11","rep_id":"R-17","rank":7,"top_n":10,"rank_by":"measure","score":"41250.00","currency":"USD","event_id":"erp:SO-9:sale"}`,
		KindOvertaken:         `{"kind":"leaderboard_overtaken","nudge_id":"ae-commission/2026-11/R-17/leaderboard_overtaken/R-3/12","program_id":"ae-commission","period":"2026-11","rep_id":"R-17","rank":3,"previous_rank":2,"rank_by":"measure","score":"40000.00","by_rep_id":"R-3","by_score":"41250.00","currency":"USD","event_id":"erp:SO-9:sale"}`,
	} {
		s, err := DecodeSubject([]byte(rec), false)
		if err != nil {
			panic(err)
		}
		Examples[kind] = TemplateData(s, DataInputs{Rep: ana, Program: prog, ByRep: Person{ID: "R-3", Name: "Bo Chen"}})
	}
	for kind, rec := range map[string]string{
		KindBadge:        `{"badge":"quota-club","program_id":"ae-commission","period":"2026-11","rep_id":"R-17","event_id":"erp-eu:SO-1005:sale"}`,
		KindContestAward: `{"award_id":"contest/q4-blitz/R-17/rank-1","contest_id":"q4-blitz","contest_name":"Q4 blitz","contest_kind":"race","rep_id":"R-17","rank":1,"tied":false,"measure":"52000.00","reward":{"amount":"500.00","currency":"USD"}}`,
	} {
		s, err := DecodeSubject([]byte(rec), true)
		if err != nil {
			panic(err)
		}
		Examples[kind] = TemplateData(s, DataInputs{Rep: ana, Program: prog, BadgeTitle: "Quota Club",
			Certificate: &CertificateRef{Code: "7KQM-2XD4-PF9A-R3TB", URI: "file:///var/lib/accrue/certificates/7KQM-2XD4-PF9A-R3TB.pdf"}})
	}
}
