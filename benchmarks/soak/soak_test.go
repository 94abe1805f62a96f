package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/link"
)

// program is the soak's plan: monthly, with quota, marginal tiers, a
// spiff, a clawback window and an override, so that every kind of state
// the stage keeps is there and expires.
const program = `id: soak
version: 1
name: Soak
currency: USD
timezone: UTC
period: month
effective_from: 2020-01-01
credit: {measure: amount}
quota: {default: "400000"}
tiers:
  basis: attainment
  method: marginal
  bands: [{from: "0", rate: "0.02"}, {from: "0.5", rate: "0.05"}, {from: "1.0", rate: "0.08"}]
spiffs:
  - {id: launch, when: 'product_id == "P-7"', fixed: "100", max_per_period: 10}
clawback: {window_days: 20}
overrides: [{level: 1, rate: "0.01"}]
nudges:
  attainment_crossed: ["0.5", "1.0"]
badges:
  - {id: first-sale, metric: count, at_least: "1"}
`

const (
	reps     = 300
	managers = 10
	// perDay is how many credits make one day of event time: at 10,000
	// credits/s, five days pass each second, so the 30 days of
	// --retention are six seconds of input and the state reaches its
	// steady size long before the warm-up ends.
	perDay    = 2000
	retention = 30 * 24 * time.Hour
	backlog   = 60_000
)

