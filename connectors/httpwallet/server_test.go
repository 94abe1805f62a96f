package httpwallet

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/transforms/wallet"
)

const token = "0123456789abcdef-token"

// fakeProducer keeps what it is given; err fails every record.
type fakeProducer struct {
	mu   sync.Mutex
	recs []*kgo.Record
	err  error
}

func (f *fakeProducer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	f.mu.Lock()
	if f.err == nil {
		f.recs = append(f.recs, r)
	}
	err := f.err
	f.mu.Unlock()
	promise(r, err)
}

func newServer(t *testing.T, prod Producer) *httptest.Server {
	t.Helper()
	h, err := New(Config{Tokens: []string{"another-token-of-16", token}, Topic: "redemptions", MaxBodyBytes: 512,
		Now: func() time.Time { return time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) }}, prod)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h) // a real socket
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, auth, key, ctype, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if key != "" {
		req.Header.Set(HeaderIdempotencyKey, key)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("status %d: body %q is not JSON", resp.StatusCode, b)
	}
	return resp.StatusCode, resp.Header, m
}

func TestServerAnswers(t *testing.T) {
	prod := &fakeProducer{}
	srv := newServer(t, prod)
	url := srv.URL + Path
	bearer := "Bearer " + token
	good := `{"rep_id":"R-17","type":"bank_transfer","amount":"100.00","currency":"EUR"}`
	for _, c := range []struct {
		name                string
		path, auth, key, ct string
		body                string
		status              int
		field, reason       string
	}{
		{name: "no token", auth: "", key: "k1", body: good, status: 401},
		{name: "wrong token", auth: "Bearer 0123456789abcdef-tokeX", key: "k1", body: good, status: 401},
		{name: "basic auth", auth: "Basic " + token, key: "k1", body: good, status: 401},
		{name: "other path", path: "/v1/redemption", auth: bearer, key: "k1", body: good, status: 404},
		{name: "too large", auth: bearer, key: "k1", body: `{"rep_id":"` + strings.Repeat("R", 600) + `"}`, status: 413},
		{name: "not json type", auth: bearer, key: "k1", ct: "text/csv", body: good, status: 415},
		{name: "not json", auth: bearer, key: "k1", body: `rep_id=R-17`, status: 400},
		{name: "two objects", auth: bearer, key: "k1", body: good + good, status: 400},
		{name: "no key", auth: bearer, body: good, status: 422, field: HeaderIdempotencyKey, reason: "missing"},
		{name: "key with space", auth: bearer, key: "k 1", body: good, status: 422, field: HeaderIdempotencyKey, reason: "invalid_input"},
		{name: "no rep", auth: bearer, key: "k1", body: `{"type":"bank_transfer","amount":"1.00","currency":"EUR"}`, status: 422, field: "rep_id", reason: "invalid_input"},
		{name: "unknown field", auth: bearer, key: "k1", body: `{"rep_id":"R-17","type":"bank_transfer","amount":"1.00","currency":"EUR","country":"DE"}`, status: 422, field: "country", reason: "unknown_field"},
		{name: "amount type", auth: bearer, key: "k1", body: `{"rep_id":"R-17","type":"bank_transfer","amount":"ten","currency":"EUR"}`, status: 422, field: "amount", reason: "invalid_amount"},
		{name: "all is text", auth: bearer, key: "k1", body: `{"rep_id":"R-17","type":"bank_transfer","all":"yes","currency":"EUR"}`, status: 422, field: "all", reason: "invalid_type"},
		{name: "negative", auth: bearer, key: "k1", body: `{"rep_id":"R-17","type":"bank_transfer","amount":"-5","currency":"EUR"}`, status: 422, field: "amount", reason: "invalid_amount"},
		{name: "sub-cent", auth: bearer, key: "k1", body: `{"rep_id":"R-17","type":"bank_transfer","amount":"5.001","currency":"EUR"}`, status: 422, field: "amount", reason: "invalid_amount"},
		{name: "amount and all", auth: bearer, key: "k1", body: `{"rep_id":"R-17","type":"bank_transfer","amount":"5","all":true,"currency":"EUR"}`, status: 422, field: "amount", reason: "invalid_amount"},
		{name: "no currency", auth: bearer, key: "k1", body: `{"rep_id":"R-17","type":"bank_transfer","amount":"5"}`, status: 422, field: "currency", reason: "invalid_input"},
		{name: "bad currency", auth: bearer, key: "k1", body: `{"rep_id":"R-17","type":"bank_transfer","amount":"5","currency":"EURO"}`, status: 422, field: "currency", reason: "invalid_input"},
		{name: "bad type", auth: bearer, key: "k1", body: `{"rep_id":"R-17","type":"cash","amount":"5","currency":"EUR"}`, status: 422, field: "type", reason: "invalid_input"},
		{name: "catalogue without face", auth: bearer, key: "k1", body: `{"rep_id":"R-17","type":"catalogue","item_id":"spa","face_currency":"EUR","currency":"EUR"}`, status: 422, field: "face", reason: "invalid_input"},
		{name: "catalogue with amount", auth: bearer, key: "k1", body: `{"rep_id":"R-17","type":"catalogue","item_id":"spa","amount":"3","face":"80","face_currency":"EUR","currency":"EUR"}`, status: 422, field: "amount", reason: "invalid_input"},
	} {
		path := c.path
		if path == "" {
			path = Path
		}
		status, h, body := post(t, srv.URL+path, c.auth, c.key, c.ct, c.body)
		if status != c.status {
			t.Errorf("%s: status %d, want %d (%v)", c.name, status, c.status, body)
			continue
		}
		if status == 401 && h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", c.name)
		}
		if body["error"] == nil || body["error"] == "" {
			t.Errorf("%s: no error message: %v", c.name, body)
		}
		if c.field != "" && (body["field"] != c.field || body["reason"] != c.reason) {
			t.Errorf("%s: field %v reason %v, want %s %s", c.name, body["field"], body["reason"], c.field, c.reason)
		}
	}
	if len(prod.recs) != 0 {
		t.Fatalf("refused requests were produced: %d", len(prod.recs))
	}

	// GET is not allowed.
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d Allow %q, want 405 POST", resp.StatusCode, resp.Header.Get("Allow"))
	}

	// Accepted, twice with the same key: the same request id, and both
	// produced (the wallet pays the key once).
	for range 2 {
		status, _, body := post(t, url, bearer, "click-7", "application/json; charset=utf-8", good)
		if status != 202 || body["request_id"] != RequestID("R-17", "click-7") || body["status"] != "pending" ||
			body["idempotency_key"] != "click-7" || body["rep_id"] != "R-17" {
			t.Fatalf("accepted: %d %v", status, body)
		}
	}
	if len(prod.recs) != 2 {
		t.Fatalf("%d records produced, want 2", len(prod.recs))
	}
	r := prod.recs[0]
	if r.Topic != "redemptions" || string(r.Key) != "R-17" {
		t.Fatalf("record to %s keyed %s, want redemptions keyed R-17", r.Topic, r.Key)
	}
	got, err := wallet.DecodeRequest(r.Value)
	if err != nil {
		t.Fatalf("the stage cannot read the produced request %s: %v", r.Value, err)
	}
	if got.IdempotencyKey != "click-7" || got.Amount.String() != "100" || got.RequestID != RequestID("R-17", "click-7") ||
		!got.RequestedAt.Equal(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("produced %s", r.Value)
	}

	// Kafka down: 429 with Retry-After.
	prod.err = errors.New("broker unreachable")
	status, h, body := post(t, url, bearer, "click-8", "", good)
	if status != 429 || h.Get("Retry-After") != "5" {
		t.Fatalf("Kafka down: %d Retry-After %q %v", status, h.Get("Retry-After"), body)
	}
}

