package pipeline

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Admin serves a process's operational endpoints:
//
//	/metrics  Prometheus metrics of the registry it is given
//	/healthz  200 while the process runs
//	/readyz   200 when every readiness check passes, else 503 naming the first that fails
type Admin struct {
	srv     *http.Server
	ln      net.Listener
	mux     *http.ServeMux
	metrics http.Handler
}

// ReadyCheck reports whether one part of the process is ready.
type ReadyCheck struct {
	Name  string
	Ready func() bool
}

// NewAdmin listens on addr (":9464", "127.0.0.1:0") at once, so that the
// caller learns of a taken port before starting any work. Serve it with
// Serve.
func NewAdmin(addr string, gatherer prometheus.Gatherer, checks ...ReadyCheck) (*Admin, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})
	mux.Handle("/metrics", metrics)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		for _, c := range checks {
			if !c.Ready() {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("not ready: " + c.Name + "\n"))
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return &Admin{ln: ln, mux: mux, metrics: metrics,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}, nil
}

// GuardMetrics puts wrap (a bearer-token check) in front of /metrics;
// /healthz and /readyz stay open to probes. Call it before Serve.
func (a *Admin) GuardMetrics(wrap func(http.Handler) http.Handler) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", wrap(a.metrics))
	mux.Handle("/", a.mux)
	a.srv.Handler = mux
}

// Addr is the address the admin server listens on.
func (a *Admin) Addr() string { return a.ln.Addr().String() }

// Serve blocks serving requests until Shutdown; it then returns nil.
func (a *Admin) Serve() error {
	if err := a.srv.Serve(a.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting requests and waits for those in flight, up to
// ctx's deadline (http.Server.Shutdown).
func (a *Admin) Shutdown(ctx context.Context) error { return a.srv.Shutdown(ctx) }
