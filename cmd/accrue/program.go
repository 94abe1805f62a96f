package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/accrue"
	"github.com/accrue/accrue/transforms/accrue/program"
)

func init() { commands = append(commands, newProgramCmd) }

func newProgramCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "program",
		Short: "Validate, publish, list and show incentive programs",
		Long: `Incentive programs are YAML documents (docs/programs/README.md). Published
programs live on the compacted topic "programs", one record per id and
version; the accrual stage applies the version in force on each sale's date.`,
	}
	var topic string
	cmd.PersistentFlags().StringVar(&topic, "topic", program.Topic, "compacted topic of published programs")

	validate := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check program documents; every problem with its line and column",
		Long: `Checks each program document completely. Problems go to standard error, one a
line as FILE:LINE:COLUMN: KEY: MESSAGE; each valid document gets a one-line
summary on standard output. Exit status 2 when any document is invalid.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			progs, err := readPrograms(cmd.ErrOrStderr(), files)
			for _, lp := range progs {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok: %s\n", lp.file, summary(lp.Program))
			}
			return err
		},
	}

	publish := &cobra.Command{
		Use:   "publish FILE...",
		Short: "Validate program documents and publish them, all in one transaction",
		Long: `Validates every document, then writes the new ones to the programs topic in one
Kafka transaction: all of them or none. A published id and version is never
changed: publishing the same id and version with a different document is
refused (exit status 2; publish a new version instead), and publishing the
same document again does nothing and says so. A new version must fit the
published versions of its id (same currency, period, measure and time
zone: the accrual stage adds them into the same periods), or it is refused
with exit status 2; publish a plan that changes them under a new id. Run one publisher at a time
(a CI job): two publishers racing on one id and version both pass the check.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			progs, err := readPrograms(cmd.ErrOrStderr(), files)
			if err != nil {
				return usageError{fmt.Errorf("nothing published: %w", err)}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			return withClient(ctx, g, func(ctx context.Context, cl *kgo.Client) error {
				cat, err := readCatalog(ctx, cl, g, topic, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				var fresh []loaded
				conflicts := 0
				for _, lp := range progs {
					old, ok := cat.Get(lp.ID, lp.Version)
					switch {
					case !ok:
						fresh = append(fresh, lp)
					case old.Digest == lp.Digest:
						fmt.Fprintf(cmd.OutOrStdout(), "%s: %s is already published with this document (%s); nothing to do\n",
							lp.file, lp.Key(), publishedAt(old.PublishedAt))
					default:
						conflicts++
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s is already published with a different document (digest %s, published %s; this one %s): publish it as a new version\n",
							lp.file, lp.Key(), short(old.Digest), publishedAt(old.PublishedAt), short(lp.Digest))
					}
				}
				if conflicts > 0 {
					return usageError{fmt.Errorf("nothing published: %d of %d programs would change a published version", conflicts, len(progs))}
				}
				if misfits := misfits(cat, fresh, cmd.ErrOrStderr()); misfits > 0 {
					return usageError{fmt.Errorf("nothing published: %d of %d programs do not fit the versions of their id", misfits, len(progs))}
				}
				if len(fresh) == 0 {
					return nil
				}
				at := time.Now()
				if err := publishTxn(ctx, g, topic, fresh, at); err != nil {
					return fmt.Errorf("publish to %s: %w", topic, err) // says whether anything was
				}
				for _, lp := range fresh {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: published %s (digest %s)\n", lp.file, lp.Key(), short(lp.Digest))
				}
				return nil
			})
		},
	}

	list := &cobra.Command{
		Use:   "list",
		Short: "List published programs: every version, its dates, digest and publication time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			return withClient(ctx, g, func(ctx context.Context, cl *kgo.Client) error {
				cat, err := readCatalog(ctx, cl, g, topic, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				ids := cat.IDs()
				if len(ids) == 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "no programs published on %s\n", topic)
					return nil
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tVERSION\tNAME\tEFFECTIVE\tDIGEST\tPUBLISHED")
				for _, id := range ids {
					for _, v := range cat.Versions(id) {
						fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", v.ID, v.Version, oneLine(v.Name), effective(v.Program),
							short(v.Digest), publishedAt(v.PublishedAt))
					}
				}
				return tw.Flush()
			})
		},
	}

	var version int
	show := &cobra.Command{
		Use:   "show ID [--version N]",
		Short: "Print a published program's document as it was published",
		Long: `Prints the document of the latest version of program ID, or of --version N,
byte for byte as it was published (its SHA-256 is the digest that
'accrue program list' shows).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			return withClient(ctx, g, func(ctx context.Context, cl *kgo.Client) error {
				cat, err := readCatalog(ctx, cl, g, topic, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				vs := cat.Versions(id)
				if len(vs) == 0 {
					return usageError{fmt.Errorf("program %q is not published on %s", id, topic)}
				}
				p := vs[len(vs)-1]
				if version != 0 {
					var ok bool
					if p, ok = cat.Get(id, version); !ok {
						have := make([]string, len(vs))
						for i, v := range vs {
							have[i] = fmt.Sprint(v.Version)
						}
						return usageError{fmt.Errorf("program %q has no version %d (published: %s)", id, version, strings.Join(have, ", "))}
					}
				}
				_, err = cmd.OutOrStdout().Write(p.Document)
				return err
			})
		},
	}
	show.Flags().IntVar(&version, "version", 0, "the version to show (default: the latest)")

	cmd.AddCommand(validate, publish, list, show)
	return cmd
}

// loaded is a program read from a file.
type loaded struct {
	*program.Program
	file string
}

// readPrograms reads and checks program files, printing every problem to
// w. A file that cannot be read, an invalid document, or an id and version
// given twice with different documents makes the error, a usageError
// counting the files at fault. A document given twice is read once.
func readPrograms(w io.Writer, files []string) ([]loaded, error) {
	var out []loaded
	bad := 0
	seen := map[string]loaded{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			fmt.Fprintf(w, "%s: cannot read: %v\n", f, err)
			bad++
			continue
		}
		p, err := program.Parse(f, b)
		if err != nil {
			fmt.Fprintln(w, err)
			bad++
			continue
		}
		if prev, ok := seen[p.Key()]; ok {
			if prev.Digest != p.Digest {
				fmt.Fprintf(w, "%s:1:1: %s is also %s, with a different document\n", f, p.Key(), prev.file)
				bad++
			}
			continue
		}
		lp := loaded{Program: p, file: f}
		seen[p.Key()] = lp
		out = append(out, lp)
	}
	if bad > 0 {
		return out, usageError{fmt.Errorf("%d of %d program documents are invalid", bad, len(files))}
	}
	return out, nil
}

// readCatalog reads the programs topic whole (read_committed). Records it
// cannot read are reported to w and left out.
func readCatalog(ctx context.Context, cl *kgo.Client, g *globals, topic string, w io.Writer) (*program.Catalog, error) {
	cat := program.NewCatalog()
	err := pipeline.ScanTopic(ctx, cl, g.brokerList(), g.kafkaOpts(), topic, func(r *kgo.Record) error {
		if err := cat.Apply(r.Key, r.Value); err != nil {
			fmt.Fprintf(w, "%s partition %d offset %d: left out: %v\n", topic, r.Partition, r.Offset, err)
		}
		return nil
	})
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return nil, fmt.Errorf("topic %s does not exist (create it with 'accrue topics create'): %w", topic, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", topic, err)
	}
	return cat, nil
}

// publishTxn writes ps to topic in one transaction. The transactional id is
// the same for every publisher to topic, so a publisher fences one that
// stopped half way instead of waiting for its transaction to time out.
func publishTxn(ctx context.Context, g *globals, topic string, ps []loaded, at time.Time) error {
	cl, err := kgo.NewClient(g.kafkaOpts(kgo.TransactionalID("accrue-program-publish-"+topic),
		kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	recs := make([]*kgo.Record, 0, len(ps))
	for _, lp := range ps {
		pb := program.NewPublication(lp.Program, at)
		value, err := pb.Value()
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: pb.Key(), Value: value})
	}
	return pipeline.PublishTxn(ctx, cl, recs, nil)
}

func summary(p *program.Program) string {
	return fmt.Sprintf("%s %q, %s in %s, %s, digest %s", p.Key(), p.Name, p.Period, p.Currency, effectivePhrase(p), short(p.Digest))
}

func effectivePhrase(p *program.Program) string {
	if p.HasEnd {
		return fmt.Sprintf("effective %s to %s", p.EffectiveFrom, p.EffectiveTo)
	}
	return fmt.Sprintf("effective from %s", p.EffectiveFrom)
}

func effective(p *program.Program) string {
	if p.HasEnd {
		return p.EffectiveFrom.String() + ".." + p.EffectiveTo.String()
	}
	return p.EffectiveFrom.String() + ".."
}

// short is the digest prefix people compare: 12 hex digits.
func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

func publishedAt(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// misfits reports, for each of fresh, whether the accrual engine would
// refuse it beside the versions of its id already in cat and those before
// it in fresh, and returns how many it would.
func misfits(cat *program.Catalog, fresh []loaded, w io.Writer) int {
	byID := map[string][]*program.Program{}
	for _, lp := range fresh {
		if _, ok := byID[lp.ID]; !ok {
			for _, v := range cat.Versions(lp.ID) {
				byID[lp.ID] = append(byID[lp.ID], v.Program)
			}
		}
	}
	n := 0
	for _, lp := range fresh {
		try := append(slices.Clone(byID[lp.ID]), lp.Program)
		if _, err := accrue.New(try, nil); err != nil {
			n++
			fmt.Fprintf(w, "%s: %s does not fit the published versions of %s: %s\n", lp.file, lp.Key(), lp.ID,
				strings.TrimPrefix(err.Error(), accrue.ErrPrograms.Error()+": "))
			continue
		}
		byID[lp.ID] = try
	}
	return n
}
