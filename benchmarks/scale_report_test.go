package benchmarks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// benchReport is what the scale, state and latency benchmarks print at
// the end of a run: the machine, the settings and the results, as JSON and
// as a table. With ACCRUE_BENCH_RESULTS set to a folder, the JSON is also
// written there as <File>.json, which `go run ./benchmarks/plot` reads.
//
// Results are rows of named columns so that a reader (the plots, a
// spreadsheet) finds a figure by its column's name.
type benchReport struct {
	Benchmark string         `json:"benchmark"`
	File      string         `json:"-"`
	Started   time.Time      `json:"started"`
	Took      string         `json:"took"`
	Machine   machineFacts   `json:"machine"`
	Settings  map[string]any `json:"settings"`
	Columns   []string       `json:"columns"`
	Rows      [][]any        `json:"rows"`
	Notes     []string       `json:"notes,omitempty"`
}

// machineFacts are what a figure depends on besides the code.
type machineFacts struct {
	CPU          string    `json:"cpu"`
	Cores        int       `json:"cores"`
	GOMAXPROCS   int       `json:"gomaxprocs"`
	MemoryGiB    float64   `json:"memory_gib"`
	Kernel       string    `json:"kernel"`
	Go           string    `json:"go"`
	Commit       string    `json:"commit,omitempty"`
	LoadStart    []float64 `json:"load_average_start"`
	LoadEnd      []float64 `json:"load_average_end,omitempty"`
	KafkaBrokers string    `json:"kafka_brokers,omitempty"`
}

func newBenchReport(benchmark, file string, settings map[string]any, columns ...string) *benchReport {
	return &benchReport{Benchmark: benchmark, File: file, Started: time.Now().UTC().Truncate(time.Second),
		Machine: readMachine(), Settings: settings, Columns: columns}
}

// add appends a row; values are in the order of the columns.
func (r *benchReport) add(values ...any) {
	if len(values) != len(r.Columns) {
		panic(fmt.Sprintf("report %s: %d values for %d columns", r.Benchmark, len(values), len(r.Columns)))
	}
	r.Rows = append(r.Rows, values)
}

func (r *benchReport) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// emit prints the report and writes it where ACCRUE_BENCH_RESULTS says.
func (r *benchReport) emit(b *testing.B) {
	b.Helper()
	r.Machine.LoadEnd = loadAverage()
	r.Took = time.Since(r.Started).Round(time.Second).String()
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "\n%s\n%s\n\n", r.Benchmark, js)
	fmt.Fprintf(&out, "machine: %s, %d cores, %.0f GiB, %s, load %v → %v; commit %s\n",
		r.Machine.CPU, r.Machine.Cores, r.Machine.MemoryGiB, r.Machine.Go, r.Machine.LoadStart, r.Machine.LoadEnd, r.Machine.Commit)
	tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(r.Columns, "\t")+"\t")
	for _, row := range r.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = cell(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()
	for _, n := range r.Notes {
		fmt.Fprintf(&out, "note: %s\n", n)
	}
	os.Stdout.Write(out.Bytes())
	if dir := os.Getenv("ACCRUE_BENCH_RESULTS"); dir != "" {
		path := filepath.Join(dir, r.File+".json")
		if err := os.WriteFile(path, append(js, '\n'), 0o644); err != nil {
			b.Fatal(err)
		}
		b.Logf("report written to %s", path)
	}
}

func cell(v any) string {
	switch x := v.(type) {
	case float64:
		switch {
		case x == float64(int64(x)) && x < 1e15 && x > -1e15:
			return strconv.FormatInt(int64(x), 10)
		case x >= 100 || x <= -100:
			return strconv.FormatFloat(x, 'f', 0, 64)
		default:
			return strconv.FormatFloat(x, 'f', 3, 64)
		}
	default:
		return fmt.Sprint(v)
	}
}

// round keeps figures readable in the JSON: three significant digits
// after the point at most.
func round(x float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(x*p+0.5*sign(x))) / p
}

func sign(x float64) float64 {
	if x < 0 {
		return -1
	}
	return 1
}

func readMachine() machineFacts {
	m := machineFacts{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Go: runtime.Version(),
		LoadStart: loadAverage(), KafkaBrokers: os.Getenv("ACCRUE_KAFKA_BROKERS")}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				m.MemoryGiB = round(kb/(1<<20), 1)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			m.Commit += "+changes"
		}
	}
	return m
}

func loadAverage() []float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	var out []float64
	for _, f := range strings.Fields(string(b))[:3] {
		x, _ := strconv.ParseFloat(f, 64)
		out = append(out, x)
	}
	return out
}
