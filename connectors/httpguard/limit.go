// Package httpguard stands in front of accrue's HTTP endpoints: bearer
// tokens keep out who has none, and limits keep a flood of requests from
// taking a source down. A token bucket per client bounds how fast each one
// may send, and a bound on the requests in flight protects the process
// (and the Kafka client behind it) from all of them at once. A request over
// either limit is answered 429 with a Retry-After, before its body is read.
//
// Limiter.Wrap and Bearer are middleware: they return an http.Handler in
// front of the one they are given, so that the endpoints themselves know
// nothing of limits or tokens.
package httpguard

import (
	"encoding/json"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Limiter. The zero value limits nothing.
type Config struct {
	// Name labels the metrics (ingest, wallet).
	Name string
	// Rate is the requests per second each client may send on average;
	// 0 means no per-client limit.
	Rate float64
	// Burst is how many requests a client may send at once after being
	// quiet; default: Rate rounded up, at least 1.
	Burst int
	// MaxInFlight bounds the requests being served at once, all clients
	// together; 0 means no bound.
	MaxInFlight int
	// Client names the client of a request; requests with the same name
	// share a bucket. Default: the remote address's IP. Callers that
	// authenticate should name known clients by their credential and
	// the rest by address, so that made-up credentials cannot create
	// buckets without end.
	Client func(*http.Request) string
	// MaxClients bounds the buckets kept; when it is reached, buckets
	// that are full again (idle clients) are dropped, and if none is,
	// new clients share one bucket. Default 10,000.
	MaxClients int
	// Registerer receives the metrics; nil: none.
	Registerer prometheus.Registerer
	// Now is the clock; default time.Now. Tests set it.
	Now func() time.Time
}

// Limiter enforces a Config. It is safe for concurrent use.
type Limiter struct {
	cfg      Config
	inFlight chan struct{}

	mu      sync.Mutex
	buckets map[string]*bucket

	limited     *prometheus.CounterVec
	inFlightNow prometheus.Gauge
}

type bucket struct {
	tokens float64
	last   time.Time
}

// overflow is the bucket new clients share while MaxClients are kept.
const overflow = "\x00overflow"

// New builds a Limiter and registers its metrics:
//
//	accrue_http_limited_total{server,reason}  requests answered 429 (reason: rate, in_flight)
//	accrue_http_in_flight{server}             requests being served
func New(cfg Config) *Limiter {
	if cfg.Burst <= 0 {
		cfg.Burst = max(1, int(math.Ceil(cfg.Rate)))
	}
	if cfg.Client == nil {
		cfg.Client = RemoteIP
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 10_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{cfg: cfg, buckets: map[string]*bucket{}}
	if cfg.MaxInFlight > 0 {
		l.inFlight = make(chan struct{}, cfg.MaxInFlight)
	}
	l.limited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "http", Name: "limited_total",
		Help:        "Requests answered 429 by the flood limits, by reason: rate (one client too fast), in_flight (too many at once).",
		ConstLabels: prometheus.Labels{"server": cfg.Name},
	}, []string{"reason"})
	l.inFlightNow = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "accrue", Subsystem: "http", Name: "in_flight",
		Help:        "Requests being served now.",
		ConstLabels: prometheus.Labels{"server": cfg.Name},
	})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(l.limited, l.inFlightNow)
	}
	return l
}

// Wrap returns next behind the limits.
func (l *Limiter) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wait, ok := l.take(l.cfg.Client(r)); !ok {
			l.limited.WithLabelValues("rate").Inc()
			tooMany(w, wait, "too many requests from this client; retry later")
			return
		}
		if l.inFlight != nil {
			select {
			case l.inFlight <- struct{}{}:
				defer func() { <-l.inFlight }()
			default:
				l.limited.WithLabelValues("in_flight").Inc()
				tooMany(w, time.Second, "the server is busy; retry later")
				return
			}
		}
		l.inFlightNow.Inc()
		defer l.inFlightNow.Dec()
		next.ServeHTTP(w, r)
	})
}

// take spends one token of client's bucket; when there is none it says
// how long until there is.
func (l *Limiter) take(client string) (time.Duration, bool) {
	if l.cfg.Rate <= 0 {
		return 0, true
	}
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[client]
	if !ok {
		if len(l.buckets) >= l.cfg.MaxClients {
			l.sweep(now)
		}
		if len(l.buckets) >= l.cfg.MaxClients {
			client = overflow
			b = l.buckets[overflow]
		}
		if b == nil {
			b = &bucket{tokens: float64(l.cfg.Burst), last: now}
			l.buckets[client] = b
		}
	}
	b.tokens = min(float64(l.cfg.Burst), b.tokens+now.Sub(b.last).Seconds()*l.cfg.Rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / l.cfg.Rate * float64(time.Second)), false
}

// sweep drops the buckets that have filled up again: their clients have
// been quiet long enough that a new bucket is the same. Called with mu.
func (l *Limiter) sweep(now time.Time) {
	full := time.Duration(float64(l.cfg.Burst) / l.cfg.Rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
}

// RemoteIP names a request's client by the IP of its remote address.
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// tooMany answers 429 with Retry-After in whole seconds, at least 1, and
// the JSON error body the sources answer with.
func tooMany(w http.ResponseWriter, wait time.Duration, msg string) {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
