package contest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/contest"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
)

func mustParse(t *testing.T, doc string) *contest.Contest {
	t.Helper()
	c, err := contest.Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func run[S any](t *testing.T, cfg pipeline.Config, codec pipeline.Codec[S], proc pipeline.Processor[S]) {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Metrics = pipeline.NewMetrics(prometheus.NewRegistry())
	cfg.SessionTimeout, cfg.TransactionTimeout, cfg.TickInterval = 2*time.Second, 5*time.Second, 50*time.Millisecond
	st, err := pipeline.NewStage[S](cfg, codec, proc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

func credit(rep, txn string, typ canonical.Type, amount, cur, when string) *kgo.Record {
	e := &canonical.Event{Source: "crm", TxnID: txn, Type: typ, RepID: rep,
		Amount: canonical.Money{Value: decimal.RequireFromString(amount), Currency: cur}}
	e.EventTime, _ = time.Parse(time.RFC3339, when)
	if typ == canonical.Return {
		e.TxnID, e.RefTxnID = "R"+txn, txn
	}
	e.EventID = canonical.DefaultEventID(e.Source, e.TxnID, e.Type)
	c := &link.Credit{Event: e, RepID: rep, Share: decimal.NewFromInt(1), Via: link.ViaRep}
	return &kgo.Record{Key: []byte(rep), Value: c.AppendJSON(nil)}
}

// Contests on kfake: a milestone (two sales), a race to 1000 USD (first
// 2) and a race for the top 2 by amount, over the same credits:
//
//	600 on 2 Nov, 500 on 5 Nov 10:00   → 1100, reached 5 Nov 10:00; 2 sales
//	1000 on 5 Nov 10:00                → 1000, reached 5 Nov 10:00 (a tie with R-1)
//	2000 on 3 Nov, 1500 returned later → 500: first to reach, but below at the end
//	1200 on 10 Nov, 100 on 1 Dec       → 1200 (December is outside)
//	EUR 1000 on 4 Nov at 1.1           → 1100, reached 4 Nov
//
// First 2: R-5 #1, R-1 and R-2 tied #2 (both rewarded), R-4 #4. Top 2:
// R-4 #1, R-1 and R-5 tied #2 at 1100. Milestone: R-1 only, at once. The
// races pay nothing before they are settled, and once after.
func TestContestsMilestoneAndRacesWithTies(t *testing.T) {
	_, brokers := pt.Fake(t)
	sfx := fmt.Sprintf("%d", time.Now().UnixNano())
	credited, progress, awards := "credited-"+sfx, "progress-"+sfx, "awards-"+sfx
	pname, rname := "contest-"+sfx, "contest-rank-"+sfx
	pt.CreateTopics(t, brokers, 2, []string{credited, progress, awards, pname + ".rejected", rname + ".rejected"},
		pname+".changelog", rname+".changelog")
	window := "timezone: UTC\nstarts: 2026-11-01\nends: 2026-11-30\nsettle: 1h\n"
	contests := []*contest.Contest{
		mustParse(t, "id: two-sales\nkind: milestone\n"+window+"measure: count\ntarget: 2\nreward: {badge: contest-gold}\n"),
		mustParse(t, "id: first2\nkind: race\n"+window+"currency: USD\nmeasure: amount\ntarget: \"1000\"\nrace: {first: 2}\n"+
			"rewards:\n  - {rank: 1, amount: \"500\"}\n  - {rank: 2, amount: \"200\"}\n"),
		mustParse(t, "id: top2\nkind: race\n"+window+"currency: USD\nmeasure: amount\nrace: {top: 2}\n"+
			"rewards:\n  - {rank: 1, badge: top-gold}\n  - {rank: 2, amount: \"100\"}\n"),
	}
	var tables reference.Tables
	tables.Put(reference.FXRate{From: "EUR", To: "USD", Rate: decimal.RequireFromString("1.1"), ValidFrom: reference.Forever})
	for i := 1; i <= 5; i++ {
		tables.Put(reference.Rep{RepID: fmt.Sprintf("R-%d", i), ValidFrom: reference.Forever})
	}
	var now atomic.Int64
	setNow := func(s string) { v, _ := time.Parse(time.RFC3339, s); now.Store(v.UnixNano()) }
	setNow("2026-11-25T00:00:00Z")
	prog, _ := contest.NewProgress(contest.ProgressConfig{Contests: contests, Tables: &tables, Progress: progress, Awards: awards})
	rank, _ := contest.NewRank(contest.RankConfig{Contests: contests, Awards: awards,
		Now: func() time.Time { return time.Unix(0, now.Load()) }})
	run[contest.State](t, pipeline.Config{Name: pname, Brokers: brokers, Inputs: []string{credited}}, contest.Codec{}, prog)
	run[contest.State](t, pipeline.Config{Name: rname, Brokers: brokers, Inputs: []string{progress}}, contest.Codec{}, rank)

	var recs []*kgo.Record
	for _, r := range []*kgo.Record{
		credit("R-1", "S1", canonical.Sale, "600", "USD", "2026-11-02T10:00:00Z"),
		credit("R-3", "S4", canonical.Sale, "2000", "USD", "2026-11-03T09:00:00Z"),
		credit("R-5", "S7", canonical.Sale, "1000", "EUR", "2026-11-04T12:00:00Z"),
		credit("R-1", "S2", canonical.Sale, "500", "USD", "2026-11-05T10:00:00Z"),
		credit("R-2", "S3", canonical.Sale, "1000", "USD", "2026-11-05T10:00:00Z"),
		credit("R-4", "S5", canonical.Sale, "1200", "USD", "2026-11-10T10:00:00Z"),
		credit("R-3", "S4", canonical.Return, "1500", "USD", "2026-11-20T10:00:00Z"),
		credit("R-4", "S6", canonical.Sale, "100", "USD", "2026-12-01T10:00:00Z"),
	} {
		r.Topic = credited
		recs = append(recs, r)
	}
	cl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...))
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	summarize := func(rs []*kgo.Record) []string {
		var out []string
		for _, r := range rs {
			var a contest.Award
			if err := json.Unmarshal(r.Value, &a); err != nil {
				t.Fatal(err)
			}
			if string(r.Key) != a.RepID {
				t.Errorf("%s keyed %s", a.AwardID, r.Key)
			}
			s := a.AwardID + " " + a.Measure
			if a.Tied {
				s += " tied"
			}
			if a.Reward.Badge != "" {
				s += " badge " + a.Reward.Badge
			} else {
				s += " " + a.Reward.Amount + " " + a.Reward.Currency
			}
			out = append(out, s)
		}
		sort.Strings(out)
		return out
	}
	// The milestone pays at once; the races wait for their settlement.
	pt.WaitFor(t, 20*time.Second, "the milestone and every progress record", func() bool {
		return len(pt.ReadAll(t, brokers, awards)) >= 1 && len(pt.ReadAll(t, brokers, progress)) >= 14
	})
	time.Sleep(300 * time.Millisecond)
	if got := summarize(pt.ReadAll(t, brokers, awards)); strings.Join(got, "|") != "contest/two-sales/R-1/milestone 2 badge contest-gold" {
		t.Fatalf("before settlement: %v", got)
	}
	setNow("2026-12-01T01:00:01Z")
	want := []string{
		"contest/first2/R-1/rank-2 1100.00 tied 200.00 USD",
		"contest/first2/R-2/rank-2 1000.00 tied 200.00 USD",
		"contest/first2/R-5/rank-1 1100.00 500.00 USD",
		"contest/top2/R-1/rank-2 1100.00 tied 100.00 USD",
		"contest/top2/R-4/rank-1 1200.00 badge top-gold",
		"contest/top2/R-5/rank-2 1100.00 tied 100.00 USD",
		"contest/two-sales/R-1/milestone 2 badge contest-gold",
	}
	pt.WaitFor(t, 20*time.Second, "the races' awards", func() bool { return len(pt.ReadAll(t, brokers, awards)) >= len(want) })
	time.Sleep(500 * time.Millisecond) // ticks go on: nothing more may come
	if got := summarize(pt.ReadAll(t, brokers, awards)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("awards:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
