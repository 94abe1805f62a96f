package benchmarks

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/benchmarks/report"
	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/accrue"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
)

// BenchmarkStateMillionReps builds the accrual stage's state for a
// million reps under one program in one period (a sale each, in
// September 2026, under the first program of the accrual benchmarks) on
// the real Kafka, then measures:
//
//   - the build: credits/s of one in-process instance while its state
//     grows to a million reps;
//
//   - the changelog: bytes on the broker's disk and records, read back
//     whole (key and value bytes per kind of entry: a (program, period,
//     rep) entry "p/…", a sale entry "s/…", the rest);
//
//   - restore: a fresh instance of the same group given every partition
//     at once (one restore of all six, as after a crash of the only
//     instance), from the stage's own state_restore_seconds; then each
//     partition alone, read and decoded as the runtime's restore does it
//     (restorePartition), since the runtime times its restores of several
//     partitions as one;
//
//   - memory: the Go heap (runtime.MemStats.HeapAlloc after two GCs)
//     before the fresh instance starts and once it holds the whole state,
//     per million keys.
//
//     go test ./benchmarks -run '^$' -bench StateMillionReps -benchtime 1x -timeout 30m
//
// ACCRUE_BENCH_STATE_REPS (default 1000000) changes the number of reps.
// The report goes to benchmarks/results/state.json (benchmarks/report).
func BenchmarkStateMillionReps(b *testing.B) {
	brokers := pt.RealBrokers(b)
	reps := envInt(b, "ACCRUE_BENCH_STATE_REPS", 1_000_000)
	adm := pt.Admin(b, brokers)
	sfx := strconv.FormatInt(time.Now().UnixNano(), 36)
	name := "state-" + sfx
	input := name + "-credited"
	topics := []string{input, name + ".rejected"}
	for _, k := range []string{"overrides", "accruals", "attainment", "nudges", "awards", "payable"} {
		topics = append(topics, name+"-"+k)
	}
	pt.CreateTopics(b, brokers, benchPartitions, topics, name+".changelog")
	b.Cleanup(func() {
		deleteTopics(b, adm, append(topics, name+".changelog")...)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = adm.DeleteGroups(ctx, "accrue-"+name)
	})

	tb := stateTables(reps)
	rep := report.New("state", "go test ./benchmarks -run '^$' -bench StateMillionReps -benchtime 1x -timeout 30m", map[string]any{
		"reps": reps, "programs": 1, "periods": 1, "credits": reps, "credit": "one USD sale per rep, September 2026",
		"partitions": benchPartitions, "max_poll_records": accrueBatch, "parallelism": runtime.GOMAXPROCS(0),
		"program": "ae: amount, monthly, quota by role, marginal bands, cap, two spiffs, clawback, overrides (no managers here), nudges, badges",
	})
	rep.Machine.Kafka = brokerVersion(b, brokers)
	fact := func(k string, v any) { rep.Facts[k] = v }

	t0 := time.Now()
	produceStateCredits(b, brokers, input, reps)
	b.Logf("%d credits produced in %v", reps, time.Since(t0).Round(time.Millisecond))

	// Build.
	built := runStateStage(b, brokers, name, input, tb, "build", reps)
	rep.Add(0, "accrue", "build the state", int64(reps), built.took)

	// The changelog.
	cl := readChangelog(b, brokers, adm, name+".changelog")
	fact("changelog_records", cl.records)
	fact("changelog_transaction_markers", cl.markers)
	fact("changelog_disk_bytes", cl.diskBytes)
	fact("changelog_key_value_bytes", cl.kvBytes)
	for _, k := range []string{"p", "s", "other"} {
		if cl.keys[k] == 0 {
			continue
		}
		fact(fmt.Sprintf("changelog_%s_entries", stateKind(k)), cl.keys[k])
		fact(fmt.Sprintf("changelog_key_value_bytes_per_%s_entry", stateKind(k)), round(float64(cl.bytes[k])/float64(cl.keys[k]), 1))
	}
	periods := float64(cl.keys["p"])
	fact("changelog_key_value_bytes_per_program_period_rep_all_entries", round(float64(cl.kvBytes)/periods, 1))
	fact("changelog_disk_bytes_per_program_period_rep_all_entries", round(float64(cl.diskBytes)/periods, 1))

	// Restore, whole: a fresh instance restores the partitions it is
	// given at its first records there or, idle, at its first tick; the
	// records are there before it starts, so it restores all six at once.
	probe := 0
	for p := range benchPartitions {
		probe = produceProbe(b, brokers, input, int32(p), probe)
	}
	heap0 := heapAfterGC()
	whole := runStateStage(b, brokers, name, input, tb, "whole", benchPartitions)
	keys := whole.keys
	heapPerM := float64(whole.heap-heap0) / float64(keys) * 1e6
	rep.Add(0, "restore", "all partitions, by the stage", whole.restored, time.Duration(whole.restoreSecs*float64(time.Second)))
	fact("restore_all_partitions_restores", whole.restores)
	fact("state_keys_held", keys)
	fact("heap_mib_before_the_instance", round(float64(heap0)/(1<<20), 0))
	fact("heap_mib_holding_the_whole_state", round(float64(whole.heap)/(1<<20), 0))
	fact("heap_mib_per_1m_state_keys", round(heapPerM/(1<<20), 0))
	fact("heap_bytes_per_program_period_rep_all_entries", round(float64(whole.heap-heap0)/periods, 0))

	// Restore, one partition at a time.
	var sum float64
	for p := range benchPartitions {
		runtime.GC() // each starts from the same heap, the last one's map gone
		s := restorePartition(b, brokers, adm, name+".changelog", int32(p))
		rep.Add(0, "restore", fmt.Sprintf("partition %d alone", p), s.records, time.Duration(s.secs*float64(time.Second)))
		fact(fmt.Sprintf("restore_partition_%d_keys", p), s.keys)
		sum += s.secs
	}
	fact("restore_one_partition_at_a_time_sum_seconds", round(sum, 2))

	b.ReportMetric(built.rate, "build_credits/s")
	b.ReportMetric(whole.restoreSecs, "restore_s")
	b.ReportMetric(float64(cl.kvBytes)/periods, "changelog_B/rep")
	b.ReportMetric(heapPerM/(1<<20), "heap_MiB/1M_keys")
	b.ReportMetric(0, "ns/op")
	rep.Notes = append(rep.Notes,
		"one credit per rep makes one (program, period, rep) entry and one sale entry (kept for returns within the retention): a million reps are two million keys",
		"restore rows: records are changelog records read, records/s their rate; 'by the stage' is the runtime's own restore of all six partitions (state_restore_seconds), 'alone' the same reads and decoding one partition at a time",
		"the heap figures include what the instance allocates besides the state (clients, buffers); the reference tables of a million reps are live before and after, so they cancel")
	writeReport(b, rep)
}

