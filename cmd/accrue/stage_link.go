package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
)

// refTopics names the topic of every kind of reference data: prefix + kind
// ("ref." gives the catalogue's ref.reps, ref.products, ...).
func refTopics(prefix string) map[reference.Kind]string {
	m := make(map[reference.Kind]string, len(reference.Kinds))
	for _, k := range reference.Kinds {
		m[k] = prefix + string(k)
	}
	return m
}

func newLinkStageCmd(g *globals) *cobra.Command {
	var f stageFlags
	var gatePath, input, output, deadLetter, name, refPrefix string
	var requireProduct bool
	var parkDeadline, retention, tick time.Duration
	cmd := &cobra.Command{
		Use:   "link",
		Short: "Deduplicate and link canonical sales to reps, accounts and products: sales.credited",
		Long: `The keyed stage after the gatekeepers. For every canonical event on --input
(keyed by source:txn_id, as 'accrue stage ingest' writes them) it passes the
first copy of (source, txn_id, type) and rejects the others (duplicate),
links it to the reference data as of its date, and emits one credit per
recipient to --output keyed by the recipient's rep_id. Returns and cancels
are credited to their sale's recipients, kept in the stage's state for
--originals-retention (event time).

An event whose rep, account, product or original sale is not known yet is
parked in the stage's state and linked as soon as the data arrives; after
--park-deadline (wall-clock time since it was parked) it goes to
--dead-letter with the reason (unknown_rep, unknown_account, unknown_product,
unknown_original) and can be replayed from there once the data is loaded.

The reference tables are read from the compacted topics <ref-prefix>reps,
products, accounts, fx and identities (load them with 'accrue ref load')
before any event is processed: /readyz reports "reference tables" until
then. On a clean stop it prints its owned state as one JSON line:
{"state_keys":…,"parked":…,"originals":…}.

Shutdown order: the stage ends its batch and leaves its group, then the
reference tables stop following their topics, then the admin server stops.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			gate, err := loadGate(gatePath)
			if err != nil {
				return err
			}
			if parkDeadline <= 0 || retention <= 0 || tick <= 0 {
				return usageError{errors.New("--park-deadline, --originals-retention and --tick must be positive")}
			}
			reg := newRegistry()
			global, err := reference.NewGlobal(reference.GlobalConfig{Brokers: g.brokerList(), ClientOpts: g.kafkaOpts(), Topics: refTopics(refPrefix),
				Registerer: reg})
			if err != nil {
				return usageError{err}
			}
			cfg := f.config(g, name, []string{input}, reg)
			cfg.DeadLetter, cfg.TickInterval = deadLetter, tick
			met := link.NewMetrics(reg)
			proc, err := link.NewProcessor(link.Config{
				Linker:  &link.Linker{Tables: global.Tables(), RequireProduct: requireProduct},
				Deduper: gate.Deduper(), Output: output, ParkDeadline: parkDeadline,
				OriginalsRetention: retention, TickInterval: tick, Metrics: met,
			})
			if err != nil {
				return usageError{err}
			}
			st, err := pipeline.NewStage[link.Entry](cfg, link.EntryCodec{}, proc)
			if err != nil {
				return usageError{err}
			}
			stopAdmin, err := serveAdmin(f.adminAddr, reg,
				pipeline.ReadyCheck{Name: "reference tables", Ready: global.Ready},
				pipeline.ReadyCheck{Name: "stage " + name, Ready: st.Ready})
			if err != nil {
				return err
			}
			defer stopAdmin()

			ctx := cmd.Context()
			refCtx, stopRef := context.WithCancel(context.WithoutCancel(ctx))
			refDone := make(chan error, 1)
			go func() { refDone <- global.Run(refCtx) }()
			defer func() {
				stopRef()
				<-refDone
			}()
			if err := global.WaitReady(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if err := st.Run(ctx); err != nil {
				return err
			}
			var keys, parked, originals int64
			st.EachState(func(_ int32, k string, _ link.Entry) {
				keys++
				switch {
				case strings.HasPrefix(k, link.ParkedPrefix):
					parked++
				case strings.HasPrefix(k, link.OriginalPrefix):
					originals++
				}
			})
			slog.Info("stage stopped", "stage", name, "state_keys", keys, "parked", parked)
			return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]int64{"state_keys": keys, "parked": parked, "originals": originals})
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&gatePath, "gate", "", "gatekeeper config (YAML) giving the dedupe windows")
	cmd.Flags().StringVar(&input, "input", "sales.canonical", "topic of canonical events, keyed by source:txn_id")
	cmd.Flags().StringVar(&output, "output", "sales.credited", "topic for credits, keyed by rep_id")
	cmd.Flags().StringVar(&deadLetter, "dead-letter", "sales.rejected", "topic for duplicates and events that cannot be linked")
	cmd.Flags().StringVar(&name, "name", "link", "stage name (group accrue-<name>, state topic <name>.changelog)")
	cmd.Flags().StringVar(&refPrefix, "ref-prefix", "ref.", "prefix of the reference topics: <prefix>reps, <prefix>products, ...")
	cmd.Flags().BoolVar(&requireProduct, "require-product", true, "park, then reject, an event naming a product the reference data lacks (false: link it without product attributes)")
	cmd.Flags().DurationVar(&parkDeadline, "park-deadline", link.DefaultParkDeadline, "how long an event may wait for its reference data")
	cmd.Flags().DurationVar(&retention, "originals-retention", link.DefaultOriginalsRetention, "how long (event time) a sale's recipients are kept for its returns and cancel")
	cmd.Flags().DurationVar(&tick, "tick", pipeline.DefaultTickInterval, "how often parked events are looked at on partitions without new records")
	return cmd
}
