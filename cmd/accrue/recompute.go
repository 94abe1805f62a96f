package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/transforms/accrue"
	"github.com/accrue/accrue/transforms/accrue/program"
)

func init() { commands = append(commands, newRecomputeCmd) }

func newRecomputeCmd(g *globals) *cobra.Command {
	var cfg accrue.RecomputeConfig
	var programsTopic, cancel string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "recompute --program ID --from PERIOD",
		Short: "Recompute a program's periods under its versions published now, through the running accrual stage",
		Long: `Replays the credits of --credits under the versions of --program the catalog
holds now, from period --from on, and has the running accrual stage emit the
adjustment deltas that bring every statement of those periods to the new
figures (accruals with input_id "recompute/RUN", new attainment snapshots).

The stage owns the figures, so the run goes through it: this command opens
the run on every partition of --topic, waits until the stage has begun it
(from then on each partition holds its live inputs back), replays every
credit the stage had applied by then onto its partition of --topic, with a
progress bar, and closes the run. Each partition computes the new figures
beside the live ones and, once every partition has replayed, swaps them in,
emits the adjustments and applies the inputs it held back. The command
returns when the run is closed; the swap follows within seconds.

If the command fails after it opened the run it cancels it; if it cannot,
'accrue recompute --cancel RUN' does. See docs/accrual.md, "Recompute".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Brokers, cfg.ClientOpts = g.brokerList(), g.kafkaOpts()
			if cancel != "" {
				cfg.Run = cancel
				if cfg.ProgramID == "" {
					cfg.ProgramID = "-"
				}
				if cfg.From == "" {
					cfg.From = "-"
				}
				cfg.Catalog = program.NewCatalog()
				if err := accrue.CancelRecompute(cmd.Context(), cfg); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "run %s cancelled on every partition that had not replayed it\n", cancel)
				return nil
			}
			if cfg.ProgramID == "" || cfg.From == "" {
				return usageError{errors.New("--program and --from are required")}
			}
			ctx := cmd.Context()
			err := withClient(ctx, g, func(ctx context.Context, cl *kgo.Client) error {
				cat, err := readCatalog(ctx, cl, g, programsTopic, cmd.ErrOrStderr())
				cfg.Catalog = cat
				return err
			})
			if err != nil {
				return err
			}
			if cfg.Catalog.Latest(cfg.ProgramID) == nil {
				return usageError{fmt.Errorf("program %q is not published on %s", cfg.ProgramID, programsTopic)}
			}
			var bar *progressbar.ProgressBar
			if !quiet {
				cfg.Progress = func(done, total int64) {
					if bar == nil {
						bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(cmd.ErrOrStderr()),
							progressbar.OptionSetDescription("replaying "+cfg.Credits),
							progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond),
							progressbar.OptionClearOnFinish())
					}
					_ = bar.Set64(done)
				}
			}
			res, err := accrue.Recompute(ctx, cfg)
			if bar != nil {
				_ = bar.Finish()
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run %s: %d credits replayed (%d older than %s skipped) on %d partitions; the stage swaps the new figures in once every partition has replayed them\n",
				res.Run, res.Replayed, res.Skipped, cfg.From, res.Partitions)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ProgramID, "program", "", "id of the program to recompute")
	f.StringVar(&cfg.From, "from", "", "first period to recompute, as the program cuts them: 2026-11, 2026-Q4, 2026")
	f.StringVar(&cfg.Run, "run", "", "name of the run (default PROGRAM/FROM/<unix ms>)")
	f.StringVar(&cancel, "cancel", "", "cancel run RUN instead")
	f.StringVar(&programsTopic, "programs-topic", program.Topic, "compacted topic of published programs")
	f.StringVar(&cfg.Credits, "credits", accrue.TopicCredits, "the accrual stage's topic of credits")
	f.StringVar(&cfg.Topic, "topic", accrue.TopicRecompute, "the accrual stage's topic of recompute runs")
	f.StringVar(&cfg.DeadLetter, "dead-letter", "accrue.rejected", "the accrual stage's dead letters (where it refuses a run)")
	f.StringVar(&cfg.Group, "group", "accrue-accrue", "the accrual stage's consumer group")
	f.DurationVar(&cfg.Wait, "wait", 5*time.Minute, "how long to wait for the stage to begin the run")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}