// TestSoak runs the accrual stage as a process at half its measured
// maximum rate for ACCRUE_SOAK (default 40s), sampling its heap, resident
// memory, goroutines, state keys and backlog, and fails on a growth trend
// in any of them after the warm-up (the first quarter). Event time runs
// fast (perDay) and the stage keeps sales and periods for 30 days of it,
// so that its state has a steady size, as a stage's has once its
// retention is reached: growth is then a leak.
//
//	ACCRUE_SOAK=30m ACCRUE_SOAK_OUT=benchmarks/results go test ./benchmarks/soak -run Soak -v -timeout 40m
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a stage process against a real broker")
	}
	duration := 40 * time.Second
	if s := os.Getenv("ACCRUE_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("ACCRUE_SOAK=%q: %v", s, err)
		}
		duration = d
	}
	outDir := os.Getenv("ACCRUE_SOAK_OUT")
	brokers := pt.RealBrokers(t)
	bin := pt.AccrueBinary(t)
	dir := t.TempDir()
	t.Logf("logs in %s", dir)
	common := []string{"--brokers", brokers[0], "--log-level", "info"}
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(bin, append(append([]string{}, common...), args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("accrue %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	sfx := strconv.FormatInt(time.Now().UnixNano(), 36)
	name := "soak-" + sfx
	topic := func(k string) string { return name + "-" + k }
	outputs := []string{"accruals", "attainment", "nudges", "awards", "payable", "rejected"}
	var ts []string
	for _, k := range append([]string{"credited", "overrides", "recompute"}, outputs...) {
		ts = append(ts, topic(k))
	}
	pt.CreateTopics(t, brokers, 6, ts, name+".changelog")
	refPrefix := name + ".ref."
	var refs []string
	for _, k := range []string{"reps", "products", "accounts", "fx", "identities"} {
		refs = append(refs, refPrefix+k)
	}
	pt.CreateTopics(t, brokers, 1, nil, append(refs, topic("programs"))...)

	var repsFile strings.Builder
	for i := range managers {
		fmt.Fprintf(&repsFile, `{"rep_id":"M-%d","role":"MGR","valid_from":"2020-01-01"}`+"\n", i)
	}
	for i := range reps {
		fmt.Fprintf(&repsFile, `{"rep_id":"R-%d","role":"AE","manager_id":"M-%d","valid_from":"2020-01-01"}`+"\n", i, i%managers)
	}
	files := map[string]string{"reps.jsonl": repsFile.String(), "soak.yaml": program}
	for f, body := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("ref", "load", "--kind", "reps", "-q", "--topic", refPrefix+"reps", "--transactional-id", name+"-ref", filepath.Join(dir, "reps.jsonl"))
	run("program", "--topic", topic("programs"), "publish", filepath.Join(dir, "soak.yaml"))

	admin := pt.FreeAddr(t)
	// Each sweep drops the sales that left the retention since the last
	// one, so the state is a sawtooth whose teeth are the event time
	// between two sweeps. With a sweep every 2s and ticks every second,
	// at 13,000 to 26,000 credits/s (7 to 13 days of event time a second)
	// the teeth were a fifth to a half of the state, and a 40s soak's
	// samples read them as trends of 12 to 25%. The stage ticks, and so
	// sweeps, at most once a batch: every 100ms, a tooth is about one
	// batch.
	stage := pt.StartProc(t, bin, dir, "accrue", append(append([]string{}, common...), "stage", "accrue",
		"--name", name, "--input", topic("credited"), "--overrides", topic("overrides"), "--recompute", topic("recompute"),
		"--dead-letter", topic("rejected"), "--accruals", topic("accruals"), "--attainment", topic("attainment"),
		"--nudges", topic("nudges"), "--awards", topic("awards"), "--payable", topic("payable"),
		"--programs-topic", topic("programs"), "--ref-prefix", refPrefix, "--instance-id", "s1",
		"--admin-addr", admin, "--retention", retention.String(), "--sweep-interval", "100ms", "--tick", "100ms")...)
	scrape := func() sample {
		t.Helper()
		s, err := scrapeStage(admin, name, topic("credited"))
		if err != nil {
			if !stage.Alive() {
				stage.Died()
			}
			t.Fatal(err)
		}
		return s
	}

	// The maximum: a backlog, timed between 10% and 90% of it applied.
	gen := newCredits(1)
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic("credited")),
		kgo.MaxBufferedRecords(100_000), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ctx := context.Background()
	var produced atomic.Int64
	send := func(n int) {
		for range n {
			k, v := gen.next()
			prod.Produce(ctx, &kgo.Record{Key: k, Value: v}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce: %v", err)
				}
			})
		}
		produced.Add(int64(n))
	}
	send(backlog)
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var t10, t90 time.Time
	deadline := time.Now().Add(5 * time.Minute)
	for t90.IsZero() {
		if time.Now().After(deadline) {
			t.Fatalf("the stage applied %v of the %d credits of the backlog in 5 minutes", scrape().in, backlog)
		}
		in := scrape().in
		switch {
		case t10.IsZero() && in >= backlog/10:
			t10 = time.Now()
		case !t10.IsZero() && in >= backlog*9/10:
			t90 = time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	maxRate := float64(backlog*8/10) / t90.Sub(t10).Seconds()
	rate := maxRate / 2
	t.Logf("maximum %.0f credits/s; soaking at %.0f credits/s for %v", maxRate, rate, duration)

	// The soak: paced every 10ms, sampled every interval.
	interval := min(max(duration/120, time.Second), 15*time.Second)
	var samples []sample
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	nextSample := start
	for now := range tick.C {
		if now.Sub(start) >= duration {
			break
		}
		if due := int64(rate*now.Sub(start).Seconds()) + backlog - produced.Load(); due > 0 {
			send(int(due))
		}
		if now.After(nextSample) {
			s := scrape()
			s.At = now.Sub(start).Seconds()
			s.Backlog = float64(produced.Load()) - s.in
			samples = append(samples, s)
			nextSample = nextSample.Add(interval)
		}
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	last := scrape()
	stage.Stop()

	rep := analyse(samples, duration, rate)
	rep.MaxRate, rep.Duration = maxRate, duration.String()
	rep.Credits = produced.Load()
	rep.Rejected = last.rejected
	t.Logf("%s", rep.table())
	if outDir != "" {
		writeResults(t, outDir, samples, rep)
	}
	for _, p := range rep.problems {
		t.Error(p)
	}
	if last.rejected > 0 {
		t.Errorf("the stage rejected %v credits; the soak's are all valid", last.rejected)
	}
}

// sample is one reading of the stage's /metrics.
type sample struct {
	At         float64 `json:"t_s"`
	HeapInuse  float64 `json:"heap_inuse_bytes"`
	RSS        float64 `json:"rss_bytes"`
	Goroutines float64 `json:"goroutines"`
	StateKeys  float64 `json:"state_keys"`
	// Backlog is credits produced and not yet committed by the stage.
	Backlog  float64 `json:"backlog"`
	in       float64
	rejected float64
}

func scrapeStage(addr, stage, input string) (sample, error) {
	var s sample
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return s, fmt.Errorf("scrape /metrics: %w", err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return s, fmt.Errorf("parse /metrics: %w", err)
	}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			switch {
			case name == "go_memstats_heap_inuse_bytes":
				s.HeapInuse = v
			case name == "process_resident_memory_bytes":
				s.RSS = v
			case name == "go_goroutines":
				s.Goroutines = v
			case name == "accrue_stage_state_keys" && labels["stage"] == stage:
				s.StateKeys = v
			case name == "accrue_stage_records_in_total" && labels["stage"] == stage && labels["topic"] == input:
				s.in = v
			case name == "accrue_stage_rejects_total" && labels["stage"] == stage:
				s.rejected += v
			}
		}
	}
	return s, nil
}

