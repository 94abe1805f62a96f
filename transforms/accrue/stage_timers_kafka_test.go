package accrue

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/link"
)

// timerKillProgram has both time-based nudges and nothing that crosses
// partitions (no overrides), so that each partition's nudges follow from
// its own credits in order.
const timerKillProgram = `id: tk
version: 1
currency: USD
timezone: Asia/Tokyo
period: month
effective_from: 2026-01-01
credit: {measure: amount}
quota: {default: "20000"}
tiers:
  basis: attainment
  method: marginal
  bands: [{from: "0", rate: "0.02"}, {from: "0.5", rate: "0.05"}, {from: "1.0", rate: "0.08"}]
nudges:
  inactivity: {days: 4}
  period_ending: {days_before: 5, within: "0.3"}
`

// TestStageTimersSurviveKills runs `accrue stage accrue` as a process on
// the real broker over six months of credits by twenty reps on three
// partitions, and kills it with SIGKILL three times while it works. The
// nudges topic, read read_committed, must then hold every timer nudge
// that applying each partition's credits in order fires (each
// partition's watermark is its own), each exactly once, and no other.
func TestStageTimersSurviveKills(t *testing.T) {
	if testing.Short() {
		t.Skip("runs stage processes against a real broker")
	}
	brokers := pt.RealBrokers(t)
	seed := uint64(time.Now().UnixNano())
	dir := t.TempDir()
	t.Logf("seed %d; logs in %s", seed, dir)
	rnd := rand.New(rand.NewPCG(seed, 7))
	bin := pt.AccrueBinary(t)
	common := []string{"--brokers", brokers[0], "--log-level", "info"}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, append(append([]string{}, common...), args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("accrue %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
	}

	const parts = 3
	tp := newStageTopics(t, brokers, parts)
	sfx := strings.TrimPrefix(tp.name, "accrue-")
	refPrefix := "ref-" + sfx + "."
	var refs []string
	for _, k := range []string{"reps", "products", "accounts", "fx", "identities"} {
		refs = append(refs, refPrefix+k)
	}
	pt.CreateTopics(t, brokers, 1, nil, refs...)
	var reps strings.Builder
	for i := range 20 {
		fmt.Fprintf(&reps, `{"rep_id":"R-%d","role":"AE","valid_from":"2026-01-01"}`+"\n", i)
	}
	repsFile, progFile := filepath.Join(dir, "reps.jsonl"), filepath.Join(dir, "tk.yaml")
	for f, body := range map[string]string{repsFile: reps.String(), progFile: timerKillProgram} {
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("ref", "load", "--kind", "reps", "-q", "--topic", refPrefix+"reps", "--transactional-id", "ref-load-"+sfx, repsFile)
	run("program", "--topic", tp.programs, "publish", progFile)

	// Six months of sales; reps go quiet for days at a time.
	p, err := program.Parse("tk.yaml", []byte(timerKillProgram))
	if err != nil {
		t.Fatal(err)
	}
	tb := tables(t, reps.String(), "", "")
	e, err := New([]*program.Program{p}, tb)
	if err != nil {
		t.Fatal(err)
	}
	byPart := make([]*timerRun, parts)
	for i := range byPart {
		byPart[i] = &timerRun{t: t, e: e, s: MemoryStore{}}
	}
	var credits []link.Credit
	when := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1500 {
		when = when.Add(time.Duration(rnd.IntN(4*3600)) * time.Second)
		rep := fmt.Sprintf("R-%d", rnd.IntN(20))
		if rnd.IntN(3) == 0 {
			rep = fmt.Sprintf("R-%d", rnd.IntN(5)) // busy reps
		}
		amount := fmt.Sprintf("%d USD", 200+rnd.IntN(3000))
		line := sale(fmt.Sprint("T", i), when.Format(time.RFC3339), rep, amount)
		credits = append(credits, *credit(t, tb, line, rep))
		byPart[partitionOf(rep, parts)].sale(fmt.Sprint("T", i), when.Format(time.RFC3339), rep, amount)
	}
	var want []string
	for _, r := range byPart {
		want = append(want, r.nudges...)
	}
	slices.Sort(want)
	inact, ending := 0, 0
	for _, n := range want {
		switch {
		case strings.Contains(n, `"kind":"inactivity"`):
			inact++
		case strings.Contains(n, `"kind":"period_ending"`):
			ending++
		}
	}
	if inact < 20 || ending < 3 || inact+ending != len(want) {
		t.Fatalf("the input proves too little: %d inactivity, %d period_ending of %d nudges", inact, ending, len(want))
	}
	t.Logf("%d credits; expected %d inactivity and %d period_ending nudges", len(credits), inact, ending)

	start := func() *pt.Proc {
		return pt.StartProc(t, bin, dir, "accrue", append(append([]string{}, common...), "stage", "accrue",
			"--name", tp.name, "--input", tp.credited, "--overrides", tp.overrides, "--recompute", tp.recompute,
			"--dead-letter", tp.rejected,
			"--accruals", tp.accruals, "--attainment", tp.attainment, "--nudges", tp.nudges, "--awards", tp.awards,
			"--payable", tp.payable, "--programs-topic", tp.programs, "--ref-prefix", refPrefix,
			"--instance-id", "t1", "--admin-addr", "", "--sweep-interval", "2s",
			"--session-timeout", "6s", "--transaction-timeout", "10s", "--max-poll-records", "50")...)
	}
	produce := func(cs []link.Credit) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(tp.credited))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var rs []*kgo.Record
		for i := range cs {
			rs = append(rs, &kgo.Record{Key: []byte(cs[i].RepID), Value: cs[i].AppendJSON(nil)})
		}
		if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	nudges := func() int { return len(pt.ReadAll(t, brokers, tp.nudges)) }
	accruals := func() int { return len(pt.ReadAll(t, brokers, tp.accruals)) }
	proc := start()
	third := len(credits) / 3
	for k, part := range [][]link.Credit{credits[:third], credits[third : 2*third], credits[2*third:]} {
		produce(part)
		before := accruals()
		pt.WaitFor(t, 90*time.Second, fmt.Sprintf("part %d accruing", k+1), func() bool {
			if !proc.Alive() {
				proc.Died()
			}
			return accruals() > before+30
		})
		time.Sleep(time.Duration(rnd.IntN(300)) * time.Millisecond)
		proc.Kill()
		t.Logf("kill %d: %d accruals, %d nudges committed", k+1, accruals(), nudges())
		proc = start()
	}
	pt.WaitFor(t, 3*time.Minute, "every expected nudge", func() bool {
		if !proc.Alive() {
			proc.Died()
		}
		return nudges() >= len(want)
	})
	time.Sleep(2 * time.Second) // anything more would show now
	proc.Stop()
	var got []string
	for _, r := range pt.ReadAll(t, brokers, tp.nudges) {
		got = append(got, string(r.Value))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		for _, n := range got {
			if _, ok := slices.BinarySearch(want, n); !ok {
				t.Errorf("not expected: %s", n)
			}
		}
		for i, n := range got {
			if i > 0 && got[i-1] == n {
				t.Errorf("twice: %s", n)
			}
		}
		for _, n := range want {
			if _, ok := slices.BinarySearch(got, n); !ok {
				t.Errorf("missing: %s", n)
			}
		}
		t.Fatalf("%d nudges, want %d", len(got), len(want))
	}
}
