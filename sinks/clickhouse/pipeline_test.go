package clickhouse

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/accrue/accrue/internal/e2e"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// pipelineKills is how many times the sink is killed.
const pipelineKills = 3

// TestPipelineSinkKilledMatchesSimulate runs the whole pipeline as
// processes of the accrue binary on the real Kafka and ClickHouse:
//
//	raw-crm, raw-erp ─► [stage ingest] ─► canonical ─► [stage dedupe] ─► clean ─► [stage link] ─► credited ─► [stage accrue] ─► accruals, attainment
//	                          └──────────────────────────────┴───────────────────────────┴──► rejected                 └──► accrue-rejected
//	clean, credited, rejected, accrue-rejected, accruals, attainment ─► [sink clickhouse] ─► one test database
//
// with reference data loaded by `accrue ref load` and the two example
// programs published by `accrue program publish`. The raw records (100,000
// unless ACCRUE_E2E_EVENTS says otherwise; see newPipelineWorld) are
// produced in four parts, and the sink, alone, is killed with SIGKILL three
// times while it inserts, between parts, each time before its first offset
// commit, so that its successor writes every batch of it again.
//
// Afterwards, for the same programs, reference data and events:
//   - the leaderboard view holds exactly `accrue simulate`'s statements, one
//     row per program, period and rep, every figure to the last decimal,
//     ranked as the view promises;
//   - the rep_statement view adds up, per program, period and rep, to
//     simulate's earned, and every line finds its sale;
//   - every dead letter of rejected and accrue-rejected is a row of rejects
//     with its reason and original bytes; the ingest stage refused exactly
//     the broken records, the dedupe stage exactly the copies, and the link
//     and accrual stages the events simulate rejects, by reason;
//   - sales and credits hold each clean event and credit once;
//   - the sink logs acknowledge more records than the topics hold: the
//     kills did make the sink write batches twice.
//
// Measured on the 2-core CI machine with 100,000 records (about 99,000
// events, 125,000 credits, 306,000 records for the sink, 12,000 of them
// dead letters): 50 to 60 seconds in all, ClickHouse settled about 47
// seconds after the start (the world and simulate take the first 10).
func TestPipelineSinkKilledMatchesSimulate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline as processes against Kafka and ClickHouse; not in -short")
	}
	brokers := pt.RealBrokers(t)
	o, conn := migrated(t)
	n := e2e.EnvInt(t, "ACCRUE_E2E_EVENTS", 100_000)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ACCRUE_E2E_SEED"); s != "" {
		seed = uint64(e2e.EnvInt(t, "ACCRUE_E2E_SEED", 0))
	}
	began := time.Now()
	dir := t.TempDir()
	t.Logf("%d records, seed %d (ACCRUE_E2E_SEED repeats it); files and logs in %s", n, seed, dir)
	rnd := rand.New(rand.NewPCG(seed, 3))
	bin := pt.AccrueBinary(t)
	w := e2e.NewWorld(t, dir, seed, n)
	tp := e2e.NewTopics(t, brokers, "e2e")

	common := []string{"--brokers", brokers[0], "--log-level", "info"}
	e2e.Publish(t, bin, brokers, tp, w)
	want := e2e.Simulate(t, bin, w)
	t.Logf("simulate: %d statements; %d events read, %d duplicates, rejected %v", len(want.Statements), w.Events, want.Duplicates, want.Rejected)

	// The stages. Short session and transaction timeouts let a restarted
	// sink take its partitions back soon.
	stage := func(name string, args ...string) *pt.Proc {
		return pt.StartProc(t, bin, dir, name, append(append(append([]string{}, common...), "stage"), append(args,
			"--instance-id", name+"-1", "--admin-addr", "", "--session-timeout", "6s", "--transaction-timeout", "10s")...)...)
	}
	var stages []*pt.Proc
	for _, name := range tp.Stages() {
		args := tp.StageArgs(w, name)
		stages = append(stages, stage(args[0], args...)) // named for its command: ingest, dedupe, link, accrue
	}
	// The sink commits offsets every 30s: a sink killed sooner has
	// committed nothing, so its successor repeats every batch it wrote.
	const commitEvery = 30 * time.Second
	sinkGroup := "e2e-sink-" + tp.Sfx
	startSink := func(k int) *pt.Proc {
		return pt.StartProc(t, bin, dir, "sink-"+strconv.Itoa(k), "--brokers", brokers[0], "--log-level", "debug",
			"sink", "clickhouse", "--topics", tp.SinkSpecs(), "--group", sinkGroup,
			"--clickhouse-addr", o.Addr[0], "--database", o.Database, "--admin-addr", "",
			"--batch-rows", "5000", "--batch-interval", "300ms", "--commit-interval", commitEvery.String(), "--session-timeout", "6s")
	}
	t.Cleanup(func() { e2e.DeleteGroups(brokers, append(tp.Groups(), sinkGroup)...) })
	sink := startSink(0)
	// The raw records go out in four parts, 40% at once and 20% after
	// each kill, one part after the other: every kill lands with the
	// stages still at work, and records still to come.
	next := make(chan struct{}, pipelineKills)
	produced := make(chan error, 1)
	go func() {
		cuts := []int{0, len(w.Raw) * 2 / 5, len(w.Raw) * 3 / 5, len(w.Raw) * 4 / 5, len(w.Raw)}
		for i := range len(cuts) - 1 {
			if i > 0 {
				<-next
			}
			if err := e2e.ProduceRaw(brokers, tp, w.Raw[cuts[i]:cuts[i+1]]); err != nil {
				produced <- err
				return
			}
		}
		t.Logf("%d raw records produced after %v", len(w.Raw), time.Since(began).Round(time.Second))
		produced <- nil
	}()

	alive := func() {
		t.Helper()
		for _, p := range append(stages, sink) {
			if !p.Alive() {
				p.Died()
			}
		}
	}
	// How far the accrual stage had consumed the credits when each kill
	// landed: at the first, short of the end, the pipeline still at work.
	var killedAt []int64
	for k := 1; k <= pipelineKills; k++ {
		started := time.Now()
		pt.WaitFor(t, 2*time.Minute, fmt.Sprintf("sink %d to acknowledge two batches", k-1), func() bool {
			alive()
			return acksIn(t, sink.LogPath) >= 2
		})
		time.Sleep(time.Duration(rnd.IntN(700)) * time.Millisecond)
		acked := acksIn(t, sink.LogPath)
		sink.Kill()
		if since := time.Since(started); since >= commitEvery {
			t.Logf("sink %d lived %v, past its first commit", k-1, since.Round(time.Millisecond))
		}
		consumed := e2e.CommittedOffsets(t, brokers, "accrue-"+tp.Accrue, tp.Credited)
		killedAt = append(killedAt, consumed)
		t.Logf("kill %d after %v: sink %d had acknowledged %d batches; the accrual stage had consumed %s up to offset %d",
			k, time.Since(began).Round(time.Second), k-1, acked, tp.Credited, consumed)
		sink = startSink(k)
		next <- struct{}{}
	}
	if err := <-produced; err != nil {
		t.Fatalf("produce: %v", err)
	}

	// Settled when ClickHouse reports what simulate computes and holds
	// every dead letter: a sink that lost or doubled anything never gets
	// there.
	deadline := time.Now().Add(4 * time.Minute)
	var problems []string
	for {
		alive()
		if problems = comparePipeline(t, conn, brokers, tp, w, want, false); len(problems) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if len(problems) > 0 {
		t.Logf("not settled after %v; the differences follow", time.Since(began).Round(time.Second))
	} else {
		t.Logf("settled after %v", time.Since(began).Round(time.Second))
		time.Sleep(2 * time.Second) // anything late or doubled would show now
	}
	for _, p := range comparePipeline(t, conn, brokers, tp, w, want, true) {
		t.Error(p)
	}
	final := e2e.EndOffsets(t, brokers, tp.Credited)
	for k, at := range killedAt {
		if at >= final {
			t.Errorf("kill %d landed after the accrual stage had consumed every credit (offset %d of %d): not mid-stream", k+1, at, final)
		}
	}
	sink.Stop()
	for _, p := range stages {
		p.Stop()
	}

	// The kills made the sink write again what it had written: over all
	// its processes it acknowledged more records than the topics hold.
	written := 0
	logs, _ := filepath.Glob(filepath.Join(dir, "*-sink-*.log"))
	for _, l := range logs {
		written += ackedRecords(t, l)
	}
	total := 0
	for _, topic := range tp.Sunk() {
		total += len(pt.ReadAll(t, brokers, topic))
	}
	t.Logf("%d records on the sunk topics; %d written over %d sink processes (%d again); %v in all",
		total, written, pipelineKills+1, written-total, time.Since(began).Round(time.Second))
	if written <= total {
		t.Errorf("the kills caused no repeated writes (%d written, %d on the topics): the test did not test replays", written, total)
	}
}

var ackLine = regexp.MustCompile(`msg="batch acknowledged" .*records=(\d+)`)

// acksIn is the number of batches a sink's log says were acknowledged.
func acksIn(t *testing.T, log string) int {
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	return len(ackLine.FindAllIndex(b, -1))
}

// ackedRecords is the records of every batch a sink's log says was
// acknowledged.
func ackedRecords(t *testing.T, log string) int {
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range ackLine.FindAllSubmatch(b, -1) {
		k, _ := strconv.Atoi(string(m[1]))
		n += k
	}
	return n
}
