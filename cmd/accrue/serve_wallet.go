package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/httpwallet"
	"github.com/accrue/accrue/transforms/wallet"
)

func init() { commands = append(commands, newServeWalletCmd) }

func newServeWalletCmd(g *globals) *cobra.Command {
	var addr, tokenFile, topic, outcomesTopic string
	var maxBody int64
	var produceTimeout time.Duration
	var guard guardFlags
	cmd := &cobra.Command{
		Use:   "serve-wallet",
		Short: "Serve the wallet's HTTP endpoint: POST /v1/redemptions",
		Long: `Accepts redemption requests from the rep-facing app and produces each to
--topic keyed by rep, for 'accrue stage wallet' to decide (docs/wallet.md):

  curl -H "Authorization: Bearer $TOKEN" -H "Idempotency-Key: click-7" \
    -H "Content-Type: application/json" \
    -d '{"rep_id":"R-17","type":"bank_transfer","amount":"100.00","currency":"EUR"}' \
    http://127.0.0.1:8081/v1/redemptions

202 with the request id when Kafka has the request (the outcome comes on the
stage's outcomes topic); 422 with the field and a reason code when the body
is wrong or the Idempotency-Key header is missing; 401 without a valid
bearer token; 413 when the body is too large; 429 with Retry-After when Kafka
cannot take the request, or when a client sends faster than --rate (and
--burst) or more than --max-in-flight requests are being served.

GET /v1/redemptions/{request_id} answers the request's latest outcome (the
stage's record on --outcomes, which every instance follows whole), or 404
while there is none. Tokens come from ACCRUE_WALLET_TOKENS (comma
separated) or --token-file (one a line), at least 16 characters each.
GET /healthz answers anyone; GET /metrics needs a token of
ACCRUE_METRICS_TOKENS or --metrics-token-file and is not served without.

Shutdown: requests in flight are finished (up to 30s), then the outcomes
stop being followed, then the Kafka client is closed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tokens, err := bearerTokens("wallet", tokenFile, "ACCRUE_WALLET_TOKENS")
			if err != nil {
				return err
			}
			reg := newRegistry()
			cl, err := kgo.NewClient(g.kafkaOpts(kgo.RecordDeliveryTimeout(produceTimeout),
				kgo.ProducerLinger(0), kafkaMetrics(reg))...)
			if err != nil {
				return err
			}
			defer cl.Close()
			hcfg := httpwallet.Config{Tokens: tokens, Topic: topic, MaxBodyBytes: maxBody, ProduceTimeout: produceTimeout}
			if outcomesTopic != "" {
				store := httpwallet.NewOutcomes(g.brokerList(), outcomesTopic, nil, g.kafkaOpts()...)
				followCtx, stopFollowing := context.WithCancel(context.WithoutCancel(cmd.Context()))
				done := make(chan struct{})
				go func() {
					defer close(done)
					if err := store.Run(followCtx); err != nil {
						slog.Error("outcomes are not followed: GET answers 404", "topic", outcomesTopic, "err", err)
					}
				}()
				defer func() {
					stopFollowing()
					<-done
				}()
				hcfg.Outcomes = store
			}
			h, err := httpwallet.New(hcfg, cl)
			if err != nil {
				return usageError{err}
			}
			mux, srv, err := guard.server(reg)
			if err != nil {
				return err
			}
			limited := guard.limiter("wallet", tokens, reg).Wrap(h)
			mux.Handle(httpwallet.Path, limited)
			mux.Handle(httpwallet.Path+"/", limited)
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			stopped := make(chan struct{})
			go func() {
				defer close(stopped)
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx) // returns once the requests in flight are answered
			}()
			slog.Info("serving wallet redemptions", "addr", ln.Addr().String(), "topic", topic)
			fmt.Fprintf(cmd.ErrOrStderr(), "listening on %s\n", ln.Addr())
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			<-stopped
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", envOr("ACCRUE_WALLET_ADDR", "127.0.0.1:8081"), "listen address (env ACCRUE_WALLET_ADDR)")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file of accepted bearer tokens, one a line (default: env ACCRUE_WALLET_TOKENS)")
	cmd.Flags().StringVar(&topic, "topic", wallet.TopicRedemptions, "topic for the requests, keyed by rep")
	cmd.Flags().StringVar(&outcomesTopic, "outcomes", wallet.TopicOutcomes, "the wallet stage's outcomes topic, followed to answer GET /v1/redemptions/{request_id} (empty: not served)")
	cmd.Flags().Int64Var(&maxBody, "max-body-bytes", 64<<10, "largest request body")
	cmd.Flags().DurationVar(&produceTimeout, "produce-timeout", 5*time.Second, "wait for Kafka before answering 429")
	guard.register(cmd, 20, 40, 32)
	return cmd
}
