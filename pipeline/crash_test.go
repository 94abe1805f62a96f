package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
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

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// accrueBinary builds cmd/accrue once per test run.
func accrueBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "accrue-crash-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "accrue")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/accrue/accrue/cmd/accrue").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type countProc struct {
	t        *testing.T
	instance string
	logPath  string
	cmd      *exec.Cmd
	stdout   bytes.Buffer
	done     chan error
}

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
		t: t, bin: accrueBinary(t), brokers: brokers, logDir: t.TempDir(),
		name: "crash-" + suffix, input: "crash-in-" + suffix, output: "crash-out-" + suffix,
	}
	pt.CreateTopics(t, brokers, partitions, []string{e.input, e.output, e.name + ".rejected"}, e.name+".changelog")
	return e
}

func (e *crashEnv) start(instance string) *countProc {
	e.t.Helper()
	e.starts++
	logf, err := os.Create(filepath.Join(e.logDir, fmt.Sprintf("%02d-%s.log", e.starts, instance)))
	if err != nil {
		e.t.Fatal(err)
	}
	p := &countProc{t: e.t, instance: instance, logPath: logf.Name(), done: make(chan error, 1)}
	p.cmd = exec.Command(e.bin, "--brokers", e.brokers[0], "--log-level", "info",
		"stage", "count", "--name", e.name, "--input", e.input, "--output", e.output,
		"--instance-id", instance, "--admin-addr", "",
		"--session-timeout", "6s", "--transaction-timeout", "10s", "--max-poll-records", "2000")
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = logf
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait(); logf.Close() }()
	return p
}

func (p *countProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop ends the process cleanly and returns the state it reports.
func (p *countProc) stop() (keys, total int64) {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Fatalf("instance %s exited with %v", p.instance, err)
		}
	case <-time.After(90 * time.Second):
		p.kill()
		p.t.Fatalf("instance %s did not stop within 90s", p.instance)
	}
	var s struct {
		Keys  int64 `json:"state_keys"`
		Total int64 `json:"state_total"`
	}
	if err := json.Unmarshal(p.stdout.Bytes(), &s); err != nil {
		p.t.Fatalf("instance %s printed %q: %v", p.instance, p.stdout.String(), err)
	}
	return s.Keys, s.Total
}

// died fails the test with the end of the process's log.
func (p *countProc) died() {
	p.t.Helper()
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	p.t.Fatalf("instance %s died on its own; the end of its log:\n%s", p.instance, b)
}

// alive reports whether the process is still running; a stage that died on
// its own is a failure.
func (p *countProc) alive() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return false
	default:
		return true
	}
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

func (e *crashEnv) waitOutput(n int, procs ...*countProc) []*kgo.Record {
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
			if !p.alive() {
				p.died()
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
		if !p.alive() {
			p.died()
		}
		p.kill()
		kills++
		p = e.start("solo")
		select {
		case want = <-wantc:
		default:
		}
	}
	t.Logf("killed %d times", kills)
	recs := e.waitOutput(crashRecords, p)
	keys, total := p.stop()
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
	a.kill() // b must take a's partitions, restore their state and go on
	pause(8000, 4000)
	if !b.alive() {
		b.died()
	}
	a = e.start("a") // a comes back: another rebalance and restore
	pause(3000, 3000)
	b.kill()
	pause(1000, 2000)
	b = e.start("b")
	want := <-wantc
	recs := e.waitOutput(crashRecords, a, b)
	ka, ta := a.stop()
	kb, tb := b.stop()
	e.verify(recs, want, ka+kb, ta+tb)
}
