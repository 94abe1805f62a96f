package clickhouse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// pipelinePrograms are the worked examples of docs/programs the test
// publishes: a monthly amount plan on attainment for AEs (marginal bands,
// quota by role and rep, a capped fixed spiff, clawback, two levels of
// overrides) and a quarterly margin plan in EUR for SEs in EMEA
// (retroactive bands of measure, cap, clawback, one level of overrides).
var pipelinePrograms = []string{"../../docs/programs/ae-commission.yaml", "../../docs/programs/se-margin-emea.yaml"}

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
	n := envInt(t, "ACCRUE_E2E_EVENTS", 100_000)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ACCRUE_E2E_SEED"); s != "" {
		seed = uint64(envInt(t, "ACCRUE_E2E_SEED", 0))
	}
	began := time.Now()
	dir := t.TempDir()
	t.Logf("%d records, seed %d (ACCRUE_E2E_SEED repeats it); files and logs in %s", n, seed, dir)
	rnd := rand.New(rand.NewPCG(seed, 3))
	bin := pt.AccrueBinary(t)
	w := newPipelineWorld(t, dir, seed, n)
	tp := newPipelineTopics(t, brokers)

	common := []string{"--brokers", brokers[0], "--log-level", "info"}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, append(append([]string{}, common...), args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("accrue %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, k := range []string{"reps", "products", "fx"} {
		run("ref", "load", "--kind", k, "-q", "--topic", tp.ref+k, "--transactional-id", "ref-load-"+tp.sfx, w.files[k+".jsonl"])
	}
	run(append([]string{"program", "--topic", tp.programs, "publish"}, pipelinePrograms...)...)
	want := simulatePipeline(t, bin, w)
	t.Logf("simulate: %d statements; %d events read, %d duplicates, rejected %v", len(want.statements), w.events, want.duplicates, want.rejected)

	// The stages. Short session and transaction timeouts let a restarted
	// sink take its partitions back soon.
	stage := func(name string, args ...string) *pt.Proc {
		return pt.StartProc(t, bin, dir, name, append(append(append([]string{}, common...), "stage"), append(args,
			"--instance-id", name+"-1", "--admin-addr", "", "--session-timeout", "6s", "--transaction-timeout", "10s")...)...)
	}
	var sources []string
	for _, s := range worldSources {
		sources = append(sources, "--source", tp.raw[s.name]+"="+w.files[s.name+".yaml"])
	}
	stages := []*pt.Proc{
		stage("ingest", append([]string{"ingest", "--name", "ingest-" + tp.sfx, "--output", tp.canonical, "--dead-letter", tp.rejected}, sources...)...),
		stage("dedupe", "dedupe", "--name", tp.dedupe, "--input", tp.canonical, "--output", tp.clean, "--dead-letter", tp.rejected),
		stage("link", "link", "--name", tp.link, "--input", tp.clean, "--output", tp.credited, "--dead-letter", tp.rejected,
			"--ref-prefix", tp.ref, "--park-deadline", "5s", "--tick", "500ms"),
		stage("accrue", "accrue", "--name", tp.accrue, "--input", tp.credited, "--overrides", tp.overrides, "--recompute", tp.recompute,
			"--dead-letter", tp.accrueRejected, "--accruals", tp.accruals, "--attainment", tp.attainment, "--nudges", tp.nudges,
			"--awards", tp.awards, "--payable", tp.payable, "--programs-topic", tp.programs, "--ref-prefix", tp.ref),
	}
	// The sink commits offsets every 30s: a sink killed sooner has
	// committed nothing, so its successor repeats every batch it wrote.
	const commitEvery = 30 * time.Second
	sinkGroup := "e2e-sink-" + tp.sfx
	startSink := func(k int) *pt.Proc {
		return pt.StartProc(t, bin, dir, "sink-"+strconv.Itoa(k), "--brokers", brokers[0], "--log-level", "debug",
			"sink", "clickhouse", "--topics", tp.sinkSpecs(), "--group", sinkGroup,
			"--clickhouse-addr", o.Addr[0], "--database", o.Database, "--admin-addr", "",
			"--batch-rows", "5000", "--batch-interval", "300ms", "--commit-interval", commitEvery.String(), "--session-timeout", "6s")
	}
	t.Cleanup(func() {
		deleteGroups(brokers, sinkGroup, "accrue-ingest-"+tp.sfx, "accrue-"+tp.dedupe, "accrue-"+tp.link, "accrue-"+tp.accrue)
	})
	sink := startSink(0)
	// The raw records go out in four parts, 40% at once and 20% after
	// each kill, one part after the other: every kill lands with the
	// stages still at work, and records still to come.
	next := make(chan struct{}, pipelineKills)
	produced := make(chan error, 1)
	go func() {
		cuts := []int{0, len(w.raw) * 2 / 5, len(w.raw) * 3 / 5, len(w.raw) * 4 / 5, len(w.raw)}
		for i := range len(cuts) - 1 {
			if i > 0 {
				<-next
			}
			if err := produceRaw(brokers, tp, w.raw[cuts[i]:cuts[i+1]]); err != nil {
				produced <- err
				return
			}
		}
		t.Logf("%d raw records produced after %v", len(w.raw), time.Since(began).Round(time.Second))
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
		consumed := committedOffsets(t, brokers, "accrue-"+tp.accrue, tp.credited)
		killedAt = append(killedAt, consumed)
		t.Logf("kill %d after %v: sink %d had acknowledged %d batches; the accrual stage had consumed %s up to offset %d",
			k, time.Since(began).Round(time.Second), k-1, acked, tp.credited, consumed)
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
	final := endOffsets(t, brokers, tp.credited)
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
	for _, topic := range tp.sunk() {
		total += len(pt.ReadAll(t, brokers, topic))
	}
	t.Logf("%d records on the sunk topics; %d written over %d sink processes (%d again); %v in all",
		total, written, pipelineKills+1, written-total, time.Since(began).Round(time.Second))
	if written <= total {
		t.Errorf("the kills caused no repeated writes (%d written, %d on the topics): the test did not test replays", written, total)
	}
}

// pipelineTopics are the topics of one run, all with a suffix of their own.
type pipelineTopics struct {
	sfx, ref                                      string
	raw                                           map[string]string
	canonical, clean, credited, rejected          string
	dedupe, link, accrue                          string // stage names
	overrides, recompute, accrueRejected          string
	accruals, attainment, nudges, awards, payable string
	programs                                      string
	all                                           []string
}

// newPipelineTopics creates the topics, four partitions each (reference
// data and programs one), and deletes them when the test ends.
func newPipelineTopics(t *testing.T, brokers []string) *pipelineTopics {
	t.Helper()
	sfx := strconv.FormatInt(time.Now().UnixNano(), 36)
	tp := &pipelineTopics{sfx: sfx, ref: "e2e-ref-" + sfx + ".", raw: map[string]string{},
		canonical: "e2e-canonical-" + sfx, clean: "e2e-clean-" + sfx, credited: "e2e-credited-" + sfx, rejected: "e2e-rejected-" + sfx,
		dedupe: "e2e-dedupe-" + sfx, link: "e2e-link-" + sfx, accrue: "e2e-accrue-" + sfx,
		overrides: "e2e-overrides-" + sfx, recompute: "e2e-recompute-" + sfx, accrueRejected: "e2e-accrue-rejected-" + sfx,
		accruals: "e2e-accruals-" + sfx, attainment: "e2e-attainment-" + sfx, nudges: "e2e-nudges-" + sfx, awards: "e2e-awards-" + sfx,
		payable: "e2e-payable-" + sfx, programs: "e2e-programs-" + sfx}
	plain := []string{tp.canonical, tp.clean, tp.credited, tp.rejected, tp.overrides, tp.recompute, tp.accrueRejected,
		tp.accruals, tp.attainment, tp.nudges, tp.awards, tp.payable}
	for _, s := range worldSources {
		tp.raw[s.name] = "e2e-raw-" + s.name + "-" + sfx
		plain = append(plain, tp.raw[s.name])
	}
	changelogs := []string{tp.dedupe + ".changelog", tp.link + ".changelog", tp.accrue + ".changelog"}
	var single []string
	for _, k := range []string{"reps", "products", "accounts", "fx", "identities"} {
		single = append(single, tp.ref+k)
	}
	single = append(single, tp.programs)
	tp.all = append(append(append([]string{}, plain...), changelogs...), single...)
	t.Cleanup(func() {
		adm := kadmClient(brokers)
		if adm == nil {
			return
		}
		defer adm.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopics(ctx, tp.all...); err != nil {
			t.Logf("delete topics: %v", err)
		}
	})
	pt.CreateTopics(t, brokers, 4, plain, changelogs...)
	pt.CreateTopics(t, brokers, 1, nil, single...)
	return tp
}

// sinkSpecs is the sink's --topics: every table the reports read.
func (tp *pipelineTopics) sinkSpecs() string {
	return tp.clean + "=sales.clean," + tp.credited + "=sales.credited," + tp.rejected + "=sales.rejected," +
		tp.accrueRejected + "=sales.rejected," + tp.accruals + "=accruals," + tp.attainment + "=attainment"
}

func (tp *pipelineTopics) sunk() []string {
	return []string{tp.clean, tp.credited, tp.rejected, tp.accrueRejected, tp.accruals, tp.attainment}
}

func kadmClient(brokers []string) *kadm.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil
	}
	return kadm.NewClient(cl)
}

// endOffsets is the sum of the end offsets of topic's partitions.
func endOffsets(t *testing.T, brokers []string, topic string) int64 {
	t.Helper()
	adm := kadmClient(brokers)
	if adm == nil {
		t.Fatal("no admin client")
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	offs.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// committedOffsets is the sum of group's committed offsets on topic.
func committedOffsets(t *testing.T, brokers []string, group, topic string) int64 {
	t.Helper()
	adm := kadmClient(brokers)
	if adm == nil {
		t.Fatal("no admin client")
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.At > 0 {
			n += o.At
		}
	})
	return n
}

func deleteGroups(brokers []string, groups ...string) {
	adm := kadmClient(brokers)
	if adm == nil {
		return
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = adm.DeleteGroups(ctx, groups...)
}

// produceRaw writes raw records of the world to their sources' topics. It
// may run on a goroutine of its own.
func produceRaw(brokers []string, tp *pipelineTopics, raw []*kgo.Record) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(200000))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rs := make([]*kgo.Record, 0, len(raw))
	for _, r := range raw {
		rs = append(rs, &kgo.Record{Topic: tp.raw[r.Topic], Key: r.Key, Value: r.Value})
	}
	return cl.ProduceSync(ctx, rs...).FirstErr()
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

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}
