package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// Programs are the worked examples of docs/programs the runs publish: a
// monthly amount plan on attainment for AEs (marginal bands, quota by role
// and rep, a capped fixed spiff, clawback, two levels of overrides) and a
// quarterly margin plan in EUR for SEs in EMEA (retroactive bands of
// measure, cap, clawback, one level of overrides).
var Programs = func() []string {
	_, file, _, _ := runtime.Caller(0)
	docs := filepath.Join(filepath.Dir(file), "..", "..", "docs", "programs")
	return []string{filepath.Join(docs, "ae-commission.yaml"), filepath.Join(docs, "se-margin-emea.yaml")}
}()

// Statement is one line of simulate's output, as its JSON has it.
type Statement struct {
	ProgramID      string  `json:"program_id"`
	ProgramVersion uint32  `json:"program_version"`
	Period         string  `json:"period"`
	RepID          string  `json:"rep_id"`
	Currency       string  `json:"currency"`
	Measure        string  `json:"measure"`
	Quota          *string `json:"quota"`
	Attainment     *string `json:"attainment"`
	Commission     string  `json:"commission"`
	Spiff          string  `json:"spiff"`
	Override       string  `json:"override"`
	Earned         string  `json:"earned"`
	Capped         bool    `json:"capped"`
}

// Key is program/period/rep, the statement's identity.
func (s Statement) Key() string { return StatementKey(s.ProgramID, s.Period, s.RepID) }

// StatementKey is the key of the statement of program, period and rep.
func StatementKey(program, period, rep string) string { return program + "/" + period + "/" + rep }

// Simulation is what `accrue simulate` says of the world.
type Simulation struct {
	Statements map[string]Statement // by Key
	Duplicates int
	Rejected   map[string]int // by reason, per event
}

// Simulate runs `accrue simulate` (bin) on the world's files under
// Programs, and checks that its statements reach every part of the
// calculation the reports show: spiffs, overrides, caps, in both programs.
func Simulate(t testing.TB, bin string, w *World) *Simulation {
	t.Helper()
	args := []string{"simulate", "--reps", w.Files["reps.jsonl"], "--products", w.Files["products.jsonl"], "--fx", w.Files["fx.jsonl"],
		"--events", w.Files["events.jsonl"]}
	for _, p := range Programs {
		args = append(args, "--program", p)
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("accrue simulate: %v\n%s", err, stderr.Bytes())
	}
	s := &Simulation{Statements: map[string]Statement{}, Rejected: map[string]int{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var st Statement
		if err := json.Unmarshal(sc.Bytes(), &st); err != nil {
			t.Fatalf("simulate printed %q: %v", sc.Bytes(), err)
		}
		s.Statements[st.Key()] = st
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.Atoi(f[len(f)-1])
		switch {
		case err != nil:
		case strings.HasPrefix(l, "  ") && len(f) == 2:
			s.Rejected[f[0]] = v
		case strings.HasPrefix(l, "duplicates"):
			s.Duplicates = v
		case strings.HasPrefix(l, "events read") && v != w.Events:
			t.Fatalf("simulate read %d events, the file has %d", v, w.Events)
		}
	}
	// The world must reach every part of the calculation the reports show,
	// in both programs: else equal figures would prove little.
	seen := map[string]int{}
	for _, st := range s.Statements {
		seen[st.ProgramID]++
		for what, ok := range map[string]bool{
			"spiff": !decimal.RequireFromString(st.Spiff).IsZero(), "override": !decimal.RequireFromString(st.Override).IsZero(),
			"capped": st.Capped, "negative": decimal.RequireFromString(st.Earned).IsNegative(),
		} {
			if ok {
				seen[st.ProgramID+" "+what]++
			}
		}
	}
	t.Logf("simulate's statements: %v", seen)
	for _, need := range []string{"ae-commission", "ae-commission spiff", "ae-commission override", "ae-commission capped",
		"se-margin-emea", "se-margin-emea override"} {
		if seen[need] == 0 {
			t.Errorf("no statement of %s: the world does not exercise it", need)
		}
	}
	return s
}
