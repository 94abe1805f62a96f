package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// accrue serve as a process: its endpoints refuse requests without a valid
// token (/metrics with its own tokens), /healthz answers anyone, and a
// client past its rate is answered 429 with a Retry-After, counted in
// /metrics. No request reaches Kafka, so none is needed.
func TestServeGuards(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const ingestToken, metricsToken = "ingest-token-0123456789", "metrics-token-0123456789"
	t.Setenv("ACCRUE_INGEST_TOKENS", ingestToken)
	t.Setenv("ACCRUE_METRICS_TOKENS", metricsToken)
	addr := pt.FreeAddr(t)
	p := pt.StartProc(t, pt.AccrueBinary(t), t.TempDir(), "serve", "--brokers", "127.0.0.1:1", "serve", "--addr", addr,
		"--source", "sales.raw.crm=../../connectors/examples/crm-opportunities.yaml", "--rate", "0.2", "--burst", "3")
	base := "http://" + addr
	pt.WaitFor(t, 30*time.Second, "accrue serve listening", func() bool {
		if !p.Alive() {
			p.Died()
		}
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})

	call := func(method, path, token string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(`{"opportunity":{"id":"o-1"}}`))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	const events = "/v1/sources/nowhere/events" // an unknown source: 404 once let through
	for _, c := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/healthz", "", http.StatusOK},
		{"GET", "/metrics", "", http.StatusUnauthorized},
		{"GET", "/metrics", "wrong-token-0123456789", http.StatusUnauthorized},
		{"GET", "/metrics", ingestToken, http.StatusUnauthorized},
		{"POST", events, "", http.StatusUnauthorized},
		{"POST", events, "wrong-token-0123456789", http.StatusUnauthorized},
		{"POST", events, metricsToken, http.StatusUnauthorized},
	} {
		if resp, body := call(c.method, c.path, c.token); resp.StatusCode != c.want {
			t.Errorf("%s %s with token %q: %d, want %d\n%s", c.method, c.path, c.token, resp.StatusCode, c.want, body)
		}
	}

	// The ingest token's client has a burst of 3, then one request every
	// five seconds.
	for i := range 3 {
		if resp, body := call("POST", events, ingestToken); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("request %d within the burst: %d\n%s", i+1, resp.StatusCode, body)
		}
	}
	resp, body := call("POST", events, ingestToken)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(body, "too many requests") {
		t.Fatalf("past the burst: %d, Retry-After %q\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, metrics := call("GET", "/metrics", metricsToken)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics with its token: %d", resp.StatusCode)
	}
	if !strings.Contains(metrics, `accrue_http_limited_total{reason="rate",server="ingest"} 1`) {
		t.Errorf("/metrics does not count the refused request:\n%s", grepLines(metrics, "accrue_http_"))
	}
	noSecrets(t, map[string]string{"/metrics": metrics}, ingestToken, metricsToken)
	p.Stop()
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
