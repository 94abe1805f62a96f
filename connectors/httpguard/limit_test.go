package httpguard

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func ok() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
}

func do(h http.Handler, client string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/v1/sources/crm/events", nil)
	r.RemoteAddr = client + ":40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRatePerClient(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	reg := prometheus.NewRegistry()
	l := New(Config{Name: "ingest", Rate: 2, Burst: 3, Now: c.now, Registerer: reg})
	h := l.Wrap(ok())

	for i := range 3 {
		if w := do(h, "10.0.0.1"); w.Code != http.StatusOK {
			t.Fatalf("request %d of the burst: %d", i+1, w.Code)
		}
	}
	w := do(h, "10.0.0.1")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("past the burst: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	// Another client has a bucket of its own.
	if w := do(h, "10.0.0.2"); w.Code != http.StatusOK {
		t.Fatalf("another client: %d", w.Code)
	}
	// 2 per second: after half a second one more request passes, not two.
	c.advance(500 * time.Millisecond)
	if w := do(h, "10.0.0.1"); w.Code != http.StatusOK {
		t.Fatalf("after a refill: %d", w.Code)
	}
	if w := do(h, "10.0.0.1"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("refill gave more than the rate: %d", w.Code)
	}
	// A long quiet refills to the burst and no further.
	c.advance(time.Hour)
	passed := 0
	for range 10 {
		if do(h, "10.0.0.1").Code == http.StatusOK {
			passed++
		}
	}
	if passed != 3 {
		t.Errorf("after an hour %d requests passed, want the burst of 3", passed)
	}
	if got := testutil.ToFloat64(l.limited.WithLabelValues("rate")); got != 9 {
		t.Errorf("accrue_http_limited_total{reason=rate} = %v, want 9", got)
	}
}

func TestRetryAfterSaysWhen(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	h := New(Config{Rate: 0.1, Burst: 1, Now: c.now}).Wrap(ok())
	do(h, "10.0.0.1")
	if got := do(h, "10.0.0.1").Header().Get("Retry-After"); got != "10" {
		t.Errorf("Retry-After %q at 0.1/s, want 10", got)
	}
	c.advance(4 * time.Second)
	if got := do(h, "10.0.0.1").Header().Get("Retry-After"); got != "6" {
		t.Errorf("Retry-After %q 4s later, want 6", got)
	}
}

func TestInFlight(t *testing.T) {
	reg := prometheus.NewRegistry()
	release := make(chan struct{})
	started := make(chan struct{}, 3)
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		started <- struct{}{}
		<-release
		w.WriteHeader(http.StatusOK)
	})
	l := New(Config{Name: "ingest", MaxInFlight: 2, Registerer: reg})
	h := l.Wrap(slow)
	codes := make(chan int, 2)
	for range 2 {
		go func() { codes <- do(h, "10.0.0.1").Code }()
	}
	<-started
	<-started
	if got := testutil.ToFloat64(l.inFlightNow); got != 2 {
		t.Errorf("accrue_http_in_flight = %v, want 2", got)
	}
	w := do(h, "10.0.0.2")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Errorf("a third request while two are served: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	close(release)
	for range 2 {
		if c := <-codes; c != http.StatusOK {
			t.Errorf("a request within the bound: %d", c)
		}
	}
	if w := do(h, "10.0.0.2"); w.Code != http.StatusOK {
		t.Errorf("after the others finished: %d", w.Code)
	}
	if got := testutil.ToFloat64(l.limited.WithLabelValues("in_flight")); got != 1 {
		t.Errorf("accrue_http_limited_total{reason=in_flight} = %v, want 1", got)
	}
}

// Clients past MaxClients share one bucket, so that a flood from ever new
// addresses cannot grow the map without end; quiet clients make room.
func TestMaxClients(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l := New(Config{Rate: 1, Burst: 1, MaxClients: 2, Now: c.now})
	h := l.Wrap(ok())
	do(h, "10.0.0.1")
	do(h, "10.0.0.2")
	if w := do(h, "10.0.0.3"); w.Code != http.StatusOK {
		t.Fatalf("the first overflow client: %d", w.Code)
	}
	if w := do(h, "10.0.0.4"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("a second overflow client shares the spent bucket: %d", w.Code)
	}
	if len(l.buckets) > 3 {
		t.Errorf("%d buckets kept, want at most MaxClients and the overflow", len(l.buckets))
	}
	c.advance(2 * time.Second)
	if w := do(h, "10.0.0.5"); w.Code != http.StatusOK {
		t.Fatalf("after the others went quiet: %d", w.Code)
	}
	if _, ok := l.buckets["10.0.0.5"]; !ok {
		t.Errorf("quiet buckets were not swept to make room")
	}
}

func TestZeroConfigLimitsNothing(t *testing.T) {
	h := New(Config{}).Wrap(ok())
	for i := range 1000 {
		if w := do(h, "10.0.0.1"); w.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i, w.Code)
		}
	}
}

func TestBearer(t *testing.T) {
	tokens := []string{"token-one-0123456789", "token-two-0123456789"}
	h := Bearer(tokens, ok())
	for _, c := range []struct {
		header string
		want   int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer ", http.StatusUnauthorized},
		{"Bearer token-one-012345678", http.StatusUnauthorized},
		{"Bearer token-one-01234567890", http.StatusUnauthorized},
		{"Basic token-one-0123456789", http.StatusUnauthorized},
		{"bearer token-one-0123456789", http.StatusUnauthorized},
		{"Bearer token-one-0123456789", http.StatusOK},
		{"Bearer token-two-0123456789", http.StatusOK},
	} {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("Authorization %q: %d, want %d", c.header, w.Code, c.want)
		}
		if w.Code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: 401 without WWW-Authenticate", c.header)
		}
	}
	w := httptest.NewRecorder()
	Bearer(nil, ok()).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusUnauthorized {
		t.Errorf("no tokens configured: %d, want 401", w.Code)
	}
	client := ByToken(tokens)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.RemoteAddr = "10.1.2.3:5555"
	r.Header.Set("Authorization", "Bearer token-two-0123456789")
	if got := client(r); got != "token:1" {
		t.Errorf("a known token's client: %q", got)
	}
	r.Header.Set("Authorization", "Bearer made-up-token-000000")
	if got := client(r); got != "ip:10.1.2.3" {
		t.Errorf("an unknown token's client: %q", got)
	}
}
