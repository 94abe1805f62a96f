package link_test

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/connectors/canonical"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/sanitize"
)

// TestParkedEventsExactlyOnceAcrossKills runs `accrue stage link` as a
// process on the real broker and kills it with SIGKILL while it links,
// parks, releases and expires:
//
//   - reps R-1…R-20 are loaded before the stage starts: their sales and
//     returns are credited at once;
//   - reps R-21…R-30 are loaded (with `accrue ref load`) while the stage is
//     dead, after their sales were parked: the restarted stage, which gets
//     no new input, must release them from its restored state;
//   - reps R-31…R-35 never come: their sales are rejected unknown_rep at the
//     deadline, and returns of them unknown_original after theirs;
//   - 1% of the events are sent twice: duplicate.
//
// Every event must end exactly once in sales.credited or sales.rejected.
func TestParkedEventsExactlyOnceAcrossKills(t *testing.T) {
	if testing.Short() {
		t.Skip("runs stage processes against a real broker")
	}
	brokers := pt.RealBrokers(t)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	t.Logf("seed %d; logs in %s", seed, dir)
	tp := newTopology(t, brokers, 6)
	bin := pt.AccrueBinary(t)
	common := []string{"--brokers", brokers[0], "--log-level", "info"}
	refPrefix := strings.TrimSuffix(tp.refs["reps"], "reps")

	// Reference data: reps as JSON lines now, the late ones as CSV later.
	var known, late strings.Builder
	late.WriteString("rep_id,team,manager_id,valid_from\n")
	for i := 1; i <= 30; i++ {
		if i <= 20 {
			fmt.Fprintf(&known, `{"rep_id":"R-%d","team":"t%d","manager_id":"M-1","valid_from":"2026-01-01"}`+"\n", i, i%3)
		} else {
			fmt.Fprintf(&late, "R-%d,t%d,M-2,2026-01-01\n", i, i%3)
		}
	}
	knownFile, lateFile := filepath.Join(dir, "reps.jsonl"), filepath.Join(dir, "late-reps.csv")
	for f, s := range map[string]string{knownFile: known.String(), lateFile: late.String()} {
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	refLoad := func(file string) {
		out, err := exec.Command(bin, append(append([]string{}, common...), "ref", "load", "--kind", "reps", "-q",
			"--topic", tp.refs["reps"], "--transactional-id", "ref-load-"+tp.name, file)...).CombinedOutput()
		if err != nil {
			t.Fatalf("accrue ref load %s: %v\n%s", file, err, out)
		}
	}
	refLoad(knownFile)

	// Events: sales of R-1…R-35, returns of earlier sales, 1% twice.
	want := map[string]string{} // event id: "credit" or the rejection reason
	var events []*canonical.Event
	var sales []*canonical.Event
	repOf := map[string]int{}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3000; i++ {
		when := t0.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
		var e *canonical.Event
		if len(sales) > 10 && rng.Intn(10) == 0 {
			orig := sales[rng.Intn(len(sales))]
			e = ev(orig.Source, "RT-"+strconv.Itoa(i), canonical.Return, when, func(e *canonical.Event) {
				e.RefTxnID = orig.TxnID
				e.Amount.Value = decimal.RequireFromString("1")
			})
			switch r := repOf[orig.TxnID]; {
			case r <= 30:
				want[e.EventID] = "credit"
			default:
				want[e.EventID] = link.ReasonUnknownOriginal
			}
		} else {
			r := 1 + rng.Intn(35)
			e = ev([]string{"crm", "erp"}[i%2], "S-"+strconv.Itoa(i), canonical.Sale, when, func(e *canonical.Event) {
				e.RepID = "R-" + strconv.Itoa(r)
			})
			repOf[e.TxnID] = r
			sales = append(sales, e)
			want[e.EventID] = "credit"
			if r > 30 {
				want[e.EventID] = link.ReasonUnknownRep
			}
		}
		events = append(events, e)
		if rng.Intn(100) == 0 {
			events = append(events, e) // the copy is rejected, the first copy ends as above
		}
	}
	dups := len(events) - len(want)
	byID := map[string]*canonical.Event{}
	for _, e := range events {
		byID[e.EventID] = e
	}
	wantCredits, wantRejected, creditsOfKnown := 0, dups, 0
	for id, w := range want {
		if w != "credit" {
			wantRejected++
			continue
		}
		wantCredits++
		e := byID[id]
		txn := e.TxnID
		if e.Type == canonical.Return {
			txn = e.RefTxnID
		}
		if repOf[txn] <= 20 {
			creditsOfKnown++
		}
	}
	t.Logf("%d events (%d copies): %d credits (%d of reps known from the start) and %d rejections expected",
		len(events), dups, wantCredits, creditsOfKnown, wantRejected)

	start := func() *pt.Proc {
		return pt.StartProc(t, bin, dir, "link", append(append([]string{}, common...), "stage", "link",
			"--name", tp.name, "--input", tp.in, "--output", tp.credited, "--dead-letter", tp.rejected,
			"--ref-prefix", refPrefix, "--instance-id", "l1", "--admin-addr", "",
			"--park-deadline", "40s", "--tick", "200ms",
			"--session-timeout", "6s", "--transaction-timeout", "10s", "--max-poll-records", "300")...)
	}
	counts := func() (credits, rejected int) {
		return len(pt.ReadAll(t, brokers, tp.credited)), len(pt.ReadAll(t, brokers, tp.rejected))
	}
	waitFor := func(p *pt.Proc, what string, timeout time.Duration, cond func(credits, rejected int) bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			c, r := counts()
			if cond(c, r) {
				return
			}
			if !p.Alive() {
				p.Died()
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %v waiting for %s: %d credits, %d rejected", timeout, what, c, r)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}

	produceEvents(t, brokers, tp.in, events...)
	p := start()
	time.Sleep(time.Duration(500+rng.Intn(1500)) * time.Millisecond)
	if !p.Alive() {
		p.Died()
	}
	p.Kill()
	p = start()
	waitFor(p, "the credits of the known reps and the copies rejected", 2*time.Minute, func(c, r int) bool {
		return c >= creditsOfKnown && r >= dups
	})
	// Parked now: the late and the missing reps' events. Kill, load the
	// late reps while the stage is down, restart: no input arrives, only
	// the restored state and the reference tables can release them.
	p.Kill()
	parkedKeys := 0
	for k := range pt.LastValues(pt.ReadAll(t, brokers, tp.name+".changelog")) {
		if strings.HasPrefix(k, link.ParkedPrefix) {
			parkedKeys++
		}
	}
	if parkedKeys == 0 {
		t.Fatal("nothing parked in the changelog before the late reps were loaded")
	}
	t.Logf("%d events parked when the stage was killed", parkedKeys)
	refLoad(lateFile)
	p = start()
	time.Sleep(time.Duration(1000+rng.Intn(1500)) * time.Millisecond)
	p.Kill()
	p = start()
	waitFor(p, "every credit", 2*time.Minute, func(c, _ int) bool { return c >= wantCredits })
	// Between the releases and the deadline.
	p.Kill()
	p = start()
	waitFor(p, "every rejection (after the park deadline)", 2*time.Minute, func(_, r int) bool { return r >= wantRejected })
	out := p.Stop()
	t.Logf("stage stopped: %s", strings.TrimSpace(string(out)))
	if !strings.Contains(string(out), `"parked":0`) {
		t.Errorf("events still parked at the end: %s", out)
	}

	o := read(t, tp)
	if len(o.problems) > 0 {
		t.Fatalf("exactly-once violated: %v", o.problems[:min(10, len(o.problems))])
	}
	credited := map[string]int{}
	for _, c := range o.credits {
		credited[link.EventID(c.Event)]++
	}
	var bad []string
	dupRejected := 0
	for id, w := range want {
		got := o.rejected[id]
		if strings.Contains(got, sanitize.ReasonDuplicate) {
			dupRejected++
			got = strings.Trim(strings.Replace(got, sanitize.ReasonDuplicate, "", 1), "+")
		}
		switch {
		case w == "credit" && credited[id] == 1 && got == "":
		case w != "credit" && credited[id] == 0 && got == w:
		default:
			bad = append(bad, fmt.Sprintf("%s: want %s, got %d credits and rejections %q", id, w, credited[id], o.rejected[id]))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%d events did not end exactly once as expected: %v", len(bad), bad[:min(10, len(bad))])
	}
	if c, r := counts(); c != wantCredits || r != wantRejected {
		t.Fatalf("%d credits (want %d), %d rejected (want %d)", c, wantCredits, r, wantRejected)
	}
	if dupRejected != dups {
		t.Errorf("%d copies rejected as duplicates, want %d", dupRejected, dups)
	}
}
