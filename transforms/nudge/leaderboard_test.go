package nudge_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/nudge"
)

func snapshot(program, period, rep, measure string, version int) *kgo.Record {
	v := fmt.Sprintf(`{"snapshot_id":"%s/%s/%s/%d","program_id":%q,"program_version":1,"period":%q,"rep_id":%q,"currency":"USD",`+
		`"measure":%q,"quota":"1000","attainment":"0.1","commission":"0.00","spiff":"0.00","override":"0.00","earned":"0.00",`+
		`"capped":false,"version":%d,"event_id":"ev-%s-%d"}`, program, period, rep, version, program, period, rep, measure, version, rep, version)
	return &kgo.Record{Key: []byte(rep), Value: []byte(v)}
}

// The leaderboard on kfake: snapshots of two programs through the re-key
// stage and the keyed stage. Ranks, ties (the rep who reached a score
// first ranks ahead), passive entries into the top and stale versions all
// give exactly the nudges expected, in order, keyed by rep, and the
// boards' final order is the documented one.
func TestLeaderboardNudges(t *testing.T) {
	_, brokers := pt.Fake(t)
	att, by, out, name := uniq("attainment"), uniq("by-program"), uniq("nudges"), uniq("leaderboard")
	// One attainment partition keeps the test's order of snapshots across
	// reps: the board's order is its input's order.
	pt.CreateTopics(t, brokers, 1, []string{att})
	pt.CreateTopics(t, brokers, 2, []string{by, out, name + ".rejected", "rk-" + name + ".rejected"}, name+".changelog")

	var recs []*kgo.Record
	add := func(program, rep, measure string, version int) {
		r := snapshot(program, "2026-11", rep, measure, version)
		r.Topic = att
		recs = append(recs, r)
	}
	add("ae", "R-1", "100.00", 1) // R-1 #1: top
	add("ae", "R-2", "50.00", 1)  // R-2 #2: top
	add("ae", "R-3", "50.00", 1)  // R-3 #3 (R-2 reached 50 first)
	add("ae", "R-3", "150.00", 2) // R-3 #1: passes, top
	add("ae", "R-2", "50.00", 1)  // stale: nothing
	add("ae", "R-4", "60.00", 1)  // R-4 #3: passes nobody within the top 2
	add("ae", "R-2", "200.00", 2) // R-2 #1 from #4: passes R-3 (#1) and R-1 (#2); R-2's top fired already
	add("ae", "R-2", "0.00", 3)   // R-2 off the board: R-3 #1, R-1 #2, R-4 #3
	add("ae", "R-1", "10.00", 2)  // R-1 falls to #3: R-4 comes into the top passively
	add("se", "R-9", "5", 1)      // another board: R-9 #1: top
	add("ae", "R-5", "60.00", 1)  // tie with R-4 at 60, R-4 was first: R-5 #3
	rk := &nudge.Rekey{Output: by}
	_, stopRekey := run[[]byte](t, pipeline.Config{Name: "rk-" + name, Brokers: brokers, Inputs: []string{att}, Stateless: true}, pipeline.BytesCodec{}, rk)
	lb, err := nudge.NewLeaderboard(nudge.LeaderboardConfig{Output: out, TopN: 2})
	if err != nil {
		t.Fatal(err)
	}
	st, stop := run[nudge.Entry](t, pipeline.Config{Name: name, Brokers: brokers, Inputs: []string{by}}, nudge.EntryCodec{}, lb)
	produce(t, brokers, recs...)

	want := []string{
		"R-1 leaderboard_top_n #1 ae/2026-11/R-1/leaderboard_top_n/2",
		"R-2 leaderboard_top_n #2 ae/2026-11/R-2/leaderboard_top_n/2",
		"R-1 leaderboard_overtaken #2 by R-3 ae/2026-11/R-1/leaderboard_overtaken/R-3/2",
		"R-2 leaderboard_overtaken #3 by R-3 ae/2026-11/R-2/leaderboard_overtaken/R-3/2",
		"R-3 leaderboard_top_n #1 ae/2026-11/R-3/leaderboard_top_n/2",
		"R-3 leaderboard_overtaken #2 by R-2 ae/2026-11/R-3/leaderboard_overtaken/R-2/2",
		"R-1 leaderboard_overtaken #3 by R-2 ae/2026-11/R-1/leaderboard_overtaken/R-2/2",
		"R-4 leaderboard_top_n #2 ae/2026-11/R-4/leaderboard_top_n/2",
		"R-9 leaderboard_top_n #1 se/2026-11/R-9/leaderboard_top_n/2",
	}
	got := readUntil(t, brokers, out, len(want), 20*time.Second)
	// Give a wrong extra nudge time to show.
	time.Sleep(300 * time.Millisecond)
	got = pt.ReadAll(t, brokers, out)
	// Nudges are keyed by rep, so the topic's partitions interleave them;
	// order them by the board's input: the offsets of the events.
	var lines []string
	for _, m := range objects(t, got) {
		line := fmt.Sprintf("%s %s #%v", m["rep_id"], m["kind"], m["rank"])
		if m["kind"] == nudge.KindOvertaken {
			line += fmt.Sprintf(" by %s", m["by_rep_id"])
		}
		lines = append(lines, line+" "+m["nudge_id"].(string))
		if m["_key"] != m["rep_id"] {
			t.Errorf("nudge %v keyed %v", m["nudge_id"], m["_key"])
		}
	}
	if !sameSet(lines, want) {
		t.Fatalf("nudges:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	_ = stopRekey()
	// The final board, from the stage's state.
	var board []string
	st.EachState(func(_ int32, k string, e nudge.Entry) {
		if strings.HasPrefix(k, "e/ae|2026-11/") && e.OnBoard {
			board = append(board, fmt.Sprintf("%s=%s", strings.TrimPrefix(k, "e/ae|2026-11/"), e.Score))
		}
	})
	if !sameSet(board, []string{"R-3=150", "R-4=60", "R-5=60", "R-1=10"}) {
		t.Errorf("board %v", board)
	}
	for _, p := range []int32{0, 1} {
		if reps, _ := lb.Board(p, "ae|2026-11"); reps != nil && strings.Join(reps, ",") != "R-3,R-4,R-5,R-1" {
			t.Errorf("ranked %v, want R-3, R-4, R-5 (tied with R-4, later), R-1", reps)
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	n := map[string]int{}
	for _, s := range a {
		n[s]++
	}
	for _, s := range b {
		if n[s]--; n[s] < 0 {
			return false
		}
	}
	return true
}
