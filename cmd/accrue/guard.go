package main

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/accrue/accrue/connectors/httpguard"
)

// guardFlags are the flood limits and the metrics tokens of the commands
// that serve HTTP to other systems (serve, serve-wallet).
type guardFlags struct {
	rate             float64
	burst            int
	maxInFlight      int
	readTimeout      time.Duration
	metricsTokenFile string
}

func (f *guardFlags) register(cmd *cobra.Command, rate float64, burst, maxInFlight int) {
	cmd.Flags().Float64Var(&f.rate, "rate", rate, "requests a second each client may send on average (0: no limit)")
	cmd.Flags().IntVar(&f.burst, "burst", burst, "requests a client may send at once after a quiet spell")
	cmd.Flags().IntVar(&f.maxInFlight, "max-in-flight", maxInFlight, "requests served at once, all clients together (0: no limit)")
	cmd.Flags().DurationVar(&f.readTimeout, "read-timeout", time.Minute, "longest a request may take to arrive, body included")
	cmd.Flags().StringVar(&f.metricsTokenFile, "metrics-token-file", "",
		"file of bearer tokens for GET /metrics, one a line (default: env ACCRUE_METRICS_TOKENS; neither: /metrics is not served)")
}

// server is the mux and server of an HTTP endpoint: /healthz open to
// anyone, /metrics behind the metrics tokens when there are some. The
// caller mounts its endpoint behind limiter.
func (f *guardFlags) server(reg *prometheus.Registry) (*http.ServeMux, *http.Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	metricsTokens, err := bearerTokens("metrics", f.metricsTokenFile, "ACCRUE_METRICS_TOKENS")
	switch {
	case err == nil:
		mux.Handle("/metrics", httpguard.Bearer(metricsTokens, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	case f.metricsTokenFile != "":
		return nil, nil, err // a file was named and cannot be read, or is empty
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: f.readTimeout,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	return mux, srv, nil
}

// limiter is the flood limiter of endpoint name, its clients named by
// their bearer token.
func (f *guardFlags) limiter(name string, tokens []string, reg prometheus.Registerer) *httpguard.Limiter {
	return httpguard.New(httpguard.Config{Name: name, Rate: f.rate, Burst: f.burst, MaxInFlight: f.maxInFlight,
		Client: httpguard.ByToken(tokens), Registerer: reg})
}
