package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/reference"
)

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// TestRefLoad refuses a file with bad rows whole (status 2, every bad line
// reported, nothing published), publishes a good one, and with --skip-bad
// publishes the good rows of a bad one.
func TestRefLoad(t *testing.T) {
	_, brokers := pt.Fake(t)
	pt.CreateTopics(t, brokers, 2, nil, "ref.reps", "ref.fx")
	dir := t.TempDir()
	bad := filepath.Join(dir, "reps.jsonl")
	if err := os.WriteFile(bad, []byte(`{"rep_id":"R-1","valid_from":"2026-01-01"}
{"rep_id":"R-2","colour":"red"}
{"rep_id":"R-1","valid_from":"2026-01-01"}
{"rep_id":"R-3"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runCLI(t, "--brokers", brokers[0], "--log-level", "error", "ref", "load", "--kind", "reps", "-q", bad)
	var ue usageError
	if !errors.As(err, &ue) {
		t.Fatalf("bad rows: error %v, want a usage error (exit status 2)", err)
	}
	for _, want := range []string{"reps.jsonl:2: colour: unknown field", "reps.jsonl:3: R-1@2026-01-01 is also on line 1"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if n := len(pt.ReadAll(t, brokers, "ref.reps")); n != 0 {
		t.Fatalf("%d rows published from a file with bad rows", n)
	}

	out, _, err := runCLI(t, "--brokers", brokers[0], "--log-level", "error", "ref", "load", "--kind", "reps", "-q", "--skip-bad", bad)
	if err != nil || !strings.Contains(out, `"published": 2`) {
		t.Fatalf("--skip-bad: %v\n%s", err, out)
	}
	fx := filepath.Join(dir, "fx.csv")
	if err := os.WriteFile(fx, []byte("from,to,rate,valid_from\nEUR,USD,1.08,2026-11-01\nEUR,USD,1.10,2026-11-16\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runCLI(t, "--brokers", brokers[0], "--log-level", "error", "ref", "load", "--kind", "fx", "-q", fx); err != nil {
		t.Fatalf("fx: %v\n%s", err, out)
	}
	var tb reference.Tables
	for _, topic := range []string{"ref.reps", "ref.fx"} {
		k, _ := reference.KindOfTopic(topic)
		for _, r := range pt.ReadAll(t, brokers, topic) {
			if err := tb.Apply(k, r.Key, r.Value); err != nil {
				t.Fatalf("%s %s: %v", topic, r.Key, err)
			}
		}
	}
	if tb.Reps.Rows() != 2 || tb.FX.Rows() != 2 {
		t.Errorf("published %d reps and %d rates, want 2 and 2", tb.Reps.Rows(), tb.FX.Rows())
	}
}