func TestNewRefusesShortTokens(t *testing.T) {
	if _, err := New(Config{Tokens: []string{"short"}}, &fakeProducer{}); err == nil {
		t.Fatal("a short token was accepted")
	}
	if _, err := New(Config{}, &fakeProducer{}); err == nil {
		t.Fatal("no token was accepted")
	}
}

func TestServerOutcomes(t *testing.T) {
	store := NewOutcomes(nil, "outcomes", nil)
	accepted := `{"idempotency_key":"click-7","rep_id":"R-17","type":"bank_transfer","status":"accepted","amount":"100.00"}`
	paid := `{"idempotency_key":"click-7","rep_id":"R-17","type":"bank_transfer","status":"paid","amount":"100.00"}`
	conflict := `{"idempotency_key":"click-7","rep_id":"R-17","type":"bank_transfer","status":"refused","reason":"idempotency_conflict"}`
	for _, v := range []string{accepted, paid, conflict, `not json`} {
		store.Apply(&kgo.Record{Value: []byte(v)})
	}
	h, err := New(Config{Tokens: []string{token}, Outcomes: store}, &fakeProducer{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(method, path, auth string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	id := RequestID("R-17", "click-7")
	if status, body := get(http.MethodGet, Path+"/"+id, "Bearer "+token); status != 200 || body != paid {
		t.Fatalf("GET: %d %s, want the latest outcome %s", status, body, paid)
	}
	for _, c := range []struct {
		method, path, auth string
		status             int
	}{
		{http.MethodGet, Path + "/" + id, "", 401},
		{http.MethodGet, Path + "/" + RequestID("R-17", "click-8"), "Bearer " + token, 404},
		{http.MethodPost, Path + "/" + id, "Bearer " + token, 405},
		{http.MethodGet, Path + "/" + id + "/x", "Bearer " + token, 404},
	} {
		if status, body := get(c.method, c.path, c.auth); status != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, status, body, c.status)
		}
	}
	h2, _ := New(Config{Tokens: []string{token}}, &fakeProducer{})
	srv2 := httptest.NewServer(h2)
	defer srv2.Close()
	req, _ := http.NewRequest(http.MethodGet, srv2.URL+Path+"/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET without a store: %d, want 404", resp.StatusCode)
	}
}
