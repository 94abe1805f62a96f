package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/httpingest"
)

func newServeCmd(g *globals) *cobra.Command {
	var sources []string
	var addr, gatePath, tokenFile, deadLetter string
	var maxBody int64
	var produceTimeout time.Duration
	var guard guardFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve HTTP ingest: POST /v1/sources/{source}/events",
		Long: `Accepts sales over HTTP for every --source TOPIC=CONFIG.yaml: the body (a JSON
object, a JSON array, NDJSON or CSV, as the source's config says) is mapped
and checked record by record; good records are produced to TOPIC keyed by
source:txn_id, bad ones are answered with their line, reason and field (422)
and kept on --dead-letter. Requests need "Authorization: Bearer <token>", with
tokens from ACCRUE_INGEST_TOKENS (comma separated) or --token-file (one a
line). 429 with Retry-After when Kafka cannot take the records.

Against floods: each client (a token; an address for requests without a
known one) may send --rate requests a second on average and --burst at
once, and at most --max-in-flight requests are served together; past
either, 429 with Retry-After before the body is read. Bodies are bounded by
--max-body-bytes (413) and must arrive within --read-timeout.

GET /healthz answers "ok" to anyone. GET /metrics (Prometheus: the limits,
the Kafka client) needs a bearer token of ACCRUE_METRICS_TOKENS or
--metrics-token-file, and is not served when neither is set.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tokens, err := bearerTokens("ingest", tokenFile, "ACCRUE_INGEST_TOKENS")
			if err != nil {
				return err
			}
			pls, topics, err := sourcePipelines(sources, gatePath)
			if err != nil {
				return err
			}
			var srcs []httpingest.Source
			for _, t := range topics {
				pl := pls[t]
				srcs = append(srcs, httpingest.Source{Name: pl.Mapper.Source(), Topic: t, Split: pl.HTTPSplit(time.Now)})
			}
			reg := newRegistry()
			cl, err := kgo.NewClient(g.kafkaOpts(kgo.RecordDeliveryTimeout(produceTimeout), kafkaMetrics(reg))...)
			if err != nil {
				return err
			}
			defer cl.Close()
			h, err := httpingest.New(httpingest.Config{Tokens: tokens, MaxBodyBytes: maxBody,
				ProduceTimeout: produceTimeout, DeadLetter: deadLetter}, cl, srcs...)
			if err != nil {
				return usageError{err}
			}
			mux, srv, err := guard.server(reg)
			if err != nil {
				return err
			}
			mux.Handle("/v1/sources/", guard.limiter("ingest", tokens, reg).Wrap(h))
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx) // finish requests in flight, then stop
			}()
			slog.Info("serving HTTP ingest", "addr", ln.Addr().String(), "sources", len(srcs))
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&sources, "source", nil, "TOPIC=CONFIG.yaml, repeated: a source's raw topic and its mapping")
	cmd.Flags().StringVar(&addr, "addr", envOr("ACCRUE_INGEST_ADDR", "127.0.0.1:8080"), "listen address (env ACCRUE_INGEST_ADDR)")
	cmd.Flags().StringVar(&gatePath, "gate", "", "gatekeeper config (YAML)")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file of accepted bearer tokens, one a line")
	cmd.Flags().StringVar(&deadLetter, "dead-letter", "sales.rejected", "topic for rejected records")
	cmd.Flags().Int64Var(&maxBody, "max-body-bytes", 8<<20, "largest request body")
	cmd.Flags().DurationVar(&produceTimeout, "produce-timeout", 5*time.Second, "wait for Kafka before answering 429")
	guard.register(cmd, 50, 100, 32)
	return cmd
}

// bearerTokens reads an endpoint's bearer tokens from file (one a line),
// else from the environment variable env (comma-separated); what names
// them (ingest, wallet) says which is missing. They never appear in logs.
func bearerTokens(what, file, env string) ([]string, error) {
	var raw string
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, usageError{err}
		}
		raw = strings.ReplaceAll(string(b), "\n", ",")
	} else {
		raw = os.Getenv(env)
	}
	var out []string
	for _, t := range strings.Split(raw, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, usageError{fmt.Errorf("no %s token: set %s or --token-file", what, env)}
	}
	return out, nil
}
