package nudge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/reference"
)

// TestDeliverExactlyOnceAcrossKills runs `accrue stage deliver` as a
// process on the real broker and kills it with SIGKILL twice while it
// renders 3,000 nudges for 50 reps, each rep limited to 50 a day. Every
// nudge must end exactly once: 50 messages and 10 suppressed (daily_limit)
// per rep, every idempotency key once, none lost, none twice. The daily
// counts live in the stage's state: a count lost or doubled by a kill
// would move the line between sent and suppressed.
func TestDeliverExactlyOnceAcrossKills(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a stage process against a real broker")
	}
	brokers := pt.RealBrokers(t)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	t.Logf("seed %d; logs in %s", seed, dir)
	tp := newDeliverTopology(t, brokers, 4)
	refPrefix := uniq("ref") + "."
	pt.CreateTopics(t, brokers, 1, nil, refPrefix+"reps")
	const reps, perRep, limit = 50, 60, 50
	var rows []reference.Row
	for i := 0; i < reps; i++ {
		rows = append(rows, reference.Rep{RepID: fmt.Sprintf("R-%d", i), Name: fmt.Sprintf("Rep %d", i),
			Email: fmt.Sprintf("r%d@example.com", i), ValidFrom: reference.Forever})
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(uniq("ref-load")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := reference.Publish(ctx, cl, refPrefix+"reps", rows, nil); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	config := filepath.Join(dir, "delivery.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf("throttle: {max_per_day: %d}\n", limit)), 0o644); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Format(time.DateOnly)

	// Rep by rep, threshold by threshold, interleaved.
	var recs []*kgo.Record
	for n := 1; n <= perRep; n++ {
		for i := 0; i < reps; i++ {
			rep := fmt.Sprintf("R-%d", i)
			recs = append(recs, &kgo.Record{Topic: tp.nudges, Key: []byte(rep), Value: []byte(crossed(rep, fmt.Sprint(n)))})
		}
	}
	bin := pt.AccrueBinary(t)
	start := func() *pt.Proc {
		return pt.StartProc(t, bin, dir, "deliver", "--brokers", brokers[0], "stage", "deliver",
			"--name", tp.name, "--nudges", tp.nudges, "--awards", tp.awards, "--preferences", tp.prefs,
			"--output", tp.out, "--suppressed", tp.suppressed, "--dead-letter", tp.name+".rejected",
			"--templates", "../../deploy/templates/messages.yaml", "--config", config,
			"--ref-prefix", refPrefix, "--programs-topic", "", "--instance-id", "d1", "--admin-addr", "",
			"--tick", "200ms", "--session-timeout", "6s", "--transaction-timeout", "10s", "--max-poll-records", "20")
	}
	count := func() (int, int) {
		return len(pt.ReadAll(t, brokers, tp.out)), len(pt.ReadAll(t, brokers, tp.suppressed))
	}
	produceChunk := func(rs []*kgo.Record) {
		pcl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond))
		defer pcl.Close()
		if err := pcl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// A third of the nudges, then the stage; kill it while it works, give
	// it the next third while it is down, and so on.
	third := len(recs) / 3
	produceChunk(recs[:third])
	p := start()
	for kill := 0; kill < 2; kill++ {
		// Wait for it to be at work, then kill it at a random moment.
		pt.WaitFor(t, 30*time.Second, "the stage at work", func() bool {
			sent, sup := count()
			return sent+sup > kill*third+50 || !p.Alive()
		})
		time.Sleep(time.Duration(rng.Intn(400)) * time.Millisecond)
		if !p.Alive() {
			p.Died()
		}
		sent, sup := count()
		t.Logf("kill %d after %d sent, %d suppressed", kill+1, sent, sup)
		p.Kill()
		produceChunk(recs[(kill+1)*third : min((kill+2)*third, len(recs))])
		p = start()
	}
	deadline := time.Now().Add(40 * time.Second)
	for {
		sent, sup := count()
		if sent+sup >= reps*perRep {
			break
		}
		if !p.Alive() {
			p.Died()
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the kills: %d sent and %d suppressed of %d", sent, sup, reps*perRep)
		}
		time.Sleep(300 * time.Millisecond)
	}
	p.Stop()

	seen := map[string]int{}
	perRepSent, perRepSup := map[string]int{}, map[string]int{}
	for topic, tally := range map[string]map[string]int{tp.out: perRepSent, tp.suppressed: perRepSup} {
		for _, r := range pt.ReadAll(t, brokers, topic) {
			var m struct {
				Key       string `json:"idempotency_key"`
				Reason    string `json:"reason"`
				Recipient struct {
					RepID string `json:"rep_id"`
					Email string `json:"email"`
				} `json:"recipient"`
				Text string `json:"text"`
			}
			if err := json.Unmarshal(r.Value, &m); err != nil {
				t.Fatal(err)
			}
			seen[m.Key]++
			tally[m.Recipient.RepID]++
			if string(r.Key) != m.Recipient.RepID || m.Recipient.Email == "" || !strings.Contains(m.Text, "Rep ") {
				t.Errorf("message %s: key %s, recipient %+v, text %q", m.Key, r.Key, m.Recipient, m.Text)
			}
			if topic == tp.suppressed && m.Reason != "daily_limit" {
				t.Errorf("%s suppressed for %s", m.Key, m.Reason)
			}
		}
	}
	var problems []string
	for n := 1; n <= perRep; n++ {
		for i := 0; i < reps; i++ {
			k := fmt.Sprintf("nudge:ae-commission/2026-11/R-%d/attainment_crossed/%d", i, n)
			if seen[k] != 1 {
				problems = append(problems, fmt.Sprintf("%s seen %d times", k, seen[k]))
			}
		}
	}
	if len(seen) != reps*perRep {
		problems = append(problems, fmt.Sprintf("%d distinct keys, want %d", len(seen), reps*perRep))
	}
	if time.Now().UTC().Format(time.DateOnly) == day {
		for i := 0; i < reps; i++ {
			rep := fmt.Sprintf("R-%d", i)
			if perRepSent[rep] != limit || perRepSup[rep] != perRep-limit {
				problems = append(problems, fmt.Sprintf("%s: %d sent, %d suppressed; want %d and %d", rep, perRepSent[rep], perRepSup[rep], limit, perRep-limit))
			}
		}
	}
	if n := len(pt.ReadAll(t, brokers, tp.name+".rejected")); n != 0 {
		problems = append(problems, fmt.Sprintf("%d dead letters", n))
	}
	if len(problems) > 0 {
		t.Fatalf("exactly-once violated: %v", problems[:min(10, len(problems))])
	}
}
