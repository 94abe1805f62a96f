package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestConfigurationReference fails when docs/configuration.md is not what
// the commands generate now: run 'go generate ./cmd/accrue'. It also
// checks that the reference names every command and flag.
func TestConfigurationReference(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "ACCRUE_") {
			t.Setenv(k, "") // envOr treats empty as unset: defaults as on a bare machine
		}
	}
	var b bytes.Buffer
	root := newRoot()
	writeConfigReference(&b, root)
	got := b.String()

	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, s := range c.Commands() {
			if !visible(s) {
				continue
			}
			if s.Runnable() {
				n++
				if !strings.Contains(got, "\n### "+s.CommandPath()+"\n") {
					t.Errorf("the reference has no section for %s", s.CommandPath())
				}
				s.LocalFlags().VisitAll(func(f *pflag.Flag) {
					if !f.Hidden && !strings.Contains(got, "`--"+f.Name+"`") {
						t.Errorf("the reference lacks %s --%s", s.CommandPath(), f.Name)
					}
				})
			}
			walk(s)
		}
	}
	walk(root)
	if n < 30 {
		t.Errorf("only %d commands documented", n)
	}
	for _, want := range []string{"| `ACCRUE_KAFKA_BROKERS` | `--brokers` | every command |", "| `--parallelism` int | the number of CPUs Go may use |",
		"stage name (group accrue-&lt;name&gt;"} {
		if !strings.Contains(got, want) {
			t.Errorf("the reference lacks %q", want)
		}
	}

	// Every example runs with the binary's commands and flags.
	for path, e := range examples {
		args := strings.Fields(e)
		for len(args) > 0 && strings.Contains(args[0], "=") {
			args = args[1:] // environment
		}
		if len(args) == 0 || args[0] != "accrue" {
			t.Errorf("example of %s does not run accrue: %s", path, e)
			continue
		}
		if err := checkInvocation(args[1:]); err != nil {
			t.Errorf("example of %s: %v", path, err)
		}
		if c, _, err := newRoot().Find(args[1:]); err != nil || c.CommandPath() != path {
			t.Errorf("example of %s runs another command: %s", path, e)
		}
	}

	path := filepath.Join(repoRoot, "docs/configuration.md")
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run 'go generate ./cmd/accrue'", err)
	}
	if string(committed) != got {
		gl, cl := strings.Split(got, "\n"), strings.Split(string(committed), "\n")
		line := 0
		for line < len(gl) && line < len(cl) && gl[line] == cl[line] {
			line++
		}
		t.Errorf("docs/configuration.md is stale from line %d: run 'go generate ./cmd/accrue' and commit it\nwant: %q\nhave: %q",
			line+1, at(gl, line), at(cl, line))
	}
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(end of file)"
}
