// Package report is how a benchmark run reports itself: the machine it ran
// on (CPU, cores, memory, Go, the Kafka and ClickHouse it talked to), the
// settings, and the results, as JSON (for files under benchmarks/results
// and for plots) and as a table for a reader.
//
// Figures taken on a shared machine move with its load; a Report keeps the
// load average at its start and end, and results are meant to be read as
// ratios to a baseline measured in the same run.
package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Machine is what a figure depends on besides the code.
type Machine struct {
	CPU        string    `json:"cpu"`
	Cores      int       `json:"cores"`
	MemoryGiB  float64   `json:"memory_gib"`
	OS         string    `json:"os"`
	Go         string    `json:"go"`
	Kafka      string    `json:"kafka,omitempty"`
	ClickHouse string    `json:"clickhouse,omitempty"`
	LoadBefore []float64 `json:"load_average_before,omitempty"`
	LoadAfter  []float64 `json:"load_average_after,omitempty"`
}

// ReadMachine reads the facts Linux shows in /proc; what it cannot read
// stays empty. Kafka and ClickHouse are the caller's to fill.
func ReadMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(), LoadBefore: Load()}
	m.CPU = procField("/proc/cpuinfo", "model name")
	if kb, err := strconv.ParseFloat(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"), 64); err == nil {
		m.MemoryGiB = float64(int(kb/(1<<20)*10+0.5)) / 10
	}
	return m
}

// procField is the value of the first line "key: value" of a /proc file.
func procField(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Load is the load average over 1, 5 and 15 minutes.
func Load() []float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	f := strings.Fields(string(b))
	out := make([]float64, 0, 3)
	for _, s := range f[:min(3, len(f))] {
		x, _ := strconv.ParseFloat(s, 64)
		out = append(out, x)
	}
	return out
}

// Row is one measured run: what ran (Stage, Run) over how many records,
// how long it took, and its rate as a fraction of the baselines of the
// same input in the same round.
type Row struct {
	Round   int     `json:"round"`
	Stage   string  `json:"stage"`
	Run     string  `json:"run"`
	Records int64   `json:"records"`
	Seconds float64 `json:"seconds"`
	PerSec  float64 `json:"records_per_s"`
	// Fractions of the rate of each baseline, by the baseline's Run.
	Of map[string]float64 `json:"of,omitempty"`
}

// Report is one benchmark run.
type Report struct {
	Name     string         `json:"name"`
	Date     time.Time      `json:"date"`
	Command  string         `json:"command"`
	Machine  Machine        `json:"machine"`
	Settings map[string]any `json:"settings"`
	Results  []Row          `json:"results"`
	// Facts are other figures of the run (counts checked, outputs per
	// input), by name.
	Facts map[string]any `json:"facts,omitempty"`
	Notes []string       `json:"notes,omitempty"`
}

// New starts a report named name (the file's name under results) of a run
// made by command.
func New(name, command string, settings map[string]any) *Report {
	return &Report{Name: name, Date: time.Now().UTC().Truncate(time.Second), Command: command,
		Machine: ReadMachine(), Settings: settings, Facts: map[string]any{}}
}

// Add records a run of records in d, and returns its row for Compare.
func (r *Report) Add(round int, stage, run string, records int64, d time.Duration) *Row {
	r.Results = append(r.Results, Row{Round: round, Stage: stage, Run: run, Records: records, Seconds: d.Seconds(),
		PerSec: float64(records) / d.Seconds()})
	return &r.Results[len(r.Results)-1]
}

// Compare sets, on every row of round and stage, its rate as a fraction of
// each baseline's; a baseline is compared only with those before it in
// the list (ctp of consume, not consume of ctp).
func (r *Report) Compare(round int, stage string, baselines ...string) {
	base := map[string]float64{}
	for _, row := range r.Results {
		if row.Round == round && row.Stage == stage {
			base[row.Run] = row.PerSec
		}
	}
	for i := range r.Results {
		row := &r.Results[i]
		if row.Round != round || row.Stage != stage {
			continue
		}
		rank := len(baselines)
		for i, b := range baselines {
			if row.Run == b {
				rank = i
			}
		}
		for _, b := range baselines[:rank] {
			if base[b] == 0 {
				continue
			}
			if row.Of == nil {
				row.Of = map[string]float64{}
			}
			row.Of[b] = row.PerSec / base[b]
		}
	}
}

// JSON is the report, indented.
func (r *Report) JSON() []byte {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		panic(err) // only plain values
	}
	return append(b, '\n')
}

// Write finishes the report (the load average after) and writes it to
// dir/<Name>.json.
func (r *Report) Write(dir string) (string, error) {
	r.Machine.LoadAfter = Load()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, r.Name+".json")
	return path, os.WriteFile(path, r.JSON(), 0o644)
}

// Table writes the report for a reader: the machine, the settings, one
// line per row with its fractions of the baselines, the facts, the notes.
func (r *Report) Table(w io.Writer) error {
	var b bytes.Buffer
	m := r.Machine
	fmt.Fprintf(&b, "%s, %s\n%s\n", r.Name, r.Date.Format(time.RFC3339), r.Command)
	fmt.Fprintf(&b, "machine: %s, %d cores, %.1f GiB, %s, %s; load %v → %v\n", m.CPU, m.Cores, m.MemoryGiB, m.OS, m.Go, m.LoadBefore, m.LoadAfter)
	if m.Kafka != "" || m.ClickHouse != "" {
		fmt.Fprintf(&b, "kafka: %s; clickhouse: %s\n", orNone(m.Kafka), orNone(m.ClickHouse))
	}
	fmt.Fprintf(&b, "settings: %s\n", keyValues(r.Settings))
	var of []string
	seen := map[string]bool{}
	for _, row := range r.Results {
		for k := range row.Of {
			if !seen[k] {
				seen[k] = true
				of = append(of, k)
			}
		}
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"round", "stage", "run", "records", "seconds", "records/s"}
	for _, k := range of {
		head = append(head, "of "+k)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, row := range r.Results {
		cells := []string{strconv.Itoa(row.Round), row.Stage, row.Run, strconv.FormatInt(row.Records, 10),
			strconv.FormatFloat(row.Seconds, 'f', 2, 64), strconv.FormatFloat(row.PerSec, 'f', 0, 64)}
		for _, k := range of {
			if v, ok := row.Of[k]; ok {
				cells = append(cells, strconv.FormatFloat(v, 'f', 3, 64))
			} else {
				cells = append(cells, "")
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()
	if len(r.Facts) > 0 {
		fmt.Fprintf(&b, "facts: %s\n", keyValues(r.Facts))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// keyValues writes a map as "k=v, ..." in the order of its JSON.
func keyValues(m map[string]any) string {
	js, _ := json.Marshal(m)
	var kv map[string]json.RawMessage
	_ = json.Unmarshal(js, &kv)
	var parts []string
	for k, v := range kv {
		parts = append(parts, k+"="+string(v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
