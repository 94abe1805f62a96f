package pipeline_test

import (
	"context"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// The crash tests run `accrue stage count` as real processes against the
// real broker (ACCRUE_KAFKA_BROKERS) and kill them with SIGKILL at random
// moments while input keeps arriving. Afterwards the output, read as
// read_committed, and the state must hold exactly the expected counts.

const (
	crashRecords = 200_000
	crashKeys    = 1000
)

type crashEnv struct {
	t                   *testing.T
	bin                 string
	brokers             []string
	name, input, output string
	logDir              string
	starts              int
}

func newCrashEnv(t *testing.T, partitions int32) *crashEnv {
	if testing.Short() {
		t.Skip("crash tests run real processes against a real broker; not in -short")
	}
	brokers := pt.RealBrokers(t)
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	e := &crashEnv{
		t: t, bin: pt.AccrueBinary(t), brokers: brokers, logDir: t.TempDir(),
		name: "crash-" + suffix, input: "crash-in-" + suffix, output: "crash-out-" + suffix,
	}
	pt.CreateTopics(t, brokers, partitions, []string{e.input, e.output, e.name + ".rejected"}, e.name+".changelog")
	return e
}

func (e *crashEnv) start(instance string) *pt.Proc {
	e.t.Helper()
	e.starts++
	return pt.StartProc(e.t, e.bin, e.logDir, instance, "--brokers", e.brokers[0], "--log-level", "info",
		"stage", "count", "--name", e.name, "--input", e.input, "--output", e.output,
		"--instance-id", instance, "--admin-addr", "",
		"--session-timeout", "6s", "--transaction-timeout", "10s", "--max-poll-records", "2000")
}

// waitRestored waits until the processes have, between them, restored the
// state of all n partitions: a partition that receives no more records after
// a restart is restored when the stage is next idle, and a process stopped
// before that would report only part of the state.
func waitRestored(t *testing.T, n int, ps ...*pt.Proc) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		seen := map[string]bool{}
		for _, p := range ps {
			b, _ := os.ReadFile(p.LogPath)
			for _, m := range restoredPartsRe.FindAllSubmatch(b, -1) {
				for _, f := range strings.Fields(string(m[1])) {
					seen[f] = true
				}
			}
		}
		if len(seen) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s the processes have restored %d of %d partitions", len(seen), n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var restoredPartsRe = regexp.MustCompile(`state restored.*partitions="?\[([0-9 ]*)\]`)

// stopCount ends a count process cleanly and returns the state it reports.
func stopCount(t *testing.T, p *pt.Proc) (keys, total int64) {
	t.Helper()
	var s struct {
		Keys  int64 `json:"state_keys"`
		Total int64 `json:"state_total"`
	}
	out := p.Stop()
	if err := json.Unmarshal(out, &s); err != nil {
		t.Errorf("%s printed %q: %v", p.Name, out, err) // not Fatal: called from goroutines
	}
	return s.Keys, s.Total
}

// produceSlowly writes crashRecords records over about d, so that kills land
// while input is still arriving. It returns the count per key when done.
func (e *crashEnv) produceSlowly(d time.Duration) <-chan map[string]int64 {
	res := make(chan map[string]int64, 1)
	go func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.MaxBufferedRecords(50000))
		if err != nil {
			e.t.Error(err)
			res <- nil
			return
		}
		defer cl.Close()
		ctx := context.Background()
		want := map[string]int64{}
		const chunk = 2000
		pause := d / (crashRecords / chunk)
		for i := 0; i < crashRecords; i++ {
			k := pt.Key(i, crashKeys)
			want[k]++
			cl.Produce(ctx, &kgo.Record{Topic: e.input, Key: []byte(k), Value: []byte(strconv.Itoa(i))}, nil)
			if i%chunk == chunk-1 {
				time.Sleep(pause)
			}
		}
		if err := cl.Flush(ctx); err != nil {
			e.t.Error(err)
		}
		res <- want
	}()
	return res
}

func (e *crashEnv) waitOutput(n int, procs ...*pt.Proc) []*kgo.Record {
	e.t.Helper()
	var recs []*kgo.Record
	deadline := time.Now().Add(4 * time.Minute)
	for {
		var err error
		recs, err = pt.ReadTopic(context.Background(), e.brokers, e.output)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(recs) >= n {
			return recs
		}
		for _, p := range procs {
			if !p.Alive() {
				p.Died()
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("only %d of %d output records after 4 minutes; logs in %s", len(recs), n, e.logDir)
		}
		time.Sleep(time.Second)
	}
}

func (e *crashEnv) verify(recs []*kgo.Record, want map[string]int64, keys, total int64) {
	e.t.Helper()
	if err := pt.CheckCounts(recs, want); err != nil {
		e.t.Fatalf("output: %v (logs in %s)", err, e.logDir)
	}
	if keys != crashKeys || total != crashRecords {
		e.t.Errorf("state after the last clean stop: %d keys totalling %d, want %d keys totalling %d",
			keys, total, crashKeys, crashRecords)
	}
	last := pt.LastValues(pt.ReadAll(e.t, e.brokers, e.name+".changelog"))
	for k, n := range want {
		v, err := pipeline.Int64Codec{}.Decode(last[k])
		if err != nil || v != n {
			e.t.Fatalf("changelog %s = %d (%v), want %d", k, v, err, n)
		}
	}
	if d := pt.ReadAll(e.t, e.brokers, e.name+".rejected"); len(d) != 0 {
		e.t.Errorf("%d dead letters, want none", len(d))
	}

	// The processes' logs show what the kills exercised: state rebuilt from
	// a non-empty changelog, and transactions left open by a kill.
	var restores, restoredRecords int
	logs, _ := filepath.Glob(filepath.Join(e.logDir, "*.log"))
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		for _, m := range restoredRe.FindAllSubmatch(b, -1) {
			n, _ := strconv.Atoi(string(m[1]))
			restores++
			restoredRecords += n
		}
	}
	e.t.Logf("%d process starts, %d state restores reading %d changelog records", e.starts, restores, restoredRecords)
	if restoredRecords == 0 {
		e.t.Error("no restart restored any state: the kills did not exercise recovery")
	}
}

var restoredRe = regexp.MustCompile(`state restored.*changelog_records=(\d+)`)

func TestCrashSingleInstanceKilledRepeatedly(t *testing.T) {
	e := newCrashEnv(t, 6)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d; logs in %s", seed, e.logDir)

	wantc := e.produceSlowly(25 * time.Second)
	p := e.start("solo")
	var want map[string]int64
	kills := 0
	for want == nil || kills < 6 {
		time.Sleep(time.Duration(300+rng.Intn(2700)) * time.Millisecond)
		if !p.Alive() {
			p.Died()
		}
		p.Kill()
		kills++
		p = e.start("solo")
		select {
		case want = <-wantc:
		default:
		}
	}
	t.Logf("killed %d times", kills)
	recs := e.waitOutput(crashRecords, p)
	waitRestored(t, 6, p)
	keys, total := stopCount(t, p)
	e.verify(recs, want, keys, total)
}

func TestCrashTwoInstancesOneKilledMidStream(t *testing.T) {
	e := newCrashEnv(t, 6)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d; logs in %s", seed, e.logDir)
	pause := func(minMs, spanMs int) { time.Sleep(time.Duration(minMs+rng.Intn(spanMs)) * time.Millisecond) }

	wantc := e.produceSlowly(40 * time.Second)
	a, b := e.start("a"), e.start("b")
	pause(2000, 3000)
	a.Kill() // b must take a's partitions, restore their state and go on
	pause(8000, 4000)
	if !b.Alive() {
		b.Died()
	}
	a = e.start("a") // a comes back: another rebalance and restore
	pause(3000, 3000)
	b.Kill()
	pause(1000, 2000)
	b = e.start("b")
	want := <-wantc
	recs := e.waitOutput(crashRecords, a, b)
	waitRestored(t, 6, a, b)
	// Stopped together: stopped one after the other, the second would
	// take over the first's partitions, restore them and count them again.
	var ka, ta, kb, tb int64
	var wg sync.WaitGroup
	wg.Go(func() { ka, ta = stopCount(t, a) })
	wg.Go(func() { kb, tb = stopCount(t, b) })
	wg.Wait()
	e.verify(recs, want, ka+kb, ta+tb)
}
