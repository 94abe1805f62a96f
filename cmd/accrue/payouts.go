package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/accrue/accrue/sinks/payoutfile"
)

func init() { commands = append(commands, newPayoutsCmd) }

// payoutsExportSummary is what `accrue payouts export` prints on standard
// error when it is done.
type payoutsExportSummary struct {
	Period     string                     `json:"period"`
	Topic      string                     `json:"topic"`
	Format     string                     `json:"format"`
	File       string                     `json:"file"`
	Records    int                        `json:"records"`
	OfPeriod   int                        `json:"records_of_period"`
	Lines      int                        `json:"lines"`
	Totals     []payoutfile.CurrencyTotal `json:"totals"`
	MessageID  string                     `json:"message_id,omitempty"`
	Paid       []payoutfile.CurrencyTotal `json:"paid,omitempty"`
	Skipped    []skippedLine              `json:"skipped,omitempty"`
	Generated  time.Time                  `json:"generated_at"`
	ControlSum string                     `json:"control_sum,omitempty"`
}

type skippedLine struct {
	RepID    string `json:"rep_id"`
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
	Reason   string `json:"reason"`
}

func newPayoutsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "payouts", Short: "Payout files: what reps are owed, for people and banks"}
	var period, format, out, topic, accountsPath, debtorName, debtorBIC, execDate, messageID string
	var debtorIBANs []string
	var skipMissing, quiet bool
	export := &cobra.Command{
		Use:   "export --period P --format csv|xlsx|pain001 [-o FILE]",
		Short: "Write a period's payable amounts per rep and currency as CSV, XLSX or pain.001",
		Long: `Reads the payouts.payable topic once (read_committed, from its start to the end
offsets it finds when it starts; a progress bar on standard error) and sums
the amounts of --period per rep and currency: several records of one key and
clawbacks (negative amounts) are summed, never counted. Writes:

  csv      period,rep_id,currency,amount: one row per rep and currency, nets
           as they are (negative: the rep owes it)
  xlsx     the same rows on the sheet "Payouts", a sheet "Totals" per
           currency; amounts are number cells holding the exact decimals
  pain001  an ISO 20022 pain.001.001.03 credit-transfer initiation for the
           bank: one payment block per currency from the debtor's account in
           that currency, one transfer per rep with a positive net, to the
           account given for the rep in --accounts (a CSV file with columns
           rep_id,holder,iban or account[,bic][,currency]); numbers of
           transactions and control sums per block and in total

The file is written whole or not at all (to a temporary file, then renamed).
A summary goes to standard error as JSON: totals per currency, and for
pain001 what was paid and every line left out with its reason (not_positive;
no_account and currency_mismatch with --skip-missing-accounts). Account
numbers appear only in the pain.001 file itself, never in messages.

The debtor comes from flags or the environment: --debtor-name
(ACCRUE_PAYOUT_DEBTOR_NAME), --debtor-iban IBAN or CCY=IBAN, repeatable
(ACCRUE_PAYOUT_DEBTOR_IBAN, comma separated), --debtor-bic
(ACCRUE_PAYOUT_DEBTOR_BIC). See docs/payouts.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if period == "" {
				return usageError{errors.New("--period is required (as the programs write it, e.g. 2026-11)")}
			}
			var pain *payoutfile.Pain001Config
			switch format {
			case "csv", "xlsx":
				if accountsPath != "" || skipMissing {
					return usageError{fmt.Errorf("--accounts and --skip-missing-accounts are only for --format pain001")}
				}
			case "pain001":
				var err error
				if pain, err = painConfig(period, accountsPath, debtorName, debtorBIC, debtorIBANs, execDate, messageID, skipMissing); err != nil {
					return usageError{err}
				}
			case "":
				return usageError{errors.New("--format is required: csv, xlsx or pain001")}
			default:
				return usageError{fmt.Errorf("--format %q: want csv, xlsx or pain001", format)}
			}
			if (out == "" || out == "-") && format == "xlsx" {
				return usageError{errors.New("--format xlsx needs a file: -o FILE.xlsx")}
			}
			var bar *progressbar.ProgressBar
			cfg := payoutfile.ReadConfig{Brokers: g.brokerList(), ClientOpts: g.kafkaOpts(), Topic: topic, Period: period}
			if !quiet {
				cfg.Progress = func(done, total int64) {
					if bar == nil {
						bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(cmd.ErrOrStderr()),
							progressbar.OptionSetDescription("reading "+topic),
							progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond),
							progressbar.OptionClearOnFinish())
					}
					_ = bar.Set64(done)
				}
			}
			res, err := payoutfile.Read(cmd.Context(), cfg)
			if bar != nil {
				_ = bar.Finish()
			}
			if err != nil {
				return err
			}
			if res.Matched == 0 {
				return usageError{fmt.Errorf("no record of period %q among the %d of %s%s", period, res.Records, topic, periodsSeen(res.Periods))}
			}
			lines := res.Totals.Lines()
			sum := payoutsExportSummary{Period: period, Topic: topic, Format: format, File: out, Records: res.Records,
				OfPeriod: res.Matched, Lines: len(lines), Totals: payoutfile.ByCurrency(lines), Generated: time.Now().UTC()}
			if sum.File == "" {
				sum.File = "-"
			}
			err = writeAtomically(cmd.OutOrStdout(), out, func(w io.Writer) error {
				switch format {
				case "csv":
					return payoutfile.WriteCSV(w, period, lines)
				case "xlsx":
					return payoutfile.WriteXLSX(w, period, lines)
				}
				pr, err := payoutfile.WritePain001(w, *pain, lines)
				if err != nil {
					return err
				}
				sum.MessageID, sum.Paid, sum.ControlSum = pr.MessageID, pr.Paid, pr.ControlSum.String()
				for _, s := range pr.Skipped {
					sum.Skipped = append(sum.Skipped, skippedLine{s.RepID, s.Currency, payoutfile.FormatAmount(s.Amount, s.Currency), s.Reason})
				}
				return nil
			})
			if errors.Is(err, payoutfile.ErrMissingAccounts) {
				err = usageError{fmt.Errorf("%w (add them to --accounts, or leave them out with --skip-missing-accounts)", err)}
			}
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.ErrOrStderr())
			enc.SetIndent("", "  ")
			return enc.Encode(sum)
		},
	}
	f := export.Flags()
	f.StringVar(&period, "period", "", "the period to export, as the programs write it (2026-11, 2026-Q4)")
	f.StringVar(&format, "format", "", "csv, xlsx or pain001")
	f.StringVarP(&out, "out", "o", "-", "output file (- for standard output; xlsx needs a file)")
	f.StringVar(&topic, "topic", payoutfile.DefaultTopic, "topic of payable amounts")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	f.StringVar(&accountsPath, "accounts", envOr("ACCRUE_PAYOUT_ACCOUNTS", ""),
		"pain001: CSV of rep accounts (rep_id,holder,iban or account[,bic][,currency]; env ACCRUE_PAYOUT_ACCOUNTS)")
	f.BoolVar(&skipMissing, "skip-missing-accounts", false, "pain001: leave out (and report) reps without a usable account instead of failing")
	f.StringVar(&debtorName, "debtor-name", envOr("ACCRUE_PAYOUT_DEBTOR_NAME", ""), "pain001: the paying company's name (env ACCRUE_PAYOUT_DEBTOR_NAME)")
	f.StringSliceVar(&debtorIBANs, "debtor-iban", splitNonEmpty(os.Getenv("ACCRUE_PAYOUT_DEBTOR_IBAN")),
		"pain001: account to pay from, IBAN for every currency or CCY=IBAN, repeatable (env ACCRUE_PAYOUT_DEBTOR_IBAN)")
	f.StringVar(&debtorBIC, "debtor-bic", envOr("ACCRUE_PAYOUT_DEBTOR_BIC", ""), "pain001: the debtor's bank BIC (env ACCRUE_PAYOUT_DEBTOR_BIC; default NOTPROVIDED)")
	f.StringVar(&execDate, "execution-date", "", "pain001: requested execution date, YYYY-MM-DD (default today, UTC)")
	f.StringVar(&messageID, "message-id", "", "pain001: message id (default derived from the file's payments, so a re-export is refused by the bank)")
	cmd.AddCommand(export)
	return cmd
}

// periodsSeen lists the periods of the topic, latest first, for an error.
func periodsSeen(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	ps := make([]string, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ps)))
	if len(ps) > 12 {
		ps = append(ps[:12], "…")
	}
	return " (periods there: " + strings.Join(ps, ", ") + ")"
}

func splitNonEmpty(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// painConfig checks the pain.001 flags and reads the accounts file.
func painConfig(period, accountsPath, name, bic string, ibans []string, execDate, msgID string, skip bool) (*payoutfile.Pain001Config, error) {
	var problems []string
	if strings.TrimSpace(name) == "" {
		problems = append(problems, "--debtor-name is required")
	}
	if len(ibans) == 0 {
		problems = append(problems, "--debtor-iban is required (IBAN, or CCY=IBAN for each currency)")
	}
	if accountsPath == "" {
		problems = append(problems, "--accounts is required: the reps' bank accounts (CSV)")
	}
	cfg := &payoutfile.Pain001Config{Period: period, SkipMissing: skip, MessageID: msgID, CreatedAt: time.Now(),
		Debtor: payoutfile.Debtor{Name: name, BIC: strings.ToUpper(bic), IBANs: map[string]string{}}}
	for _, v := range ibans {
		ccy, iban, ok := strings.Cut(v, "=")
		if !ok {
			ccy, iban = "", v
		}
		if !payoutfile.ValidIBAN(iban) {
			problems = append(problems, fmt.Sprintf("--debtor-iban %s: not a valid IBAN (format or check digits)", maskTail(iban)))
		}
		if _, dup := cfg.Debtor.IBANs[ccy]; dup {
			problems = append(problems, fmt.Sprintf("--debtor-iban: two accounts for %q", ccy))
		}
		cfg.Debtor.IBANs[ccy] = iban
	}
	if execDate != "" {
		d, err := time.Parse(time.DateOnly, execDate)
		if err != nil {
			problems = append(problems, fmt.Sprintf("--execution-date %q: want YYYY-MM-DD", execDate))
		}
		cfg.ExecutionDate = d
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	f, err := os.Open(accountsPath)
	if err != nil {
		return nil, fmt.Errorf("--accounts: %w", err)
	}
	defer f.Close()
	if cfg.Accounts, err = payoutfile.ReadAccounts(f); err != nil {
		return nil, fmt.Errorf("--accounts %s: %w", accountsPath, err)
	}
	return cfg, nil
}

// maskTail shows only the last four characters of an account number.
func maskTail(n string) string {
	if len(n) <= 4 {
		return "****"
	}
	return "****" + n[len(n)-4:]
}

// writeAtomically writes with fn to stdout when path is "" or "-", and
// otherwise to a temporary file beside path that is renamed to it only
// when fn succeeded: a failed export leaves no partial file.
func writeAtomically(stdout io.Writer, path string, fn func(io.Writer) error) error {
	if path == "" || path == "-" {
		return fn(stdout)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := fn(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
