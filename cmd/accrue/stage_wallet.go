package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/wallet"
)

// walletKeyEnv names the environment variable that may hold the sealing
// key; a flag never does, so that it stays out of process listings.
const walletKeyEnv = "ACCRUE_WALLET_KEY"

func newWalletStageCmd(g *globals) *cobra.Command {
	var f stageFlags
	var payable, redemptions, registrations, results string
	var instructions, outcomes, ledger, pennyDrops, accounts string
	var catalogueTopic, closesTopic, deadLetter, name string
	var keyFile, keyID, country, defaultPolicy string
	var transferFees, catalogueFees, policies []string
	var ttl, sweep, tick time.Duration
	var attempts, parallelism int
	cmd := &cobra.Command{
		Use:   "wallet",
		Short: "Keep every rep's wallet: ledger, bank account and penny drop, redemptions, payout instructions",
		Long: `The keyed stage after accrual (docs/wallet.md). It consumes, keyed by rep and
with the same partition count:

  --payable        what became payable (the accrual stage's payouts.payable)
  --redemptions    redemption requests (accrue serve-wallet writes them)
  --registrations  bank-account registrations and penny-drop confirmations
  --results        payout services' results of instructions and penny drops

and applies each to the rep's wallet. In one transaction with the wallet's
state and the offsets it emits, keyed by rep: --instructions (payout
instructions, the account number sealed), --outcomes, --ledger,
--penny-drops and --accounts (account events, mask and status only).
Inputs the wallet refuses go to --dead-letter; a registration's number is
masked there first.

Every instance reads the whole --catalogue-topic (gift cards, experiences)
and --closes-topic (closed periods) before it processes any record.

The sealing key (32 bytes, AES-256) comes from --key-file or the
environment variable ACCRUE_WALLET_KEY, as 64 hex digits, base64, or 32 raw
bytes (a file); never from a flag value. --key-id names it in what it
seals.

Fees are CURRENCY=FIXED or CURRENCY=FIXED+PERCENT% (EUR=0.50, USD=0.25+1.5%),
repeated; policies are PROGRAM=on_accrual|period_close, repeated.

Shutdown order: the stage ends its batch and leaves its group, then the
tables stop following their topics, then the admin server stops.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sweep <= 0 || tick <= 0 {
				return usageError{errors.New("--sweep-interval and --tick must be positive")}
			}
			key, err := walletKey(keyFile)
			if err != nil {
				return err
			}
			tf, err := parseFees("--transfer-fee", transferFees)
			if err != nil {
				return err
			}
			cf, err := parseFees("--catalogue-fee", catalogueFees)
			if err != nil {
				return err
			}
			pol, err := parsePolicies(policies)
			if err != nil {
				return err
			}
			reg := newRegistry()
			tables, err := wallet.NewTables(wallet.TablesConfig{Brokers: g.brokerList(), ClientOpts: g.kafkaOpts(), Catalogue: catalogueTopic,
				Closes: closesTopic, Registerer: reg})
			if err != nil {
				return usageError{err}
			}
			w, err := wallet.New(wallet.Config{Key: key, KeyID: keyID, Policies: pol, DefaultPolicy: wallet.Policy(defaultPolicy),
				TransferFees: tf, CatalogueFees: cf, PennyDropTTL: ttl, PennyDropAttempts: attempts, Catalogue: tables})
			clear(key)
			if err != nil {
				return usageError{err}
			}
			proc, err := wallet.NewProcessor(wallet.StageConfig{Wallet: w, Tables: tables,
				Payable: payable, Redemptions: redemptions, Registrations: registrations, Results: results,
				Instructions: instructions, Outcomes: outcomes, Ledger: ledger, PennyDrops: pennyDrops, Accounts: accounts,
				Country: country, SweepInterval: sweep, Metrics: wallet.NewMetrics(reg)})
			if err != nil {
				return usageError{err}
			}
			cfg := f.config(g, name, proc.Inputs(), reg)
			cfg.DeadLetter, cfg.TickInterval, cfg.Parallelism = deadLetter, tick, parallelism
			st, err := pipeline.NewStage[*wallet.State](cfg, wallet.Codec{}, proc)
			if err != nil {
				return usageError{err}
			}

			ctx := cmd.Context()
			followCtx, stopFollowing := context.WithCancel(context.WithoutCancel(ctx))
			done := make(chan error, 1)
			go func() { done <- tables.Run(followCtx) }()
			defer func() {
				stopFollowing()
				<-done
			}()
			var running atomic.Bool
			stopAdmin, err := serveAdmin(f.adminAddr, reg,
				pipeline.ReadyCheck{Name: "wallet tables", Ready: tables.Ready},
				pipeline.ReadyCheck{Name: "stage " + name, Ready: func() bool { return running.Load() && st.Ready() }})
			if err != nil {
				return err
			}
			defer stopAdmin()
			if err := tables.WaitReady(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			running.Store(true)
			if err := st.Run(ctx); err != nil {
				return err
			}
			var wallets int64
			var reserved decimal.Decimal
			st.EachState(func(_ int32, _ string, s *wallet.State) {
				wallets++
				reserved = reserved.Add(s.Balances().Reserved)
			})
			slog.Info("stage stopped", "stage", name, "wallets", wallets)
			return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"wallets": wallets, "reserved": reserved.String()})
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.IntVar(&parallelism, "parallelism", 1, "partitions of a batch processed at once, each on a goroutine of its own")
	fl.StringVar(&payable, "payable", wallet.TopicPayable, "input: payable amounts (payouts.payable records), keyed by rep")
	fl.StringVar(&redemptions, "redemptions", wallet.TopicRedemptions, "input: redemption requests, keyed by rep")
	fl.StringVar(&registrations, "registrations", wallet.TopicRegistrations, "input: bank-account registrations and confirmations, keyed by rep")
	fl.StringVar(&results, "results", wallet.TopicResults, "input: results of payouts and penny drops, keyed by rep")
	fl.StringVar(&instructions, "instructions", wallet.TopicInstructions, "output: payout instructions")
	fl.StringVar(&outcomes, "outcomes", wallet.TopicOutcomes, "output: request outcomes")
	fl.StringVar(&ledger, "ledger", wallet.TopicLedger, "output: ledger transactions")
	fl.StringVar(&pennyDrops, "penny-drops", wallet.TopicPennyDrops, "output: penny drops to deposit")
	fl.StringVar(&accounts, "accounts", wallet.TopicAccounts, "output: bank-account events (compacted)")
	fl.StringVar(&catalogueTopic, "catalogue-topic", wallet.TopicCatalogue, "compacted topic of catalogue items, read whole")
	fl.StringVar(&closesTopic, "closes-topic", wallet.TopicPeriodCloses, "compacted topic of closed periods, read whole")
	fl.StringVar(&deadLetter, "dead-letter", "wallet.rejected", "topic for inputs the wallet refuses")
	fl.StringVar(&name, "name", "wallet", "stage name (group accrue-<name>, state topic <name>.changelog)")
	fl.StringVar(&keyFile, "key-file", "", "file holding the 32-byte sealing key (raw, hex or base64); default: env "+walletKeyEnv)
	fl.StringVar(&keyID, "key-id", envOr("ACCRUE_WALLET_KEY_ID", "1"), "name of the sealing key, written beside what it seals (env ACCRUE_WALLET_KEY_ID)")
	fl.StringArrayVar(&transferFees, "transfer-fee", nil, "bank-transfer fee, CURRENCY=FIXED[+PERCENT%], repeated")
	fl.StringArrayVar(&catalogueFees, "catalogue-fee", nil, "catalogue fee, CURRENCY=FIXED[+PERCENT%], repeated")
	fl.StringArrayVar(&policies, "policy", nil, "payability of a program, PROGRAM=on_accrual|period_close, repeated")
	fl.StringVar(&defaultPolicy, "default-policy", string(wallet.PolicyOnAccrual), "payability of the programs without --policy")
	fl.DurationVar(&ttl, "penny-drop-ttl", 72*time.Hour, "how long a penny drop may take from registration to verification")
	fl.IntVar(&attempts, "penny-drop-attempts", 3, "wrong amounts a rep may confirm before the account locks")
	fl.StringVar(&country, "country", "", "country (ISO 3166 alpha-2) of reps without a bank account, for catalogue requests")
	fl.DurationVar(&sweep, "sweep-interval", wallet.DefaultSweepInterval, "how often each partition is swept for expired penny drops and closed periods")
	fl.DurationVar(&tick, "tick", pipeline.DefaultTickInterval, "how often partitions without new records are ticked")
	return cmd
}

// walletKey reads the sealing key from file, or from ACCRUE_WALLET_KEY. Its
// errors never quote the key.
func walletKey(file string) ([]byte, error) {
	var raw []byte
	from := walletKeyEnv
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, usageError{fmt.Errorf("--key-file: %w", err)}
		}
		raw, from = b, "--key-file"
		if len(raw) == 32 {
			return raw, nil
		}
	} else {
		raw = []byte(os.Getenv(walletKeyEnv))
		if len(raw) == 0 {
			return nil, usageError{fmt.Errorf("no sealing key: set --key-file or %s", walletKeyEnv)}
		}
	}
	text := strings.TrimSpace(string(raw))
	if k, err := hex.DecodeString(text); err == nil && len(k) == 32 {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(text); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, usageError{fmt.Errorf("%s: the sealing key must be 32 bytes: 64 hex digits, base64, or 32 raw bytes in a file", from)}
}

// parseFees reads CURRENCY=FIXED[+PERCENT%] values.
func parseFees(flag string, vals []string) (map[string]wallet.Fee, error) {
	out := map[string]wallet.Fee{}
	for _, v := range vals {
		cur, spec, ok := strings.Cut(v, "=")
		cur = strings.ToUpper(strings.TrimSpace(cur))
		if !ok || cur == "" {
			return nil, usageError{fmt.Errorf("%s %q: want CURRENCY=FIXED[+PERCENT%%]", flag, v)}
		}
		if _, dup := out[cur]; dup {
			return nil, usageError{fmt.Errorf("%s: %s given twice", flag, cur)}
		}
		var fee wallet.Fee
		for _, part := range strings.Split(spec, "+") {
			part = strings.TrimSpace(part)
			pct, isPct := strings.CutSuffix(part, "%")
			d, err := decimal.NewFromString(pct)
			if err != nil {
				return nil, usageError{fmt.Errorf("%s %q: %q is not a decimal", flag, v, part)}
			}
			if isPct {
				fee.Percent = fee.Percent.Add(d)
			} else {
				fee.Fixed = fee.Fixed.Add(d)
			}
		}
		out[cur] = fee
	}
	return out, nil
}

// parsePolicies reads PROGRAM=POLICY values.
func parsePolicies(vals []string) (map[string]wallet.Policy, error) {
	out := map[string]wallet.Policy{}
	for _, v := range vals {
		prog, pol, ok := strings.Cut(v, "=")
		if !ok || prog == "" {
			return nil, usageError{fmt.Errorf("--policy %q: want PROGRAM=on_accrual|period_close", v)}
		}
		out[prog] = wallet.Policy(pol)
	}
	return out, nil
}
