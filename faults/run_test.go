package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/accrue/accrue/internal/e2e"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// The processes' timeouts: short, so that a partition whose owner is gone
// moves on within seconds.
const (
	sessionTimeout     = 6 * time.Second
	transactionTimeout = 10 * time.Second
)

// The roles of the pipeline's processes.
const (
	ingest = "ingest"
	dedupe = "dedupe"
	link   = "link"
	accrue = "accrue"
	sink   = "sink"
)

var roles = []string{ingest, dedupe, link, accrue, sink}

// run is one scenario's pipeline: its world, topics, ClickHouse database
// and processes, and the faults injected into it.
type run struct {
	t        *testing.T
	name     string
	bin, dir string
	brokers  []string
	chAddr   string
	db       string
	conn     driver.Conn
	w        *e2e.World
	tp       *e2e.Topics
	want     *e2e.Simulation
	rnd      *rand.Rand
	began    time.Time

	mu     sync.Mutex
	procs  map[string][]*pt.Proc // live instances by role
	seq    map[string]int        // instances started by role
	faults map[string]int
	// produced is closed when every raw record is on its topic.
	produced chan struct{}
	prodErr  error
}

// newRun generates the world (ACCRUE_FAULTS_EVENTS raw records, seed
// ACCRUE_FAULTS_SEED or the time), creates its topics and database,
// publishes reference data and programs, and asks simulate what the
// pipeline must end with.
func newRun(t *testing.T, name string, brokers []string, chAddr string) *run {
	t.Helper()
	n := e2e.EnvInt(t, "ACCRUE_FAULTS_EVENTS", 20_000)
	seed := uint64(time.Now().UnixNano())
	if os.Getenv("ACCRUE_FAULTS_SEED") != "" {
		seed = uint64(e2e.EnvInt(t, "ACCRUE_FAULTS_SEED", 0))
	}
	r := &run{t: t, name: name, bin: pt.AccrueBinary(t), dir: t.TempDir(), brokers: brokers, chAddr: chAddr,
		rnd: rand.New(rand.NewPCG(seed, 7)), began: time.Now(),
		procs: map[string][]*pt.Proc{}, seq: map[string]int{}, faults: map[string]int{}, produced: make(chan struct{})}
	if os.Getenv("ACCRUE_FAULTS_KEEP") != "" { // the files and logs outlive the test
		d, err := os.MkdirTemp("", "faults-"+name+"-")
		if err != nil {
			t.Fatal(err)
		}
		r.dir = d
	}
	t.Logf("%s: %d records, seed %d (ACCRUE_FAULTS_SEED repeats it); files and logs in %s", name, n, seed, r.dir)
	r.w = e2e.NewWorld(t, r.dir, seed, n)
	r.tp = e2e.NewTopics(t, brokers, "faults-"+name)
	t.Cleanup(func() { e2e.DeleteGroups(brokers, append(r.tp.Groups(), r.sinkGroup())...) })
	e2e.Publish(t, r.bin, brokers, r.tp, r.w)
	r.want = e2e.Simulate(t, r.bin, r.w)

	r.db = "accrue_faults_" + strings.ReplaceAll(name, "-", "_") + "_" + r.tp.Sfx
	pt.DropDatabaseAtCleanup(t, chAddr, r.db)
	if out, err := exec.Command(r.bin, "clickhouse", "migrate", "--clickhouse-addr", chAddr, "--database", r.db).CombinedOutput(); err != nil {
		t.Fatalf("accrue clickhouse migrate: %v\n%s", err, out)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{chAddr}, Auth: clickhouse.Auth{Database: r.db},
		DialTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r.conn = conn
	return r
}

func (r *run) sinkGroup() string { return "faults-sink-" + r.tp.Sfx }

// stageName is the name of role's stage in r.tp.
func (r *run) stageName(role string) string {
	return map[string]string{ingest: r.tp.Ingest, dedupe: r.tp.Dedupe, link: r.tp.Link, accrue: r.tp.Accrue}[role]
}

// start starts an instance of role with instance id <role>-<k>, or a new
// k when k is 0, and returns it.
func (r *run) start(role string, k int) *pt.Proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k == 0 {
		k = r.seq[role] + 1
	}
	r.seq[role] = max(r.seq[role], k)
	id := role + "-" + strconv.Itoa(k)
	args := []string{"--brokers", strings.Join(r.brokers, ",")}
	if role == sink {
		// At debug level the sink logs every batch ClickHouse acknowledged.
		args = append(args, "--log-level", "debug", "sink", "clickhouse", "--topics", r.tp.SinkSpecs(), "--group", r.sinkGroup(),
			"--clickhouse-addr", r.chAddr, "--database", r.db, "--admin-addr", "",
			"--batch-rows", "5000", "--batch-interval", "300ms", "--commit-interval", "2s", "--max-backoff", "2s",
			"--session-timeout", sessionTimeout.String())
	} else {
		args = append(append(append(args, "--log-level", "info", "stage"), r.tp.StageArgs(r.w, r.stageName(role))...),
			"--instance-id", id, "--admin-addr", "", "--session-timeout", sessionTimeout.String(),
			"--transaction-timeout", transactionTimeout.String())
	}
	p := pt.StartProc(r.t, r.bin, r.dir, id, args...)
	r.procs[role] = append(r.procs[role], p)
	return p
}

