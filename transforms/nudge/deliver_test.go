package nudge_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/sinks/certificate"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/nudge"
	"github.com/accrue/accrue/transforms/reference"
)

// clock is a settable clock for the stage.
type clock struct{ ns atomic.Int64 }

func (c *clock) set(s string) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	c.ns.Store(t.UnixNano())
}
func (c *clock) now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

const testPolicy = `
defaults: {locale: en, timezone: UTC, channels: [email, push, sms]}
throttle: {max_per_day: 2, exempt: [badge]}
quiet_hours: {from: "21:00", to: "08:00"}
certificates:
  badges: {quota-club: Quota Club}
`

func aeProgram(t *testing.T) *program.Program {
	t.Helper()
	b, err := os.ReadFile("../../docs/programs/ae-commission.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := program.Parse("ae-commission.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type deliverTopology struct {
	brokers                                      []string
	nudges, awards, prefs, out, suppressed, name string
}

func newDeliverTopology(t *testing.T, brokers []string, partitions int32) *deliverTopology {
	tp := &deliverTopology{brokers: brokers, nudges: uniq("nudges"), awards: uniq("awards"), prefs: uniq("prefs"),
		out: uniq("messages"), suppressed: uniq("suppressed"), name: uniq("deliver")}
	pt.CreateTopics(t, brokers, partitions, []string{tp.nudges, tp.awards, tp.out, tp.suppressed, tp.name + ".rejected"},
		tp.prefs, tp.name+".changelog")
	return tp
}

func repTables() *reference.Tables {
	var tables reference.Tables
	for _, r := range []reference.Rep{
		{RepID: "R-TYO", Name: "Haruto Sato", Email: "haruto@example.com"},
		{RepID: "R-NYC", Name: "Maya Brooks", Email: "maya@example.com"},
		{RepID: "R-PAR", Name: "Zoë Martin", Email: "zoe@example.com"},
		{RepID: "R-SMS", Name: "Sam Okafor", Email: "sam@example.com"},
		{RepID: "R-3", Name: "Bo Chen", Email: "bo@example.com"},
	} {
		r.ValidFrom = reference.Forever
		tables.Put(r)
	}
	return &tables
}

func crossed(rep, threshold string) string {
	return fmt.Sprintf(`{"kind":"attainment_crossed","program_id":"ae-commission","period":"2026-11","rep_id":%q,"threshold":%q,"attainment":%q,"event_id":"ev-%s-%s"}`,
		rep, threshold, threshold, rep, threshold)
}

// The delivery stage on kfake with a clock of its own: reps in Tokyo, New
// York and Paris get the same nudges at the same instants.
//
//   - 13:30Z is 22:30 in Tokyo: the Tokyo rep's nudges are held for the
//     quiet hours, and released in order when they end (08:00 Tokyo,
//     23:00Z) by a tick, with nothing else arriving;
//   - New York has no quiet hours of its own and a limit of 2 a day: its
//     third nudge is suppressed (daily_limit), the badge is exempt and
//     comes with its certificate; at 04:30Z (23:30 in New York) the day
//     is still full, at 05:00Z (midnight there) a new day starts though
//     the UTC date did not change;
//   - the Paris rep reads French with money in euros' and dollars' local
//     form; an SMS-only rep (no_channel) and an unknown rep are suppressed;
//     a malformed record and a kind without a template are dead letters.
func TestDeliverThrottlesAcrossTimeZones(t *testing.T) {
	_, brokers := pt.Fake(t)
	tp := newDeliverTopology(t, brokers, 3)
	clk := &clock{}
	clk.set("2026-11-03T13:30:00Z")
	templates, err := nudge.LoadTemplates("../../deploy/templates/messages.yaml")
	if err != nil {
		t.Fatal(err)
	}
	policy, err := nudge.ParsePolicy("policy.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	store, _ := certificate.NewFolder(t.TempDir())
	issuer, _ := certificate.NewIssuer([]byte("a test key of at least 16 bytes"), store)
	ae := aeProgram(t)
	reg := prometheus.NewRegistry()
	met := nudge.NewMetrics(reg)
	proc, err := nudge.NewDeliver(nudge.DeliverConfig{Templates: templates, Policy: policy, Reps: repTables(),
		Programs: func(id string) *program.Program {
			if id == ae.ID {
				return ae
			}
			return nil
		},
		Issuer: issuer, Awards: tp.awards, Prefs: tp.prefs, Output: tp.out, Suppressed: tp.suppressed, Now: clk.now, Metrics: met})
	if err != nil {
		t.Fatal(err)
	}
	rec := func(topic, key, value string) *kgo.Record {
		return &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(value)}
	}
	produce(t, brokers,
		rec(tp.prefs, "R-TYO", `{"rep_id":"R-TYO","timezone":"Asia/Tokyo","locale":"en"}`),
		rec(tp.prefs, "R-NYC", `{"rep_id":"R-NYC","timezone":"America/New_York","locale":"en-US","quiet_hours":{"from":"00:00","to":"00:00"}}`),
		rec(tp.prefs, "R-PAR", `{"rep_id":"R-PAR","timezone":"Europe/Paris","locale":"fr-FR"}`),
		rec(tp.prefs, "R-SMS", `{"rep_id":"R-SMS","channels":["sms"]}`),
	)
	_, stop := run[nudge.DeliverState](t, pipeline.Config{Name: tp.name, Brokers: brokers,
		Inputs: []string{tp.nudges, tp.awards, tp.prefs}}, nudge.DeliverCodec{}, proc)
	// Preferences first, so that every rep's are in state before a nudge.
	time.Sleep(500 * time.Millisecond)
	produce(t, brokers,
		rec(tp.nudges, "R-TYO", crossed("R-TYO", "0.5")),
		rec(tp.nudges, "R-NYC", crossed("R-NYC", "0.5")),
		rec(tp.nudges, "R-NYC", `{"kind":"near_next_tier","program_id":"ae-commission","period":"2026-11","rep_id":"R-NYC","band_from":"1.0","gap":"500.00","event_id":"ev-n1"}`),
		rec(tp.nudges, "R-NYC", crossed("R-NYC", "0.8")),
		rec(tp.awards, "R-NYC", `{"badge":"quota-club","program_id":"ae-commission","period":"2026-11","rep_id":"R-NYC","event_id":"ev-b1"}`),
		rec(tp.nudges, "R-PAR", `{"kind":"near_next_tier","program_id":"ae-commission","period":"2026-11","rep_id":"R-PAR","band_from":"1.0","gap":"1234.5","event_id":"ev-p1"}`),
		rec(tp.nudges, "R-SMS", crossed("R-SMS", "0.5")),
		rec(tp.nudges, "R-GHOST", crossed("R-GHOST", "0.5")),
		rec(tp.nudges, "R-PAR", `{"kind":"leaderboard_overtaken","nudge_id":"ae-commission/2026-11/R-PAR/leaderboard_overtaken/R-3/4","program_id":"ae-commission","period":"2026-11","rep_id":"R-PAR","rank":2,"previous_rank":1,"rank_by":"measure","score":"900.00","by_rep_id":"R-3","by_score":"950.00","currency":"USD","event_id":"ev-o1"}`),
		rec(tp.nudges, "R-TYO", crossed("R-TYO", "0.8")),
		rec(tp.nudges, "R-PAR", `not json`),
		rec(tp.nudges, "R-PAR", `{"kind":"mystery","nudge_id":"x/1","rep_id":"R-PAR"}`),
	)
	type outcome struct{ sent, suppressed, rejected []*kgo.Record }
	read := func(sent, suppressed, rejected int) outcome {
		t.Helper()
		var o outcome
		pt.WaitFor(t, 20*time.Second, fmt.Sprintf("%d sent, %d suppressed, %d rejected", sent, suppressed, rejected), func() bool {
			o = outcome{pt.ReadAll(t, brokers, tp.out), pt.ReadAll(t, brokers, tp.suppressed), pt.ReadAll(t, brokers, tp.name+".rejected")}
			return len(o.sent) >= sent && len(o.suppressed) >= suppressed && len(o.rejected) >= rejected
		})
		time.Sleep(200 * time.Millisecond)
		o = outcome{pt.ReadAll(t, brokers, tp.out), pt.ReadAll(t, brokers, tp.suppressed), pt.ReadAll(t, brokers, tp.name+".rejected")}
		if len(o.sent) != sent || len(o.suppressed) != suppressed || len(o.rejected) != rejected {
			t.Fatalf("%d sent, %d suppressed, %d rejected; want %d, %d, %d", len(o.sent), len(o.suppressed), len(o.rejected), sent, suppressed, rejected)
		}
		return o
	}
	summary := func(recs []*kgo.Record) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, m := range objects(t, recs) {
			if m["_key"] != m["recipient"].(map[string]any)["rep_id"] {
				t.Errorf("%v keyed %v", m["message_id"], m["_key"])
			}
			if _, dup := out[m["message_id"].(string)]; dup {
				t.Errorf("%v twice", m["message_id"])
			}
			out[m["message_id"].(string)] = m
		}
		return out
	}

	o := read(5, 3, 2)
	sent := summary(o.sent)
	for _, id := range []string{
		"nudge:ae-commission/2026-11/R-NYC/attainment_crossed/0.5",
		"nudge:ae-commission/2026-11/R-NYC/near_next_tier/1",
		"award:ae-commission/2026-11/R-NYC/quota-club",
		"nudge:ae-commission/2026-11/R-PAR/near_next_tier/1",
		"nudge:ae-commission/2026-11/R-PAR/leaderboard_overtaken/R-3/4",
	} {
		if sent[id] == nil {
			t.Errorf("not sent: %s", id)
		}
	}
	if m := sent["nudge:ae-commission/2026-11/R-NYC/near_next_tier/1"]; m != nil && m["text"] != "You are $500.00 away from the 8% tier in Account executive commission." {
		t.Errorf("en-US text %q", m["text"])
	}
	if m := sent["nudge:ae-commission/2026-11/R-PAR/near_next_tier/1"]; m != nil &&
		m["text"] != "Il vous manque 1\u00a0234,50\u00a0$US pour atteindre le palier à 8\u00a0% dans Account executive commission." {
		t.Errorf("fr-FR text %q", m["text"])
	}
	if m := sent["nudge:ae-commission/2026-11/R-PAR/leaderboard_overtaken/R-3/4"]; m != nil && m["subject"] != "Bo Chen vient de vous dépasser" {
		t.Errorf("overtaken subject %q", m["subject"])
	}
	badge := sent["award:ae-commission/2026-11/R-NYC/quota-club"]
	if badge != nil {
		cert, _ := badge["certificate"].(map[string]any)
		if cert == nil {
			t.Fatalf("badge without certificate: %v", badge)
		}
		code := cert["code"].(string)
		if !strings.Contains(badge["text"].(string), code) {
			t.Errorf("badge text %q lacks the code", badge["text"])
		}
		got, err := issuer.Verify(context.Background(), code)
		if err != nil || got.RepName != "Maya Brooks" || got.BadgeTitle != "Quota Club" {
			t.Errorf("verify %s: %+v, %v", code, got, err)
		}
		if r := badge["recipient"].(map[string]any); r["email"] != "maya@example.com" || r["timezone"] != "America/New_York" {
			t.Errorf("recipient %v", r)
		}
	}
	sup := summary(o.suppressed)
	for id, reason := range map[string]string{
		"nudge:ae-commission/2026-11/R-NYC/attainment_crossed/0.8":   nudge.SuppressDailyLimit,
		"nudge:ae-commission/2026-11/R-SMS/attainment_crossed/0.5":   nudge.SuppressNoChannel,
		"nudge:ae-commission/2026-11/R-GHOST/attainment_crossed/0.5": nudge.SuppressUnknownRep,
	} {
		if sup[id] == nil || sup[id]["reason"] != reason {
			t.Errorf("%s: suppressed %v, want reason %s", id, sup[id], reason)
		}
	}
	reasons := map[string]bool{}
	for _, r := range o.rejected {
		v, _ := pipeline.Header(r, pipeline.HeaderReason)
		reasons[v] = true
	}
	if !reasons[nudge.ReasonMalformedInput] || !reasons[nudge.ReasonNoTemplate] {
		t.Errorf("dead letters %v", reasons)
	}
	if n := pipeline.Count(met.Suppressed(nudge.SuppressDailyLimit)); n != 1 {
		t.Errorf("daily_limit counted %d", n)
	}

	// 08:00 in Tokyo: a tick releases the two held nudges, in order.
	clk.set("2026-11-03T23:00:01Z")
	o = read(7, 3, 2)
	var tokyo []string
	for _, m := range objects(t, o.sent) {
		if m["_key"] == "R-TYO" {
			tokyo = append(tokyo, m["message_id"].(string))
			if m["deferred_until"] != "2026-11-03T23:00:00Z" {
				t.Errorf("deferred until %v", m["deferred_until"])
			}
		}
	}
	if strings.Join(tokyo, " ") != "nudge:ae-commission/2026-11/R-TYO/attainment_crossed/0.5 nudge:ae-commission/2026-11/R-TYO/attainment_crossed/0.8" {
		t.Errorf("released %v", tokyo)
	}

	// New York: 23:30 on the 3rd, still full; then midnight, a new day.
	clk.set("2026-11-04T04:30:00Z")
	produce(t, brokers, rec(tp.nudges, "R-NYC", crossed("R-NYC", "0.9")))
	read(7, 4, 2)
	clk.set("2026-11-04T05:00:01Z")
	produce(t, brokers, rec(tp.nudges, "R-NYC", crossed("R-NYC", "1.0")))
	o = read(8, 4, 2)
	if sent := summary(o.sent); sent["nudge:ae-commission/2026-11/R-NYC/attainment_crossed/1"] == nil {
		t.Errorf("the first nudge of New York's new day was not sent")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
