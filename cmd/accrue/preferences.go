package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/nudge"
)

func init() { commands = append(commands, newPreferencesCmd) }

// prefsLoadResult is what `accrue preferences load` prints.
type prefsLoadResult struct {
	Topic     string `json:"topic"`
	File      string `json:"file"`
	Rows      int    `json:"rows"`
	Bad       int    `json:"bad"`
	Deleted   int    `json:"deleted"`
	Published int    `json:"published"`
}

func newPreferencesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "preferences", Short: "Load reps' delivery preferences (time zone, locale, channels, quiet hours)"}
	var topic, txnID string
	var skipBad, dryRun bool
	var remove []string
	load := &cobra.Command{
		Use:   "load FILE",
		Short: "Check a file of delivery preferences and publish it to delivery.preferences",
		Long: `Reads FILE, JSON lines, one rep's delivery preferences a line:

  {"rep_id":"R-17","timezone":"America/New_York","locale":"en-US","channels":["email","push"],"quiet_hours":{"from":"22:00","to":"07:00"}}

Every field but rep_id is optional; what is left out takes the delivery
configuration's default. Every line is checked as the delivery stage checks
a record (an IANA time zone, a BCP 47 locale, known channels, HH:MM quiet
hours, no unknown field, one line per rep) and each bad line is reported
with its number on standard error. With any bad line nothing is published
and the exit status is 2, unless --skip-bad.

The rows, and a tombstone for each --delete rep, are published keyed by rep
in one transaction to the compacted topic (--topic): the delivery stage
applies them to the messages it composes after they arrive, so load them
before the first nudges. Prints the counts as JSON.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			rows, bad, err := readPrefs(path)
			if err != nil {
				return err
			}
			res := prefsLoadResult{Topic: topic, File: path, Rows: len(rows), Bad: len(bad), Deleted: len(remove)}
			for _, b := range bad {
				fmt.Fprintln(cmd.ErrOrStderr(), b)
			}
			if len(bad) > 0 && !skipBad {
				printJSON(cmd.OutOrStdout(), res)
				return usageError{fmt.Errorf("%s: %d bad lines; nothing published (fix them, or --skip-bad to publish the %d good ones)",
					path, len(bad), len(rows))}
			}
			recs := make([]*kgo.Record, 0, len(rows)+len(remove))
			for _, p := range rows {
				v, err := json.Marshal(p)
				if err != nil {
					return err
				}
				recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(p.RepID), Value: v})
			}
			for _, rep := range remove {
				recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(rep)})
			}
			if dryRun || len(recs) == 0 {
				printJSON(cmd.OutOrStdout(), res)
				return nil
			}
			cl, err := kgo.NewClient(g.kafkaOpts(kgo.TransactionalID(txnID), kgo.ProducerLinger(5*time.Millisecond))...)
			if err != nil {
				return err
			}
			defer cl.Close()
			if err := pipeline.PublishTxn(cmd.Context(), cl, recs, nil); err != nil {
				return fmt.Errorf("publish to %s: %w", topic, err)
			}
			res.Published = len(rows)
			printJSON(cmd.OutOrStdout(), res)
			return nil
		},
	}
	fl := load.Flags()
	fl.StringVar(&topic, "topic", nudge.TopicPrefs, "compacted topic of delivery preferences, keyed by rep")
	fl.StringVar(&txnID, "transactional-id", "accrue-preferences-load", "transactional id of the load (a second load fences a first one still running)")
	fl.BoolVar(&skipBad, "skip-bad", false, "publish the good lines even when some are bad (they are still reported)")
	fl.BoolVar(&dryRun, "dry-run", false, "check the file and report, publish nothing")
	fl.StringSliceVar(&remove, "delete", nil, "reps whose preferences to remove (a tombstone each), with or without a file's rows")
	cmd.AddCommand(load)
	return cmd
}

// readPrefs reads a JSON-lines file of preferences: the good rows, in file
// order, and a message for each bad line, with its place.
func readPrefs(path string) ([]nudge.Prefs, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("cannot read: %w", err)}
	}
	defer f.Close()
	var rows []nudge.Prefs
	var bad []string
	first := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var p nudge.Prefs
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		err := dec.Decode(&p)
		if err == nil && dec.More() {
			err = fmt.Errorf("more than one JSON value on the line")
		}
		if err == nil {
			err = p.Check()
		}
		if err == nil {
			if l, dup := first[p.RepID]; dup {
				err = fmt.Errorf("rep_id %q is also on line %d: one of them would silently win", p.RepID, l)
			}
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s:%d: %v", path, line, err))
			continue
		}
		first[p.RepID] = line
		rows = append(rows, p)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, bad, nil
}
