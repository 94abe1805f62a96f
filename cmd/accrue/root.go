package main

import (
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// globals are the flags every command shares.
type globals struct {
	brokers  string
	logLevel string
	kafka    kafkaFlags
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "accrue",
		Short: "Real-time sales incentive engine: sales in, exactly-once commissions out",
		Long: `accrue turns sales feeds (Kafka topics, webhooks, files) into correct incentive
pay in real time: it cleans and links sales, computes accruals under published
programs exactly once, and reports everything to ClickHouse.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
				return usageError{err}
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})))
			if err := g.kafka.load(); err != nil {
				return err
			}
			if longRunning(cmd) {
				slog.Info("starting", startAttrs(cmd)...)
			}
			if g.kafka.security != nil && usesKafka(cmd) {
				return g.checkKafka(cmd.Context(), 10*time.Second)
			}
			return nil
		},
	}
	root.PersistentFlags().StringVar(&g.brokers, "brokers", envOr("ACCRUE_KAFKA_BROKERS", "127.0.0.1:19092"),
		"Kafka seed brokers, comma separated (env ACCRUE_KAFKA_BROKERS)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", envOr("ACCRUE_LOG_LEVEL", "info"),
		"log level: debug, info, warn, error (env ACCRUE_LOG_LEVEL)")
	g.kafka.register(root)
	root.AddCommand(newTopicsCmd(g), newStageCmd(g), newDLQCmd(g), newConnectorCmd(g), newServeCmd(g), newImportCmd(g), newDemoCmd(g), newVersionCmd())
	for _, c := range commands {
		root.AddCommand(c(g))
	}
	return root
}

// commands are the commands that files of this package register from
// init, each file one command and its subcommands.
var commands []func(*globals) *cobra.Command

func (g *globals) brokerList() []string {
	var out []string
	for _, b := range strings.Split(g.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
