package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/accrue"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/reference"
)

func init() { commands = append(commands, newSimulateCmd) }

func newSimulateCmd(_ *globals) *cobra.Command {
	var (
		programFiles               []string
		reps, products, fx, events string
		nudgesPath, awardsPath     string
	)
	cmd := &cobra.Command{
		Use: "simulate --program PLAN.yaml [--program PLAN2.yaml ...] --reps REPS.jsonl [--products PRODUCTS.jsonl] " +
			"[--fx FX.jsonl] --events EVENTS.jsonl [--nudges OUT.jsonl] [--awards OUT.jsonl]",
		Short: "Try programs offline on a file of sales, with the stream's own calculation",
		Long: `Reads canonical sale events (one JSON object a line) in file order, as the
stream would see them arrive, through the pipeline's own code: the default
gatekeepers, deduplication on (source, txn_id, type), linking to the reference
data (an event missing reference data is rejected at once) and the accrual
engine. Prints each rep's statement per program and period on standard output,
one JSON object a line sorted by program_id, period and rep_id:

  program_id, program_version, period, rep_id, currency, measure, quota,
  attainment, commission, spiff, override, earned, capped

--nudges and --awards write the nudges and badges in the order they fired.
Time-based nudges (inactivity, period_ending) fire as in one partition of
the stage: the clock is the highest event time of the credits applied so
far, in file order, and a timer fires as it passes (before the event that
moved it); time does not pass between events or after the last.
A summary goes to standard error: events read, credited, duplicates, rejected
by reason, clawback_window_expired. Reference files are JSON lines, or CSV by
their .csv name. Exit status 2 for an invalid program or an unreadable input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(programFiles) == 0 || reps == "" || events == "" {
				return usageError{errors.New("--program, --reps and --events are required")}
			}
			stderr := cmd.ErrOrStderr()
			loadedPrograms, err := readPrograms(stderr, programFiles)
			if err != nil {
				return err
			}
			progs := make([]*program.Program, len(loadedPrograms))
			for i, lp := range loadedPrograms {
				progs[i] = lp.Program
			}
			tables := &reference.Tables{}
			for _, f := range []struct {
				kind reference.Kind
				path string
			}{{reference.Reps, reps}, {reference.Products, products}, {reference.FX, fx}} {
				if f.path == "" {
					continue
				}
				if err := loadReference(stderr, tables, f.kind, f.path); err != nil {
					return err
				}
			}
			engine, err := accrue.New(progs, tables)
			if err != nil {
				return usageError{err}
			}
			in, err := os.Open(events)
			if err != nil {
				return usageError{fmt.Errorf("events: %w", err)}
			}
			defer in.Close()

			sim := accrue.NewSimulation(engine, tables)
			var outs []*jsonLines
			for _, o := range []struct {
				path string
				set  func(*jsonLines)
			}{
				{nudgesPath, func(w *jsonLines) { sim.OnNudge = func(n *accrue.Nudge) { w.write(n.AppendJSON) } }},
				{awardsPath, func(w *jsonLines) { sim.OnAward = func(a *accrue.Award) { w.write(a.AppendJSON) } }},
			} {
				if o.path == "" {
					continue
				}
				w, err := createJSONLines(o.path)
				if err != nil {
					return err
				}
				defer w.close()
				outs = append(outs, w)
				o.set(w)
			}
			sim.OnReject = func(line int, rj *pipeline.Reject) {
				slog.Debug("rejected", "file", events, "line", line, "reason", rj.Reason, "field", rj.Field, "err", rj.Err)
			}
			if err := sim.Run(in); err != nil {
				return usageError{fmt.Errorf("events: %s: %w", events, err)}
			}

			stdout := bufio.NewWriter(cmd.OutOrStdout())
			var buf []byte
			for _, st := range sim.Statements() {
				buf = append(st.AppendJSON(buf[:0]), '\n')
				if _, err := stdout.Write(buf); err != nil {
					return err
				}
			}
			if err := stdout.Flush(); err != nil {
				return err
			}
			for _, w := range outs {
				if err := w.close(); err != nil {
					return err
				}
			}
			return writeSummary(stderr, sim.Summary())
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&programFiles, "program", nil, "program document (YAML); repeat for several")
	f.StringVar(&reps, "reps", "", "reps (JSON lines, or CSV)")
	f.StringVar(&products, "products", "", "products (JSON lines, or CSV)")
	f.StringVar(&fx, "fx", "", "FX rates (JSON lines, or CSV)")
	f.StringVar(&events, "events", "", "canonical sale events, one JSON object a line")
	f.StringVar(&nudgesPath, "nudges", "", "write the nudges here, one JSON object a line")
	f.StringVar(&awardsPath, "awards", "", "write the badges awarded here, one JSON object a line")
	return cmd
}

// loadReference loads one reference file into t. Bad rows are reported to
// w, one a line as FILE:LINE: problem, and make the input invalid: a
// simulation on partial reference data would mislead.
func loadReference(w io.Writer, t *reference.Tables, kind reference.Kind, path string) error {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return usageError{fmt.Errorf("%s: %s: cannot read: %w", kind, path, err)}
	}
	defer f.Close()
	bad, err := t.Load(kind, f, reference.FormatOf(path))
	if err != nil {
		return usageError{fmt.Errorf("%s: %s: %w", kind, path, err)}
	}
	for _, b := range bad {
		fmt.Fprintf(w, "%s:%d: %v\n", path, b.Line, b.Err)
	}
	if len(bad) > 0 {
		return usageError{fmt.Errorf("%s: %s: %d bad rows", kind, path, len(bad))}
	}
	return nil
}

// jsonLines is an output file of one JSON object a line.
type jsonLines struct {
	f   *os.File
	w   *bufio.Writer
	buf []byte
	err error
}

func createJSONLines(path string) (*jsonLines, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cannot write %s: %w", path, err)
	}
	return &jsonLines{f: f, w: bufio.NewWriter(f)}, nil
}

func (j *jsonLines) write(appendJSON func([]byte) []byte) {
	if j.err != nil {
		return
	}
	j.buf = append(appendJSON(j.buf[:0]), '\n')
	_, j.err = j.w.Write(j.buf)
}

// close flushes and closes the file once; later calls return nil.
func (j *jsonLines) close() error {
	if j.f == nil {
		return nil
	}
	err := j.err
	if ferr := j.w.Flush(); err == nil {
		err = ferr
	}
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.f = nil
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// writeSummary writes the counts of §5 to w, one a line, rejections by
// reason under their total.
func writeSummary(w io.Writer, s accrue.Summary) error {
	var b strings.Builder
	row := func(label string, n int) { fmt.Fprintf(&b, "%-26s %8d\n", label, n) }
	row("events read", s.Read)
	row("credited", s.Credited)
	row("duplicates", s.Duplicates)
	row("rejected", s.RejectedTotal())
	reasons := make([]string, 0, len(s.Rejected))
	for r := range s.Rejected {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		row("  "+r, s.Rejected[r])
	}
	row(accrue.ClawbackWindowExpired, s.Expired)
	_, err := io.WriteString(w, b.String())
	return err
}