func stateKind(k string) string {
	switch k {
	case "p":
		return "program_period_rep"
	case "s":
		return "sale"
	}
	return "other"
}

// stateTables are n reps (AE and SE, no managers) and the rates of the
// accrual benchmarks.
func stateTables(n int) *reference.Tables {
	var tb reference.Tables
	from := benchDate("2026-01-01")
	for i := range n {
		tb.Reps.Put(reference.Rep{RepID: "R-" + strconv.Itoa(i), Role: []string{"AE", "AE", "SE"}[i%3], ValidFrom: from})
	}
	tb.FX.Put(reference.FXRate{From: "EUR", To: "USD", Rate: decimal.RequireFromString("1.08"), ValidFrom: from})
	return &tb
}

// stateCredit is rep i's sale: September 2026, USD, one of 50 products.
func stateCredit(i int, txn string) []byte {
	e := &canonical.Event{Source: "crm", TxnID: txn, Type: canonical.Sale,
		EventTime: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i%(29*24*60)) * time.Minute),
		RepID:     "R-" + strconv.Itoa(i), ProductID: "P-" + strconv.Itoa(i%50),
		Quantity: decimal.NewNullDecimal(decimal.NewFromInt(int64(1 + i%5))),
		Amount:   canonical.Money{Value: decimal.New(int64(10000+i*37%900000), -2), Currency: "USD"}}
	e.EventID = canonical.DefaultEventID(e.Source, e.TxnID, e.Type)
	c := link.Credit{Event: e, RepID: e.RepID, Share: decimal.NewFromInt(1), Via: link.ViaRep}
	return c.AppendJSON(nil)
}

