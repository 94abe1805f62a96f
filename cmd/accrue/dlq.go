package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
)

func newDLQCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "dlq", Short: "Inspect, export and replay dead letters"}
	var topic, reason, sourceTopic, out, file, to string
	var dryRun bool
	filter := func() pipeline.DeadLetterFilter {
		return pipeline.DeadLetterFilter{Reason: reason, SourceTopic: sourceTopic}
	}
	export := &cobra.Command{
		Use:   "export",
		Short: "Write dead letters as JSON lines (to fix and replay)",
		Long: `Reads a dead-letter topic from its start to its current end and writes one JSON
object a line: where the dead letter is, its reason, field, message, source
topic/partition/offset, and the original key and value (value_base64 when the
bytes are not text). Fix "value" in the file and give it to 'accrue dlq replay
--file'. Counts by reason go to standard error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			bw := bufio.NewWriter(w)
			enc := json.NewEncoder(bw)
			counts := map[string]int{}
			err := withClient(cmd.Context(), g, func(ctx context.Context, cl *kgo.Client) error {
				return pipeline.ReadDeadLetters(ctx, cl, g.brokerList(), g.kafkaOpts(), topic, filter(), func(d pipeline.DeadLetter) error {
					counts[d.Reason]++
					return enc.Encode(d)
				})
			})
			if ferr := bw.Flush(); err == nil {
				err = ferr
			}
			printCounts(cmd.ErrOrStderr(), "exported", counts)
			return err
		},
	}
	replay := &cobra.Command{
		Use:   "replay",
		Short: "Re-inject dead letters (from the topic, or corrected from a file)",
		Long: `Produces dead letters back to their source topics (or to --to), marked with the
header accrue.replayed_from. With --file, the records come from a file written
by 'accrue dlq export' and corrected by hand; otherwise they are read from
--topic as they are (for reasons that were transient, such as a missing rate
that has arrived since). Deduplication downstream makes replaying the same
record twice harmless.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var batch []pipeline.DeadLetter
			if file != "" {
				f, err := os.Open(file)
				if err != nil {
					return usageError{err}
				}
				defer f.Close()
				next := pipeline.DeadLetterLines(f)
				for {
					d, err := next()
					if err == io.EOF {
						break
					}
					if err != nil {
						return usageError{fmt.Errorf("%s: %w", file, err)}
					}
					batch = append(batch, d)
				}
			}
			return withClient(cmd.Context(), g, func(ctx context.Context, cl *kgo.Client) error {
				if file == "" {
					if err := pipeline.ReadDeadLetters(ctx, cl, g.brokerList(), g.kafkaOpts(), topic, filter(), func(d pipeline.DeadLetter) error {
						batch = append(batch, d)
						return nil
					}); err != nil {
						return err
					}
				}
				counts := map[string]int{}
				for _, d := range batch {
					counts[d.Reason]++
				}
				if dryRun {
					printCounts(cmd.ErrOrStderr(), "would replay", counts)
					return nil
				}
				i := 0
				res, err := pipeline.Replay(ctx, cl, to, func() (pipeline.DeadLetter, error) {
					if i == len(batch) {
						return pipeline.DeadLetter{}, io.EOF
					}
					i++
					return batch[i-1], nil
				})
				printCounts(cmd.ErrOrStderr(), "replayed", counts)
				for t, n := range res.ByTopic {
					fmt.Fprintf(cmd.ErrOrStderr(), "  → %s: %d\n", t, n)
				}
				return err
			})
		},
	}
	for _, c := range []*cobra.Command{export, replay} {
		c.Flags().StringVar(&topic, "topic", "sales.rejected", "dead-letter topic")
		c.Flags().StringVar(&reason, "reason", "", "only dead letters with this reason code")
		c.Flags().StringVar(&sourceTopic, "source-topic", "", "only dead letters from this source topic")
	}
	export.Flags().StringVarP(&out, "out", "o", "-", "output file (- for standard output)")
	replay.Flags().StringVar(&file, "file", "", "replay the corrected records of this exported file instead of the topic")
	replay.Flags().StringVar(&to, "to", "", "produce to this topic instead of each record's source topic")
	replay.Flags().BoolVar(&dryRun, "dry-run", false, "count what would be replayed, produce nothing")
	cmd.AddCommand(export, replay)
	return cmd
}

func withClient(ctx context.Context, g *globals, fn func(context.Context, *kgo.Client) error) error {
	cl, err := kgo.NewClient(g.kafkaOpts()...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return fn(ctx, cl)
}

func printCounts(w io.Writer, what string, counts map[string]int) {
	total := 0
	reasons := make([]string, 0, len(counts))
	for r, n := range counts {
		reasons = append(reasons, r)
		total += n
	}
	sort.Strings(reasons)
	fmt.Fprintf(w, "%s %d dead letters\n", what, total)
	for _, r := range reasons {
		fmt.Fprintf(w, "  %-28s %d\n", r, counts[r])
	}
}
