package faults

import (
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/accrue/accrue/internal/e2e"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// The scenarios, in the order they run. Each starts the whole pipeline on
// a world of its own, injects its faults while the raw records arrive
// (in parts, 20 of them), lets the pipeline settle and checks it
// (run.check). ACCRUE_FAULTS_EVENTS (20,000) sets the records of each
// world, ACCRUE_FAULTS_ROUNDS (2) how many rounds of its faults each
// scenario goes through at least, ACCRUE_FAULTS_OUTAGE_SECONDS (60) how
// long ClickHouse stays down.
var scenarios = []struct {
	name string
	// private: the scenario kills servers, so it runs on the private
	// stack.
	private   bool
	instances map[string]int
	inject    func(r *run, s *stack)
}{
	{"sigkill-loops", false, nil, killLoops},
	{"broker-restart", true, nil, brokerRestarts},
	{"clickhouse-outage", true, nil, clickhouseOutage},
	{"zombie-fenced", false, map[string]int{dedupe: 2, link: 2, accrue: 2}, zombies},
	{"rebalances", false, map[string]int{dedupe: 3, link: 3, accrue: 3}, rebalances},
}

// TestFaults runs every scenario and writes the table of what they found
// to the log and, when ACCRUE_FAULTS_REPORT names a file, to that file as
// markdown. A single scenario runs with -run 'TestFaults/<name>'.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline as processes against Kafka and ClickHouse, with faults; not in -short")
	}
	brokers := pt.RealBrokers(t)
	chAddr := pt.ClickHouseAddr(t)
	var private *stack
	var table Table
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			b, ch := brokers, chAddr
			if sc.private {
				if private == nil {
					private = startPrivateStack(t)
				}
				private.up(t, "kafka") // a scenario before may have failed with it down
				private.up(t, "clickhouse")
				b, ch = private.brokers(), private.clickhouse()
			}
			r := newRun(t, sc.name, b, ch)
			r.startAll(sc.instances)
			sc.inject(r, private)
			table = append(table, r.settle())
		})
	}
	var md strings.Builder
	if err := table.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	t.Logf("faults injected and differences found:\n%s", md.String())
	if path := os.Getenv("ACCRUE_FAULTS_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(md.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// parts is how many parts the raw records are produced in.
const parts = 20

// rounds is how many rounds of its faults a scenario goes through at least.
func rounds(t testing.TB) int { return e2e.EnvInt(t, "ACCRUE_FAULTS_ROUNDS", 2) }

// killLoops kills every process of the pipeline in turn with SIGKILL, a
// random 0.5 to 2 seconds apart, and starts it again under the same
// instance id, for as long as raw records arrive and at least rounds
// times each.
func killLoops(r *run, _ *stack) {
	r.produce(parts, time.Second)
	for i := 0; r.producing() || i < rounds(r.t)*len(roles); i++ {
		r.sleep(500*time.Millisecond, 2*time.Second)
		role := roles[i%len(roles)]
		r.kill(role, r.instance(role, 0))
	}
}

var (
	assigned = regexp.MustCompile(`msg="partitions assigned"`)
	acked    = regexp.MustCompile(`msg="batch acknowledged"`)
	retried  = regexp.MustCompile(`msg="insert failed; retrying"`)
	aborted  = regexp.MustCompile(`msg="transaction aborted`)
)

// brokerRestarts kills the private broker with SIGKILL while the stages
// are in the middle of their transactions, and starts it again 2 to 5
// seconds later, rounds times. The processes are left alone: they must
// carry on by themselves.
func brokerRestarts(r *run, s *stack) {
	r.produce(parts, time.Second)
	for i := range rounds(r.t) {
		// Wait until the accrual stage has committed something since the
		// last restart: every stage is at work.
		committed := func() int64 {
			n, err := e2e.Committed(r.brokers, "accrue-"+r.tp.Accrue, r.tp.Credited)
			if err != nil {
				return -1 // the group's coordinator is not there yet
			}
			return n
		}
		before := committed()
		pt.WaitFor(r.t, 2*time.Minute, "the accrual stage to commit", func() bool {
			r.alive()
			return committed() > max(before, 0)
		})
		r.sleep(200*time.Millisecond, time.Second)
		r.t.Logf("broker restart %d: raw records still arriving: %t", i+1, r.producing())
		s.kill(r.t, "kafka")
		r.count("Kafka broker SIGKILL and restart")
		r.sleep(2*time.Second, 5*time.Second)
		s.up(r.t, "kafka")
	}
	r.t.Logf("transactions aborted over all processes: %d", r.logMatches(aborted))
}

// clickhouseOutage kills the private ClickHouse with SIGKILL once the sink
// has written a few batches, keeps it down for a minute while the
// pipeline goes on, and starts it again: the sink must retry until it
// takes inserts, and write nothing twice that the reports would show.
func clickhouseOutage(r *run, s *stack) {
	r.produce(parts, time.Second)
	outage := time.Duration(e2e.EnvInt(r.t, "ACCRUE_FAULTS_OUTAGE_SECONDS", 60)) * time.Second
	sk := r.instance(sink, 0)
	r.waitLog(sk, acked, 1, 2*time.Minute, "the sink to write two batches")
	s.kill(r.t, "clickhouse")
	r.count("ClickHouse SIGKILL, " + outage.String() + " down")
	r.sleep(outage, outage)
	if n := matches(r.t, sk.LogPath, retried); n == 0 {
		r.t.Errorf("the sink did not retry an insert while ClickHouse was down %v", outage)
	} else {
		r.t.Logf("the sink retried inserts %d times while ClickHouse was down", n)
	}
	s.up(r.t, "clickhouse")
}

// zombies freezes one instance of dedupe, link or accrue in turn with
// SIGSTOP until its partner has taken its partitions over (past the
// session timeout), then resumes it with SIGCONT: whatever it was doing
// must be fenced, its late transaction aborted, nothing doubled. Each
// freeze comes a moment after a part of the raw records was produced, so
// that the frozen instance is likely in the middle of a transaction;
// every other freeze also outlasts the transaction timeout, so that the
// broker aborts the transaction before the instance wakes up. How many
// woke up to a transaction of theirs aborted is logged: it depends on
// where in its loop the instance was frozen, and is no failure when none
// did (nothing doubled is).
func zombies(r *run, _ *stack) {
	frozen := []string{accrue, link, dedupe}
	// The groups settle first: a takeover is then the frozen instance's.
	for _, role := range frozen {
		for i := range 2 {
			r.waitLog(r.instance(role, i), assigned, 0, time.Minute, r.instance(role, i).Name+" to get partitions")
		}
	}
	r.sleep(2*time.Second, 2*time.Second)
	part, fenced := 0, 0
	for i := 0; i < rounds(r.t)*len(frozen); i++ {
		role := frozen[i%len(frozen)]
		zombie, partner := r.instance(role, 0), r.instance(role, 1)
		for range 2 {
			if part < parts && r.producePart(part, parts) {
				part++
			}
		}
		r.sleep(100*time.Millisecond, 500*time.Millisecond)
		n, before := matches(r.t, partner.LogPath, assigned), matches(r.t, zombie.LogPath, aborted)
		if err := zombie.Signal(syscall.SIGSTOP); err != nil {
			r.t.Fatal(err)
		}
		stopped := time.Now()
		past := "its session timeout"
		r.waitLog(partner, assigned, n, sessionTimeout+time.Minute, role+"'s partner to take the frozen instance's partitions")
		until := sessionTimeout
		if i%2 == 1 {
			past, until = "its transaction timeout", transactionTimeout+2*time.Second
		}
		for time.Since(stopped) < until {
			r.sleep(100*time.Millisecond, 100*time.Millisecond)
		}
		r.sleep(time.Second, 2*time.Second)
		if err := zombie.Signal(syscall.SIGCONT); err != nil {
			r.t.Fatal(err)
		}
		r.count("SIGSTOP " + role + " past " + past + ", SIGCONT")
		r.sleep(3*time.Second, 3*time.Second)
		late := matches(r.t, zombie.LogPath, aborted) - before
		fenced += min(late, 1)
		r.t.Logf("%s frozen %v; its partner took over; %d transactions of it aborted after it woke up",
			zombie.Name, time.Since(stopped).Round(100*time.Millisecond), late)
	}
	for ; part < parts; part++ {
		if !r.producePart(part, parts) {
			return
		}
	}
	r.doneProducing()
	r.t.Logf("zombies whose late transaction was aborted: %d of %d", fenced, rounds(r.t)*len(frozen))
}

// rebalances keeps three instances of dedupe, link and accrue while
// instances leave (three times in four a clean stop, else SIGKILL) and new
// ones join, one change every 1 to 3 seconds, for as long as raw records
// arrive and at least rounds times for each stage.
func rebalances(r *run, _ *stack) {
	r.produce(parts, time.Second)
	changed := []string{dedupe, link, accrue}
	for i := 0; r.producing() || i < rounds(r.t)*len(changed); i++ {
		role := changed[i%len(changed)]
		r.sleep(time.Second, 3*time.Second)
		p := r.instance(role, r.rnd.IntN(3))
		if i%4 == 3 {
			p.Kill()
			r.count("instance of " + role + " killed")
		} else {
			p.Stop()
			r.count("instance of " + role + " leaves")
		}
		r.forget(role, p)
		r.start(role, 0)
		r.count("instance of " + role + " joins")
	}
}

// logMatches counts the lines matching re in every log of the run.
func (r *run) logMatches(re *regexp.Regexp) int {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		r.t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".log") {
			n += matches(r.t, r.dir+"/"+e.Name(), re)
		}
	}
	return n
}
