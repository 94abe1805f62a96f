package faults

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Row is what one scenario measured.
type Row struct {
	Scenario string
	// Faults counts what was injected, by kind ("SIGKILL ingest",
	// "broker kill -9", …).
	Faults map[string]int
	// Records is the raw records produced; Events the clean events,
	// Credits the credits and Accruals the accrual records the pipeline
	// ended with.
	Records, Events, Credits, Accruals int
	// Differences is how many differences the checks found with
	// `accrue simulate` and the input: the target is zero.
	Differences int
	Took        time.Duration
}

// FaultCount is the total of r's faults.
func (r Row) FaultCount() int {
	n := 0
	for _, k := range r.Faults {
		n += k
	}
	return n
}

// Table is the rows of a suite's run, in the order they ran.
type Table []Row

// Markdown writes t as a markdown table, one line per scenario and a
// total line.
func (t Table) Markdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| scenario | faults injected | raw records | clean events | credits | accruals | differences | took |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	var total Row
	faults := 0
	for _, r := range t {
		kinds := make([]string, 0, len(r.Faults))
		for k := range r.Faults {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		var fs []string
		for _, k := range kinds {
			fs = append(fs, fmt.Sprintf("%d× %s", r.Faults[k], k))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %d | %s |\n", r.Scenario, strings.Join(fs, ", "),
			thousands(r.Records), thousands(r.Events), thousands(r.Credits), thousands(r.Accruals), r.Differences, r.Took.Round(time.Second))
		total.Records += r.Records
		total.Events += r.Events
		total.Credits += r.Credits
		total.Accruals += r.Accruals
		total.Differences += r.Differences
		total.Took += r.Took
		faults += r.FaultCount()
	}
	fmt.Fprintf(&b, "| **all** | %d faults | %s | %s | %s | %s | **%d** | %s |\n", faults,
		thousands(total.Records), thousands(total.Events), thousands(total.Credits), thousands(total.Accruals), total.Differences, total.Took.Round(time.Second))
	_, err := io.WriteString(w, b.String())
	return err
}

// thousands formats n with commas between groups of three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
