package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/sinks/webhook"
)

func newSinkWebhookCmd(g *globals) *cobra.Command {
	var cfg webhook.Config
	var secretFile, adminAddr string
	cmd := &cobra.Command{
		Use:   "webhook --url URL",
		Short: "POST payout events to a webhook receiver, signed, with idempotency keys",
		Long: `Consumes the given topics (read_committed; a new group starts at the beginning)
and POSTs every event as JSON to --url, partition by partition in offset
order: the event itself as the body (or, with --batch-size above 1, an
envelope {"events":[{"topic","idempotency_key","data"},…]}), with headers

  Idempotency-Key   the event's idempotency_key (or topic/partition/offset)
  Accrue-Signature  t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
  Accrue-Topic      the topic (one event per request)

Offsets are committed only after the receiver answered 2xx (or the event
went to the dead-letter topic), so a stop or crash sends the unacknowledged
events again, with the same keys: receivers must remember keys.

408, 429 (Retry-After honoured), 5xx, timeouts and connection errors are
retried with exponential backoff and jitter, until acknowledged (or
--max-attempts, then the dead-letter topic with reason gave_up). Any other
status sends the events to --dead-letter (reason receiver_refused) and the
sink goes on. To send them again, replay them to a topic of their own that
the sink also reads ('accrue dlq replay --to webhook.retry'), never back to
payouts.payable, whose other readers would count them twice.
Records that are not JSON go there too (invalid_json).

The signing secret comes from --secret-file (one secret a line; two while
rotating: each gives a v1 signature) or ACCRUE_WEBHOOK_SECRET (comma
separated), never from the command line. See docs/payouts.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			secrets, err := webhookSecrets(secretFile)
			if err != nil {
				return usageError{err}
			}
			if cfg.URL == "" {
				return usageError{errors.New("--url is required (or ACCRUE_WEBHOOK_URL)")}
			}
			reg := newRegistry()
			cfg.Brokers, cfg.Secrets = g.brokerList(), secrets
			cfg.Metrics = webhook.NewMetrics(reg)
			cfg.ClientOpts = g.kafkaOpts(kafkaMetrics(reg))
			s, err := webhook.NewSink(cfg)
			if err != nil {
				return usageError{err}
			}
			stopAdmin, err := serveAdmin(adminAddr, reg, pipeline.ReadyCheck{Name: "sink webhook " + cfg.Name, Ready: s.Ready})
			if err != nil {
				return err
			}
			defer stopAdmin()
			return s.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.URL, "url", envOr("ACCRUE_WEBHOOK_URL", ""), "receiver URL, http or https (env ACCRUE_WEBHOOK_URL)")
	f.StringVar(&secretFile, "secret-file", envOr("ACCRUE_WEBHOOK_SECRET_FILE", ""),
		"file of signing secrets, one a line (env ACCRUE_WEBHOOK_SECRET_FILE; or ACCRUE_WEBHOOK_SECRET, comma separated)")
	f.StringSliceVar(&cfg.Topics, "topics", webhook.DefaultTopics, "topics to deliver, comma separated")
	f.StringVar(&cfg.Name, "name", "webhook", "sink name (metrics label; group accrue-webhook-<name>)")
	f.StringVar(&cfg.Group, "group", "", "consumer group (default accrue-webhook-<name>)")
	f.StringVar(&cfg.DeadLetter, "dead-letter", "", "dead-letter topic, which must exist (default <name>.rejected)")
	f.IntVar(&cfg.BatchSize, "batch-size", 1, "events per request, from one partition (1: each event alone)")
	f.DurationVar(&cfg.Timeout, "timeout", webhook.DefaultTimeout, "longest wait for one answer")
	f.DurationVar(&cfg.MinBackoff, "min-backoff", webhook.DefaultMinBackoff, "first wait before a retry (doubles, with jitter)")
	f.DurationVar(&cfg.MaxBackoff, "max-backoff", webhook.DefaultMaxBackoff, "longest wait between retries")
	f.IntVar(&cfg.MaxAttempts, "max-attempts", 0, "give events up to the dead-letter topic after this many failed attempts (0: retry until acknowledged)")
	f.DurationVar(&cfg.CommitInterval, "commit-interval", time.Second, "how often acknowledged offsets are committed while delivering")
	f.DurationVar(&cfg.SessionTimeout, "session-timeout", 15*time.Second, "group session timeout")
	f.StringVar(&adminAddr, "admin-addr", envOr("ACCRUE_ADMIN_ADDR", "127.0.0.1:9464"),
		adminAddrUsage)
	return cmd
}

// webhookSecrets reads the signing secrets from path, or else from
// ACCRUE_WEBHOOK_SECRET. Messages never quote a secret.
func webhookSecrets(path string) ([][]byte, error) {
	var raw []string
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--secret-file: %w", err)
		}
		raw = strings.Split(string(b), "\n")
	} else {
		raw = strings.Split(os.Getenv("ACCRUE_WEBHOOK_SECRET"), ",")
	}
	var out [][]byte
	for _, s := range raw {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, []byte(s))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no signing secret: give --secret-file or set ACCRUE_WEBHOOK_SECRET")
	}
	return out, nil
}
