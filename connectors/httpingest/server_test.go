package httpingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

const token = "test-token-0123456789"

// ndjson is a splitter for tests: one JSON object a line, txn_id required.
func ndjson(body []byte, visit func(Record)) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("empty body")
	}
	for i, line := range bytes.Split(body, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			visit(Record{Raw: line, Line: i + 1, Reject: pipeline.Rejectf("malformed_json", "", "%v", err)})
			continue
		}
		id, _ := m["txn_id"].(string)
		if id == "" {
			visit(Record{Raw: line, Line: i + 1, Reject: pipeline.Rejectf("missing_field", "txn_id", "required")})
			continue
		}
		visit(Record{Raw: line, Line: i + 1, Key: "crm:" + id})
	}
	return nil
}

func newTestServer(t *testing.T, brokers []string, maxBody int64) (*httptest.Server, *kgo.Client) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordDeliveryTimeout(time.Second),
		kgo.RequestTimeoutOverhead(500*time.Millisecond), kgo.RecordRetries(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	s, err := New(Config{Tokens: []string{token}, MaxBodyBytes: maxBody, ProduceTimeout: 2 * time.Second},
		cl, Source{Name: "crm", Topic: "raw.crm", Split: ndjson})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, cl
}

func post(t *testing.T, url, tok, body string) (int, Response, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r Response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("response is not JSON: %v", err)
	}
	return resp.StatusCode, r, resp.Header
}

func TestIngestOverHTTP(t *testing.T) {
	_, brokers := pt.Fake(t)
	pt.CreateTopics(t, brokers, 3, []string{"raw.crm", "sales.rejected"})
	srv, _ := newTestServer(t, brokers, 1024)
	url := srv.URL + "/v1/sources/crm/events"

	if code, r, h := post(t, url, "", `{"txn_id":"1"}`); code != 401 || r.Error == "" || h.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d %+v", code, r)
	}
	if code, _, _ := post(t, url, "wrong-token-0123456789", `{"txn_id":"1"}`); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	if code, r, _ := post(t, srv.URL+"/v1/sources/erp/events", token, `{"txn_id":"1"}`); code != 404 || !strings.Contains(r.Error, "erp") {
		t.Errorf("unknown source: %d %+v", code, r)
	}
	if code, r, _ := post(t, url, token, strings.Repeat("x", 2000)); code != 413 || !strings.Contains(r.Error, "1024") {
		t.Errorf("oversize: %d %+v", code, r)
	}
	if code, r, _ := post(t, url, token, "   "); code != 400 || r.Error == "" {
		t.Errorf("unreadable body: %d %+v", code, r)
	}

	code, r, _ := post(t, url, token, "{\"txn_id\":\"1\"}\n{\"txn_id\":\"2\"}\n")
	if code != 200 || r.Accepted != 2 || r.Rejected != 0 {
		t.Errorf("good body: %d %+v", code, r)
	}
	code, r, _ = post(t, url, token, "{\"txn_id\":\"3\"}\n{broken\n{\"amount\":\"1\"}\n")
	if code != 422 || r.Accepted != 1 || r.Rejected != 2 || len(r.Errors) != 2 {
		t.Fatalf("mixed body: %d %+v", code, r)
	}
	if e := r.Errors[0]; e.Line != 2 || e.Reason != "malformed_json" {
		t.Errorf("first error %+v, want line 2 malformed_json", e)
	}
	if e := r.Errors[1]; e.Line != 3 || e.Reason != "missing_field" || e.Field != "txn_id" {
		t.Errorf("second error %+v, want line 3 missing_field txn_id", e)
	}

	raw := pt.ReadAll(t, brokers, "raw.crm")
	if len(raw) != 3 {
		t.Fatalf("%d records on raw.crm, want 3", len(raw))
	}
	for _, rec := range raw {
		if !strings.HasPrefix(string(rec.Key), "crm:") {
			t.Errorf("raw record keyed %q", rec.Key)
		}
	}
	dl := pt.ReadAll(t, brokers, "sales.rejected")
	if len(dl) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dl))
	}
	if line, _ := pipeline.Header(dl[0], HeaderSourceLine); line != "2" && line != "3" {
		t.Errorf("dead letter line header %q", line)
	}
}

func TestIngestAnswers429WhenKafkaIsDown(t *testing.T) {
	c, brokers := pt.Fake(t)
	pt.CreateTopics(t, brokers, 1, []string{"raw.crm", "sales.rejected"})
	srv, _ := newTestServer(t, brokers, 1024)
	url := srv.URL + "/v1/sources/crm/events"
	if code, _, _ := post(t, url, token, `{"txn_id":"1"}`); code != 200 {
		t.Fatalf("before the outage: %d", code)
	}
	c.Close()
	start := time.Now()
	code, r, h := post(t, url, token, `{"txn_id":"2"}`)
	if code != 429 || h.Get("Retry-After") == "" || r.Error == "" {
		t.Fatalf("broker down: %d %+v Retry-After=%q", code, r, h.Get("Retry-After"))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("429 took %v", d)
	}
}

func TestNewRefusesWeakConfig(t *testing.T) {
	if _, err := New(Config{}, nil); err == nil {
		t.Error("no token accepted")
	}
	if _, err := New(Config{Tokens: []string{"short"}}, nil); err == nil {
		t.Error("short token accepted")
	}
}