// report is the soak's result: for each series, its mean after the
// warm-up and its trend there (least squares), as the change over the
// whole soak.
type report struct {
	Duration string             `json:"duration"`
	MaxRate  float64            `json:"max_credits_per_s"`
	Rate     float64            `json:"credits_per_s"`
	Credits  int64              `json:"credits"`
	Rejected float64            `json:"rejected"`
	Series   map[string]*series `json:"series"`
	problems []string
}

type series struct {
	Mean  float64 `json:"mean"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Trend float64 `json:"trend_over_soak"`
	Limit float64 `json:"trend_limit"`
}

// analyse fits each series after the warm-up and holds its trend, over
// the whole soak, to a limit: a fifth of the heap's or memory's mean, or
// half its swing if more (a garbage-collected heap swings by about its
// live size between two collections, which a short soak's few samples do
// not average out; a leak of that size in 30 minutes would show), 20
// goroutines, a tenth of the state's size, and a backlog of two seconds
// of input or one batch, whichever is more.
func analyse(all []sample, d time.Duration, rate float64) *report {
	r := &report{Series: map[string]*series{}, Rate: rate}
	warm := all[len(all)/4:]
	if len(warm) < 3 {
		r.problems = append(r.problems, fmt.Sprintf("only %d samples after the warm-up", len(warm)))
		return r
	}
	get := map[string]func(s sample) float64{
		"heap_inuse_bytes": func(s sample) float64 { return s.HeapInuse },
		"rss_bytes":        func(s sample) float64 { return s.RSS },
		"goroutines":       func(s sample) float64 { return s.Goroutines },
		"state_keys":       func(s sample) float64 { return s.StateKeys },
		"backlog":          func(s sample) float64 { return s.Backlog },
	}
	for name, f := range get {
		var sx, sy, sxx, sxy float64
		se := &series{Min: f(warm[0]), Max: f(warm[0])}
		for _, s := range warm {
			x, y := s.At, f(s)
			sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
			se.Min, se.Max = min(se.Min, y), max(se.Max, y)
		}
		n := float64(len(warm))
		se.Mean = sy / n
		if den := n*sxx - sx*sx; den != 0 {
			se.Trend = (n*sxy - sx*sy) / den * d.Seconds()
		}
		switch name {
		case "heap_inuse_bytes", "rss_bytes":
			se.Limit = max(se.Mean/5, (se.Max-se.Min)/2)
		case "goroutines":
			se.Limit = 20
		case "state_keys":
			se.Limit = se.Mean / 10
		case "backlog":
			se.Limit = 10_000
		}
		r.Series[name] = se
	}
	r.Series["backlog"].Limit = max(r.Series["backlog"].Limit, 2*r.Rate)
	for _, name := range []string{"heap_inuse_bytes", "rss_bytes", "goroutines", "state_keys", "backlog"} {
		if se := r.Series[name]; se.Trend > se.Limit {
			r.problems = append(r.problems, fmt.Sprintf("%s grows by %.0f over the soak (mean %.0f), more than %.0f", name, se.Trend, se.Mean, se.Limit))
		}
	}
	return r
}

func (r *report) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak %s at %.0f credits/s (maximum %.0f), %d credits, %v rejected\n", r.Duration, r.Rate, r.MaxRate, r.Credits, r.Rejected)
	fmt.Fprintf(&b, "%-18s %14s %14s %14s %16s %14s\n", "series", "mean", "min", "max", "trend/soak", "limit")
	for _, name := range []string{"heap_inuse_bytes", "rss_bytes", "goroutines", "state_keys", "backlog"} {
		if se := r.Series[name]; se != nil {
			fmt.Fprintf(&b, "%-18s %14.0f %14.0f %14.0f %16.0f %14.0f\n", name, se.Mean, se.Min, se.Max, se.Trend, se.Limit)
		}
	}
	return b.String()
}

func writeResults(t *testing.T, dir string, samples []sample, r *report) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("t_s,heap_inuse_bytes,rss_bytes,goroutines,state_keys,backlog\n")
	for _, s := range samples {
		fmt.Fprintf(&csv, "%.1f,%.0f,%.0f,%.0f,%.0f,%.0f\n", s.At, s.HeapInuse, s.RSS, s.Goroutines, s.StateKeys, s.Backlog)
	}
	js, err := json.MarshalIndent(struct {
		*report
		Machine string `json:"machine"`
		Date    string `json:"date"`
	}{r, machine(), time.Now().UTC().Format(time.RFC3339)}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for f, body := range map[string][]byte{"soak.csv": []byte(csv.String()), "soak.json": append(js, '\n')} {
		if err := os.WriteFile(filepath.Join(dir, f), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// machine is the CPU model and core count, from /proc/cpuinfo.
func machine() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	model, cores := "", 0
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			model = strings.TrimSpace(v)
		case "processor":
			cores++
		}
	}
	return fmt.Sprintf("%s, %d cores", model, cores)
}

// credits makes the soak's input: sales by the reps in turn, one in ten a
// return of a tenth of one of the rep's recent sales (inside the
// clawback window), event time moving by a day every perDay credits.
type credits struct {
	rnd    *rand.Rand
	i      int
	recent [reps][]*canonical.Event
	buf    []byte
}

func newCredits(seed uint64) *credits { return &credits{rnd: rand.New(rand.NewPCG(seed, 7))} }

func (c *credits) next() (key, value []byte) {
	i := c.i
	c.i++
	at := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * (24 * time.Hour / perDay))
	r := c.rnd.IntN(reps)
	rep := "R-" + strconv.Itoa(r)
	e := &canonical.Event{Source: "crm", TxnID: "T-" + strconv.Itoa(i), Type: canonical.Sale, EventTime: at,
		RepID: rep, ProductID: "P-" + strconv.Itoa(c.rnd.IntN(10)),
		Amount: canonical.Money{Value: decimal.New(int64(10000+c.rnd.IntN(900000)), -2), Currency: "USD"}}
	if recent := c.recent[r]; len(recent) > 0 && c.rnd.IntN(10) == 0 {
		orig := recent[c.rnd.IntN(len(recent))]
		e.Type, e.RefTxnID, e.ProductID = canonical.Return, orig.TxnID, orig.ProductID
		e.Amount.Value = orig.Amount.Value.Div(decimal.NewFromInt(10)).Round(2)
	} else {
		// A rep's last 8 sales: a few days of event time, inside the
		// 20-day window.
		if len(c.recent[r]) == 8 {
			c.recent[r] = append(c.recent[r][:0], c.recent[r][1:]...)
		}
		c.recent[r] = append(c.recent[r], e)
	}
	e.EventID = canonical.DefaultEventID(e.Source, e.TxnID, e.Type)
	cr := link.Credit{Event: e, RepID: rep, Share: decimal.NewFromInt(1), Via: link.ViaRep}
	return []byte(rep), cr.AppendJSON(nil)
}
