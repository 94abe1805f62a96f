package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build time of this binary",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			b := buildInfo()
			modified := ""
			if b.Modified {
				modified = " (modified)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "accrue %s commit %s%s built %s %s\n", b.Version, b.Commit, modified, b.Time, b.Go)
		},
	}
}