func produceStateCredits(b *testing.B, brokers []string, topic string, n int) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MaxBufferedRecords(100_000), kgo.DefaultProduceTopic(topic))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	var once sync.Once
	var perr error
	for i := range n {
		cl.Produce(ctx, &kgo.Record{Key: []byte("R-" + strconv.Itoa(i)), Value: stateCredit(i, "S-"+strconv.Itoa(i))},
			func(_ *kgo.Record, err error) {
				if err != nil {
					once.Do(func() { perr = err })
				}
			})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if perr != nil {
		b.Fatal(perr)
	}
}

// produceProbe writes one more sale, of a rep whose key the default
// partitioner puts on partition p (found by trying reps from the
// probe-th on), and returns the next probe.
func produceProbe(b *testing.B, brokers []string, topic string, p int32, probe int) int {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	part := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	for i := probe; ; i++ {
		key := []byte("R-" + strconv.Itoa(i))
		if part.Partition(&kgo.Record{Key: key}, benchPartitions) != int(p) {
			continue
		}
		r := &kgo.Record{Key: key, Value: stateCredit(i, "probe-"+strconv.Itoa(i))}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			b.Fatal(err)
		}
		if r.Partition != p {
			b.Fatalf("probe for partition %d went to %d", p, r.Partition)
		}
		return i + 1
	}
}

// stateRun is what one instance of the state benchmark's stage did.
type stateRun struct {
	rate        float64
	took        time.Duration
	restoreSecs float64
	restored    int64
	restores    uint64
	keys        int
	heap        uint64
}

// runStateStage runs a new instance of the stage until it has committed
// n more credits, and returns its rate and restores; the heap is
// measured, after GC, while the instance still holds its state.
func runStateStage(b *testing.B, brokers []string, name, input string, tb *reference.Tables, instance string, n int) stateRun {
	b.Helper()
	st, met, reg, started, stop := startStateStage(b, brokers, name, input, tb, instance)
	in := met.RecordsIn(name, input)
	for pipeline.Count(in) < int64(n) {
		time.Sleep(5 * time.Millisecond)
		if err := stop.err(); err != nil {
			b.Fatalf("stage stopped: %v", err)
		}
	}
	took := time.Since(time.Unix(0, started.Load()))
	if rej := rejectsOf(reg, name); rej > 0 {
		b.Fatalf("%s rejected %v credits", name, rej)
	}
	r := stateRun{rate: float64(n) / took.Seconds(), took: took}
	r.restoreSecs, r.restores = histogramOf(reg, "accrue_stage_state_restore_seconds")
	r.restored = int64(counterOf(reg, "accrue_stage_state_restored_records_total"))
	r.heap = heapAfterGC()
	stop.stop(b)
	r.keys = st.StateSize()
	return r
}

// partRestore is one partition's restore.
type partRestore struct {
	secs    float64
	records int64
	keys    int
}

// restorePartition does, for one partition, what the runtime's restore
// does for the partitions an instance is given (pipeline/restore.go: read
// the changelog partition from its start to its last stable offset,
// read_committed, decode each value with the stage's codec into the
// partition's map), and times it. The runtime's restore of several
// partitions reads them with one client at once and reports one time for
// all of them; this shows how that time divides.
func restorePartition(b *testing.B, brokers []string, adm *kadm.Client, topic string, p int32) partRestore {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		b.Fatal(err)
	}
	end, _ := ends.Lookup(topic, p)
	if end.Offset == 0 {
		return partRestore{}
	}
	last := end.Offset - 1
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.FetchMaxBytes(64<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	state := map[string]accrue.Entry{}
	var r partRestore
	for done := false; !done; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			b.Fatal(err)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			if done || rec.Offset > last {
				done = true
				return
			}
			if !rec.Attrs.IsControl() {
				r.records++
				if rec.Value == nil {
					delete(state, string(rec.Key))
				} else if v, err := (accrue.EntryCodec{}).Decode(rec.Value); err != nil {
					b.Fatalf("decode %s/%d@%d: %v", topic, p, rec.Offset, err)
				} else {
					state[string(rec.Key)] = v
				}
			}
			if rec.Offset == last {
				done = true
			}
		})
	}
	r.secs = time.Since(start).Seconds()
	r.keys = len(state)
	return r
}

