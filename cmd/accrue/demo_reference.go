package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/synth"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
)

// The demo's reference data: every rep, account and product synth uses,
// and rates between its currencies; a few reps come late and one never.
const (
	// demoLateAfter is when the late reps are published, after the
	// sales start.
	demoLateAfter = 2 * time.Second
	// demoParkDeadline is how long the demo's link stage lets an event
	// wait for its reference data (the product's default is a day).
	demoParkDeadline = 3 * time.Second
	demoAccounts     = 400
	demoProducts     = 40
)

// demoReference is the reference data of the demo, by kind, and the reps
// held back: late ones are published after demoLateAfter, missing ones
// never.
type demoReference struct {
	rows    map[reference.Kind][]reference.Row
	late    []reference.Row
	lateIDs []string
	missing []string
}

// newDemoReference builds reference data for synth's sources: the last
// rep of each source comes late, except the very last rep, who never
// comes (the busiest reps are the first ones, so these sell least). R-1
// moves to another team and manager on 2026-11-03, the second day of
// synth's sales.
func newDemoReference(sources []synth.Source) *demoReference {
	d := &demoReference{rows: map[reference.Kind][]reference.Row{}}
	add := func(r reference.Row) { d.rows[r.Kind()] = append(d.rows[r.Kind()], r) }
	since := func(s string) reference.Date {
		t, _ := reference.ParseDate(s)
		return t
	}
	for i, src := range sources {
		manager := fmt.Sprintf("M-%d", i+1)
		cur := src.Currencies[0]
		add(reference.Rep{RepID: manager, Name: "Manager of " + src.Name, Role: "Manager", Team: src.Name, Currency: cur, ValidFrom: since("2026-01-01")})
		for j, id := range src.Reps {
			rep := reference.Rep{RepID: id, Role: "AE", Team: src.Name, ManagerID: manager, Currency: cur, ValidFrom: since("2026-01-01")}
			switch {
			case i == len(sources)-1 && j == len(src.Reps)-1:
				d.missing = append(d.missing, id)
			case j == len(src.Reps)-1:
				d.late = append(d.late, rep)
				d.lateIDs = append(d.lateIDs, id)
			default:
				add(rep)
			}
		}
	}
	if reps := d.rows[reference.Reps]; len(reps) > 1 {
		r1 := reps[1].(reference.Rep)
		r1.Team, r1.ManagerID, r1.ValidFrom = r1.Team+"-strategic", "M-2", since("2026-11-03")
		add(r1)
	}
	var reps []string
	for _, src := range sources {
		reps = append(reps, src.Reps...)
	}
	for i := 1; i <= demoAccounts; i++ {
		add(reference.Account{AccountID: "A-" + strconv.Itoa(i), OwnerRepID: reps[i%len(reps)], ValidFrom: reference.Forever})
	}
	for i := 1; i <= demoProducts; i++ {
		add(reference.Product{ProductID: "P-" + strconv.Itoa(i), Category: []string{"software", "services", "hardware"}[i%3],
			ValidFrom: reference.Forever})
	}
	for _, r := range []struct{ from, to, rate string }{
		{"EUR", "USD", "1.08"}, {"USD", "JPY", "150"}, {"SGD", "USD", "0.74"},
	} {
		add(reference.FXRate{From: r.from, To: r.to, Rate: decimal.RequireFromString(r.rate), ValidFrom: since("2026-11-01")})
	}
	return d
}

// publish writes the rows of every kind, each kind in one transaction.
func (d *demoReference) publish(ctx context.Context, brokers []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("accrue-demo-ref-load"))
	if err != nil {
		return err
	}
	defer cl.Close()
	for _, k := range reference.Kinds {
		if rows := d.rows[k]; len(rows) > 0 {
			if err := reference.Publish(ctx, cl, k.Topic(), rows, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// publishLate writes the late reps, as an operator's late load would.
func (d *demoReference) publishLate(ctx context.Context, brokers []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("accrue-demo-ref-load"))
	if err != nil {
		return err
	}
	defer cl.Close()
	return reference.Publish(ctx, cl, reference.Reps.Topic(), d.late, nil)
}

// line says what the demo loads, for its header.
func (d *demoReference) line() string {
	var counts []string
	for _, k := range reference.Kinds {
		if n := len(d.rows[k]); n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, k))
		}
	}
	return fmt.Sprintf("reference: %s on ref.*; reps %s arrive after %s, %s never (its sales wait %s, then go to sales.rejected)",
		strings.Join(counts, ", "), strings.Join(d.lateIDs, ", "), demoLateAfter, strings.Join(d.missing, ", "), demoParkDeadline)
}

// demoTick is the demo's tick: parked events are looked at five times a
// second.
const demoTick = 200 * time.Millisecond

// demoCheck is one line of the final checks.
type demoCheck = struct {
	ok   bool
	text string
}

// linkSettled says whether the link stage has consumed every clean event
// and each has ended as credits or a rejection (none still parked), in
// committed transactions.
func (s *demoSummary) linkSettled() bool {
	in := pipeline.Count(s.met.RecordsIn(demoLink, demoClean))
	rejected := sumOf(s.stageRejects()[demoLink])
	return in >= pipeline.Count(s.met.RecordsOut(demoDedupe, demoClean)) &&
		pipeline.Count(s.met.RecordsOut(demoLink, demoCredited))+rejected >= in
}

// linkBooks checks that every clean event was credited (synth's sales have
// one recipient each) or rejected with the only reason the demo's
// reference data leaves, and that nothing is still parked.
func (s *demoSummary) linkBooks(sn demoSnapshot) demoCheck {
	onlyUnknownRep := len(sn.byStage[demoLink]) == 0 ||
		(len(sn.byStage[demoLink]) == 1 && sn.byStage[demoLink][link.ReasonUnknownRep] > 0)
	return demoCheck{
		ok: sn.linkIn == sn.clean && sn.linkCredits+sn.linkRejected == sn.clean && sn.parked == 0 && onlyUnknownRep,
		text: fmt.Sprintf("link: clean %s = credited %s + rejected %s (%s), none left parked",
			thousands(sn.clean), thousands(sn.linkCredits), thousands(sn.linkRejected), link.ReasonUnknownRep),
	}
}

// referenceCheck checks the late and the missing reference data: the
// missing rep's clean sales (counted on rep.totals) are exactly the
// unknown_rep rejections, and sales of the late reps that came before
// them were parked and released.
func (s *demoSummary) referenceCheck(sn demoSnapshot) demoCheck {
	missing := s.board.salesOf(s.ref.missing)
	late := s.board.salesOf(s.ref.lateIDs)
	return demoCheck{
		ok: sn.byStage[demoLink][link.ReasonUnknownRep] == missing && (sn.released > 0 || late == 0),
		text: fmt.Sprintf("reference data: %s's %s sales rejected %s after %s parked; %s parked sales of %s released when they arrived",
			strings.Join(s.ref.missing, ", "), thousands(missing), link.ReasonUnknownRep, demoParkDeadline,
			thousands(sn.released), strings.Join(s.ref.lateIDs, ", ")),
	}
}

// salesOf is the sum of the sales counts of reps on rep.totals.
func (b *leaderboard) salesOf(reps []string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	for _, r := range reps {
		n += b.reps[r].Sales
	}
	return n
}
