package accrue

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/reference"
)

// TestGoldenFiles runs the cases of testdata/golden: each folder holds
// program documents (*.yaml, read by program.Parse), reps.jsonl,
// products.jsonl and fx.jsonl (optional), events.jsonl, and the expected
// statements.jsonl, nudges.jsonl, awards.jsonl and summary.txt (a missing
// file expects nothing), worked out by hand in case.md.
func TestGoldenFiles(t *testing.T) {
	dirs, err := filepath.Glob("testdata/golden/*")
	if err != nil || len(dirs) == 0 {
		t.Fatal("no golden folders", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			read := func(name string) string {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				return string(b)
			}
			docs, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
			var progs []*program.Program
			for _, f := range docs {
				p, err := program.Parse(f, []byte(read(filepath.Base(f))))
				if err != nil {
					t.Fatal(err)
				}
				progs = append(progs, p)
			}
			var tb reference.Tables
			for _, k := range []reference.Kind{reference.Reps, reference.Products, reference.FX} {
				bad, err := tb.Load(k, strings.NewReader(read(string(k)+".jsonl")), reference.JSONL)
				if err != nil || len(bad) > 0 {
					t.Fatal(k, err, bad)
				}
			}
			e, err := New(progs, &tb)
			if err != nil {
				t.Fatal(err)
			}
			var nudges, awards bytes.Buffer
			s := NewSimulation(e, &tb)
			s.OnNudge = func(n *Nudge) { nudges.Write(append(n.AppendJSON(nil), '\n')) }
			s.OnAward = func(a *Award) { awards.Write(append(a.AppendJSON(nil), '\n')) }
			if err := s.Run(strings.NewReader(read("events.jsonl"))); err != nil {
				t.Fatal(err)
			}
			var stmts bytes.Buffer
			for _, st := range s.Statements() {
				stmts.Write(append(st.AppendJSON(nil), '\n'))
			}
			for _, c := range []struct{ name, got string }{
				{"statements.jsonl", stmts.String()},
				{"nudges.jsonl", nudges.String()},
				{"awards.jsonl", awards.String()},
				{"summary.txt", summaryLine(s.Summary()) + "\n"},
			} {
				want := read(c.name)
				if want == "" && c.name == "summary.txt" {
					continue
				}
				if c.got != want {
					t.Errorf("%s:\n got:\n%s\nwant:\n%s", c.name, c.got, want)
				}
			}
		})
	}
}
