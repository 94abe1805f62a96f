package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
)

func newTopicsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "topics", Short: "Create and list accrue's Kafka topics"}
	var partitions int32
	var rf int16
	create := &cobra.Command{
		Use:   "create",
		Short: "Create every topic accrue uses (idempotent)",
		Long: `Creates every topic of accrue's topology that does not exist yet, with the
given partition count and cleanup policy (compact for reference data, programs
and state changelogs). Topics that exist are left as they are.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if partitions < 1 {
				return usageError{fmt.Errorf("--partitions must be at least 1")}
			}
			adm, closeFn, err := admin(g)
			if err != nil {
				return err
			}
			defer closeFn()
			ctx, cancel := context.WithTimeout(cmd.Context(), 60*time.Second)
			defer cancel()
			res, err := pipeline.CreateTopics(ctx, adm, pipeline.Topics, partitions, rf)
			for _, r := range res {
				state := "exists"
				if r.Created {
					state = "created"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-24s %-8s partitions=%d\n", r.Topic, state, r.Partitions)
			}
			return err
		},
	}
	create.Flags().Int32Var(&partitions, "partitions", 6, "partitions per topic (keyed topics must match)")
	create.Flags().Int16Var(&rf, "replication-factor", -1, "replication factor (-1: the broker's default)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the topology's topics and what each carries",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			for _, t := range pipeline.Topics {
				policy := "delete"
				if t.Compacted {
					policy = "compact"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-24s %-8s %s\n", t.Name, policy, t.Doc)
			}
		},
	}
	cmd.AddCommand(create, list)
	return cmd
}

func admin(g *globals) (*kadm.Client, func(), error) {
	cl, err := kgo.NewClient(g.kafkaOpts()...)
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}