// startAll starts instances[role] instances of every role (one where the
// map has none).
func (r *run) startAll(instances map[string]int) {
	for _, role := range roles {
		for range max(1, instances[role]) {
			r.start(role, 0)
		}
	}
}

// instance returns the i-th live instance of role.
func (r *run) instance(role string, i int) *pt.Proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.procs[role][i%len(r.procs[role])]
}

// forget removes p from the live instances of role.
func (r *run) forget(role string, p *pt.Proc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := r.procs[role]
	for i, q := range ps {
		if q == p {
			r.procs[role] = append(ps[:i:i], ps[i+1:]...)
			return
		}
	}
}

// kill kills p, an instance of role, with SIGKILL and starts it again
// under the same instance id: what a supervisor does after a crash.
func (r *run) kill(role string, p *pt.Proc) {
	p.Kill()
	r.forget(role, p)
	k, _ := strconv.Atoi(p.Name[strings.LastIndexByte(p.Name, '-')+1:])
	r.start(role, k)
	r.count("SIGKILL " + role)
}

func (r *run) count(fault string) {
	r.mu.Lock()
	r.faults[fault]++
	r.mu.Unlock()
}

// alive fails the test when a process the run did not stop has ended:
// every stage outlives every fault injected, broker restarts included.
func (r *run) alive() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ps := range r.procs {
		for _, p := range ps {
			if !p.Alive() {
				p.Died()
			}
		}
	}
}

// produce writes the raw records in parts, one part every interval, on a
// goroutine of its own: the faults land while records still arrive.
func (r *run) produce(parts int, interval time.Duration) {
	go func() {
		for i := range parts {
			if i > 0 {
				time.Sleep(interval)
			}
			if !r.producePart(i, parts) {
				return
			}
		}
		r.doneProducing()
	}()
}

// producePart writes the i-th of n parts of the raw records and reports
// whether it could.
func (r *run) producePart(i, n int) bool {
	from, to := len(r.w.Raw)*i/n, len(r.w.Raw)*(i+1)/n
	if err := e2e.ProduceRaw(r.brokers, r.tp, r.w.Raw[from:to]); err != nil {
		r.prodErr = fmt.Errorf("produce part %d: %w", i+1, err)
		close(r.produced)
		return false
	}
	return true
}

// doneProducing says that every raw record is on its topic.
func (r *run) doneProducing() {
	r.t.Logf("%d raw records produced after %v", len(r.w.Raw), time.Since(r.began).Round(time.Second))
	close(r.produced)
}

// producing reports whether raw records are still being produced.
func (r *run) producing() bool {
	select {
	case <-r.produced:
		return false
	default:
		return true
	}
}

// sleep waits a random time between lo and hi, checking that every
// process is alive.
func (r *run) sleep(lo, hi time.Duration) {
	d := lo + time.Duration(r.rnd.Int64N(int64(hi-lo)+1))
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		r.alive()
	}
}

// waitLog waits until p's log has more than n lines matching re.
func (r *run) waitLog(p *pt.Proc, re *regexp.Regexp, n int, timeout time.Duration, what string) {
	r.t.Helper()
	pt.WaitFor(r.t, timeout, what, func() bool {
		r.alive()
		return matches(r.t, p.LogPath, re) > n
	})
}

// matches counts the lines of a log that match re.
func matches(t testing.TB, log string, re *regexp.Regexp) int {
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	return len(re.FindAllIndex(b, -1))
}

// settle waits until the pipeline's outputs equal simulate (or
// ACCRUE_FAULTS_SETTLE passes, 4 minutes by default), then checks
// everything and returns the scenario's row.
func (r *run) settle() Row {
	t := r.t
	<-r.produced
	if r.prodErr != nil {
		t.Fatal(r.prodErr)
	}
	deadline := time.Now().Add(time.Duration(e2e.EnvInt(t, "ACCRUE_FAULTS_SETTLE_SECONDS", 240)) * time.Second)
	for {
		r.alive()
		c := r.check(false)
		if len(c.problems) == 0 {
			t.Logf("settled after %v", time.Since(r.began).Round(time.Second))
			time.Sleep(2 * time.Second) // anything late or doubled would show now
			break
		}
		if time.Now().After(deadline) {
			t.Logf("not settled after %v; the differences follow", time.Since(r.began).Round(time.Second))
			break
		}
		time.Sleep(2 * time.Second)
	}
	r.alive()
	c := r.check(true)
	for _, p := range c.problems {
		t.Error(p)
	}
	row := Row{Scenario: r.name, Faults: r.faults, Records: len(r.w.Raw), Events: c.clean, Credits: c.credits,
		Accruals: c.accruals, Differences: len(c.problems), Took: time.Since(r.began)}
	for _, role := range roles {
		for _, p := range r.procs[role] {
			p.Stop()
		}
	}
	return row
}

// ctx is a context for a check's queries.
func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}