// stageStop ends an in-process stage.
type stageStop struct {
	cancel context.CancelFunc
	errc   chan error
	mu     sync.Mutex
	done   error
	ended  bool
}

func (s *stageStop) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return s.done
	}
	select {
	case err := <-s.errc:
		s.ended, s.done = true, err
		if err == nil {
			s.done = fmt.Errorf("stage ended")
		}
		return s.done
	default:
		return nil
	}
}

func (s *stageStop) stop(b *testing.B) {
	s.cancel()
	if err := s.err(); err != nil && !strings.Contains(err.Error(), "stage ended") {
		b.Fatal(err)
	}
	if !s.ended {
		if err := <-s.errc; err != nil {
			b.Fatal(err)
		}
	}
}

func startStateStage(b *testing.B, brokers []string, name, input string, tb *reference.Tables, instance string) (*pipeline.Stage[accrue.Entry], *pipeline.Metrics, *prometheus.Registry, *atomic.Int64, *stageStop) {
	b.Helper()
	proc, err := accrue.NewProcessor(accrue.Config{Tables: tb, Catalog: accrueCatalog(b, 1), Overrides: name + "-overrides",
		Accruals: name + "-accruals", Attainment: name + "-attainment", Nudges: name + "-nudges", Awards: name + "-awards",
		Payable: name + "-payable", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	met := pipeline.NewMetrics(reg)
	started := &atomic.Int64{}
	st, err := pipeline.NewStage[accrue.Entry](pipeline.Config{
		Name: name, Brokers: brokers, Inputs: []string{input, name + "-overrides"}, InstanceID: instance,
		MaxPollRecords: accrueBatch, Parallelism: runtime.GOMAXPROCS(0), Metrics: met, Logger: slog.New(slog.DiscardHandler),
		TransactionTimeout: time.Minute,
	}, accrue.EntryCodec{}, startClock{proc, started})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &stageStop{cancel: cancel, errc: make(chan error, 1)}
	go func() { s.errc <- st.Run(ctx) }()
	return st, met, reg, started, s
}

// changelogFacts are the changelog as the broker holds it.
type changelogFacts struct {
	records, markers, diskBytes, kvBytes int64
	keys, bytes                          map[string]int64
}

// readChangelog reads the whole changelog (read_committed, as a restore
// does) and asks the broker for its size on disk.
func readChangelog(b *testing.B, brokers []string, adm *kadm.Client, topic string) changelogFacts {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f := changelogFacts{keys: map[string]int64{}, bytes: map[string]int64{}}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		b.Fatal(err)
	}
	want := map[int32]int64{}
	var total int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset - 1
			total += o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			b.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if last, ok := want[r.Partition]; ok && r.Offset >= last {
				delete(want, r.Partition)
			}
			if r.Attrs.IsControl() {
				f.markers++
				return
			}
			f.records++
			k := "other"
			if len(r.Key) > 2 && r.Key[1] == '/' && (r.Key[0] == 'p' || r.Key[0] == 's') {
				k = string(r.Key[:1])
			}
			f.keys[k]++
			f.bytes[k] += int64(len(r.Key) + len(r.Value))
			f.kvBytes += int64(len(r.Key) + len(r.Value))
		})
	}
	if f.records+f.markers != total {
		b.Logf("changelog: %d records and %d markers read of %d offsets (compacted meanwhile?)", f.records, f.markers, total)
	}
	set := kadm.TopicsSet{}
	for p := range benchPartitions {
		set.Add(topic, int32(p))
	}
	dirs, err := adm.DescribeAllLogDirs(ctx, set)
	if err != nil {
		b.Fatal(err)
	}
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) { f.diskBytes += p.Size })
	})
	return f
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func histogramOf(reg *prometheus.Registry, name string) (sum float64, count uint64) {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetHistogram().GetSampleSum()
			count += m.GetHistogram().GetSampleCount()
		}
	}
	return sum, count
}

func counterOf(reg *prometheus.Registry, name string) float64 {
	mfs, _ := reg.Gather()
	s := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			s += m.GetCounter().GetValue()
		}
	}
	return s
}

func rejectsOf(reg *prometheus.Registry, _ string) float64 {
	return counterOf(reg, "accrue_stage_rejects_total")
}
