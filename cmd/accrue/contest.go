package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/accrue/accrue/transforms/contest"
)

func init() { commands = append(commands, newContestCmd) }

func newContestCmd(_ *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "contest",
		Short: "Check contest documents",
		Long:  `Contests are YAML documents (docs/nudges.md, "Contests"; examples in docs/contests), run by 'accrue stage contest'.`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "validate FILE...",
		Short: "Check contest documents; every problem with its line and column",
		Long: `Checks each contest document completely. Problems go to standard error, one a
line as FILE:LINE:COLUMN: KEY: MESSAGE; each valid document gets a one-line
summary on standard output. Exit status 2 when any document is invalid.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			cs, err := loadContests(cmd.ErrOrStderr(), files)
			for i, c := range cs {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok: %s\n", files[i], contestSummary(c))
			}
			if err != nil {
				return usageError{err}
			}
			return nil
		},
	})
	return cmd
}

// loadContests parses every file, printing the problems to w; it fails
// when any file is invalid or two share an id. The contests returned are
// those that parsed, in file order.
func loadContests(w io.Writer, files []string) ([]*contest.Contest, error) {
	var out []*contest.Contest
	bad := 0
	seen := map[string]string{}
	for _, f := range files {
		c, err := contest.Load(f)
		if err != nil {
			fmt.Fprintln(w, err)
			bad++
			continue
		}
		if other, dup := seen[c.ID]; dup {
			fmt.Fprintf(w, "%s:1:1: id: contest %s is also %s\n", f, c.ID, other)
			bad++
			continue
		}
		seen[c.ID] = f
		out = append(out, c)
	}
	if bad > 0 {
		return out, errors.New(plural(bad, "invalid contest document"))
	}
	return out, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func contestSummary(c *contest.Contest) string {
	what := fmt.Sprintf("milestone at %s %s", c.Target.Decimal, c.Measure)
	switch {
	case c.First > 0:
		what = fmt.Sprintf("race: the first %d to %s %s", c.First, c.Target.Decimal, c.Measure)
	case c.Top > 0:
		what = fmt.Sprintf("race: the top %d by %s", c.Top, c.Measure)
	}
	return fmt.Sprintf("%s (%s): %s, %s to %s %s, settled %s", c.ID, c.Name, what, c.Starts, c.Ends,
		c.Location, c.SettledAt().UTC().Format(time.RFC3339))
}
