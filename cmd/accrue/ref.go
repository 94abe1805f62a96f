package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/transforms/reference"
)

func init() { commands = append(commands, newRefCmd) }

// refLoadResult is what `accrue ref load` prints.
type refLoadResult struct {
	Kind      string `json:"kind"`
	Topic     string `json:"topic"`
	File      string `json:"file"`
	Rows      int    `json:"rows"`
	Bad       int    `json:"bad"`
	Published int    `json:"published"`
}

func newRefCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "ref", Short: "Load reference data: reps, products, accounts, FX rates, identities"}
	var kind, format, topic, txnID string
	var skipBad, dryRun, quiet bool
	var txnTimeout time.Duration
	load := &cobra.Command{
		Use:   "load --kind KIND FILE",
		Short: "Check a reference file and publish its rows to the kind's compacted topic",
		Long: `Reads FILE (JSON lines, or CSV with a header row naming the fields; the
format follows the extension unless --format says otherwise), checks every
row against its kind's contract (PROGRAMS.md §2) and reports every bad row
with its line on standard error. A row that names the same version as an
earlier one (same id and valid_from) is bad too: one of them would silently
win.

With any bad row, nothing is published and the exit status is 2, unless
--skip-bad, which publishes the good rows. The rows are published in one
transaction: readers (the stages' reference tables) see the whole load or,
if it fails, none of it. Each row is keyed ID@valid_from (ID is rep_id,
product_id, account_id, FROM/TO for a rate, source/identity for an
identity), so a topic keeps every version of a history and a row published
again replaces only its own version. Prints the counts as JSON.

Kinds and fields:
  reps        rep_id, name, email, role, team, manager_id, currency, valid_from
  products    product_id, category, valid_from, and any other attributes
  accounts    account_id, name, owner_rep_id, valid_from
  fx          from, to, rate, valid_from
  identities  source, identity, rep_id, valid_from`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := reference.ParseKind(kind)
			if err != nil {
				return usageError{err}
			}
			path := args[0]
			f := reference.FormatOf(path)
			switch format {
			case "":
			case string(reference.CSV), string(reference.JSONL):
				f = reference.Format(format)
			default:
				return usageError{fmt.Errorf("--format %q: want csv or jsonl", format)}
			}
			if topic == "" {
				topic = k.Topic()
			}
			rows, bad, err := readRefFile(cmd, k, path, f, quiet)
			if err != nil {
				return err
			}
			res := refLoadResult{Kind: string(k), Topic: topic, File: path, Rows: len(rows), Bad: len(bad)}
			for _, b := range bad {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s:%d: %v\n", path, b.Line, b.Err)
			}
			if len(bad) > 0 && !skipBad {
				printJSON(cmd.OutOrStdout(), res)
				return usageError{fmt.Errorf("%s: %d bad rows; nothing published (fix them, or --skip-bad to publish the %d good rows)",
					path, len(bad), len(rows))}
			}
			if dryRun || len(rows) == 0 {
				printJSON(cmd.OutOrStdout(), res)
				return nil
			}
			if txnID == "" {
				txnID = "accrue-ref-load-" + string(k)
			}
			cl, err := kgo.NewClient(g.kafkaOpts(kgo.TransactionalID(txnID),
				kgo.TransactionTimeout(txnTimeout), kgo.ProducerLinger(5*time.Millisecond))...)
			if err != nil {
				return err
			}
			defer cl.Close()
			var bar *progressbar.ProgressBar
			progress := func(done, total int) {
				if quiet {
					return
				}
				if bar == nil {
					bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(cmd.ErrOrStderr()),
						progressbar.OptionSetDescription("publishing to "+topic),
						progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond),
						progressbar.OptionClearOnFinish())
				}
				_ = bar.Set(done)
			}
			err = reference.Publish(cmd.Context(), cl, topic, rows, progress)
			if bar != nil {
				_ = bar.Finish()
			}
			if err != nil {
				return err
			}
			res.Published = len(rows)
			printJSON(cmd.OutOrStdout(), res)
			return nil
		},
	}
	load.Flags().StringVar(&kind, "kind", "", "kind of rows: reps, products, accounts, fx, identities")
	load.Flags().StringVar(&format, "format", "", "csv or jsonl (default: by the file's extension, .csv is CSV)")
	load.Flags().StringVar(&topic, "topic", "", "topic to publish to (default ref.<kind>)")
	load.Flags().BoolVar(&skipBad, "skip-bad", false, "publish the good rows even when some are bad (they are still reported)")
	load.Flags().BoolVar(&dryRun, "dry-run", false, "check the file and report, publish nothing")
	load.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bars")
	load.Flags().StringVar(&txnID, "transactional-id", "", "transactional id of the load (default accrue-ref-load-<kind>: a second load of a kind fences a first one still running)")
	load.Flags().DurationVar(&txnTimeout, "transaction-timeout", time.Minute, "how long the broker lets the load's transaction stay open")
	_ = load.MarkFlagRequired("kind")
	cmd.AddCommand(load)
	return cmd
}

// readRefFile reads every row of a reference file, with a progress bar over
// its bytes, and returns the good rows and every bad one, a second version
// of the same key included.
func readRefFile(cmd *cobra.Command, k reference.Kind, path string, f reference.Format, quiet bool) ([]reference.Row, []*reference.LineError, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, nil, usageError{err}
	}
	defer file.Close()
	var r io.Reader = file
	var bar *progressbar.ProgressBar
	if st, err := file.Stat(); err == nil && !quiet {
		bar = progressbar.NewOptions64(st.Size(), progressbar.OptionSetWriter(cmd.ErrOrStderr()),
			progressbar.OptionSetDescription("checking "+filepath.Base(path)), progressbar.OptionShowBytes(true),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		r = io.TeeReader(file, bar)
	}
	var rows []reference.Row
	var bad []*reference.LineError
	firstLine := map[string]int{}
	err = reference.Read(k, r, f, func(line int, row reference.Row) error {
		key := reference.RecordKey(row)
		if prev, dup := firstLine[key]; dup {
			bad = append(bad, &reference.LineError{Line: line,
				Err: fmt.Errorf("%s is also on line %d: the same id and valid_from twice", key, prev)})
			return nil
		}
		firstLine[key] = line
		rows = append(rows, row)
		return nil
	}, func(e *reference.LineError) { bad = append(bad, e) })
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("%s: %w", path, err)}
	}
	sort.SliceStable(bad, func(i, j int) bool { return bad[i].Line < bad[j].Line })
	return rows, bad, nil
}

func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
