package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/accrue/accrue/connectors/fileimport"
)

func newImportCmd(g *globals) *cobra.Command {
	var source, gatePath, deadLetter string
	var batch int
	var quiet bool
	cmd := &cobra.Command{
		Use:   "import --source TOPIC=CONFIG.yaml FILE",
		Short: "Load a file of sales into a source's raw topic, exactly once",
		Long: `Maps and checks FILE with the source's config and the gatekeepers, then writes
good records to TOPIC (keyed by source:txn_id) and bad ones to --dead-letter
with their line, in transactions that also record the import's progress in
the compacted topic "imports". Running it again on the same file (by
content, whatever its name) resumes where it stopped, and writes nothing once
the file is done. Prints the counts as JSON at the end.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pls, topics, err := sourcePipelines([]string{source}, gatePath)
			if err != nil {
				return err
			}
			payload, err := os.ReadFile(args[0])
			if err != nil {
				return usageError{err}
			}
			cfg := fileimport.Config{Brokers: g.brokerList(), ClientOpts: g.kafkaOpts(), Topic: topics[0], DeadLetter: deadLetter,
				Pipeline: pls[topics[0]], BatchSize: batch}
			var bar *progressbar.ProgressBar
			if !quiet {
				cfg.Progress = func(done, total int) {
					if bar == nil {
						bar = progressbar.NewOptions64(int64(total), progressbar.OptionSetWriter(cmd.ErrOrStderr()),
							progressbar.OptionSetDescription("importing "+filepath.Base(args[0])),
							progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond),
							progressbar.OptionClearOnFinish())
					}
					_ = bar.Set64(int64(done))
				}
			}
			res, err := fileimport.Run(cmd.Context(), cfg, args[0], payload)
			if bar != nil {
				_ = bar.Finish()
			}
			if err != nil {
				return fmt.Errorf("import stopped after %d of %d records (run it again to resume): %w", res.Done, res.Total, err)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "TOPIC=CONFIG.yaml: the source's raw topic and its mapping")
	cmd.Flags().StringVar(&gatePath, "gate", "", "gatekeeper config (YAML)")
	cmd.Flags().StringVar(&deadLetter, "dead-letter", "sales.rejected", "topic for rejected records")
	cmd.Flags().IntVar(&batch, "batch", 5000, "records per transaction")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	_ = cmd.MarkFlagRequired("source")
	return cmd
}
