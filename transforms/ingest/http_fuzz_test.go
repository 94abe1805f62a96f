package ingest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/httpingest"
	"github.com/accrue/accrue/connectors/mapping"
	"github.com/accrue/accrue/transforms/ingest"
	"github.com/accrue/accrue/transforms/sanitize"
)

// takeAll is a producer that takes every record at once.
type takeAll struct {
	mu   sync.Mutex
	recs []*kgo.Record
}

func (p *takeAll) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	p.mu.Lock()
	p.recs = append(p.recs, r)
	p.mu.Unlock()
	promise(r, nil)
}

// FuzzHTTPIngest posts arbitrary bodies to the ingest endpoint with the CRM
// example's mapping and gatekeepers: whatever the body, the server answers
// JSON with a status it documents, and every record it reports is on
// Kafka, accepted on the raw topic or rejected, with its reason, on the
// dead-letter topic. Nothing is lost and nothing panics.
func FuzzHTTPIngest(f *testing.F) {
	cfg, err := mapping.Load("../../connectors/examples/crm-opportunities.yaml")
	if err != nil {
		f.Fatal(err)
	}
	m, err := mapping.New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	gcfg, err := sanitize.ParseConfig([]byte("defaults:\n  amount: {max: \"5000\"}\n"))
	if err != nil {
		f.Fatal(err)
	}
	pl := &ingest.Pipeline{Mapper: m, Gate: sanitize.MustCompile(gcfg)}
	now := func() time.Time { return time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC) }
	good := `{"opportunity":{"id":"O-1"},"stage":"closed_won","closed_at":"2026-11-02T10:00:00Z","owner":{"employee_id":"E-1"},"amount":"100.00","currency":"USD"}`
	for _, seed := range []string{
		good, good + "\n" + good, "[" + good + "," + good + "]", `{"opportunity":`, "", "\xff\xfe",
		strings.Replace(good, `"100.00"`, `"1e400"`, 1), strings.Replace(good, `"100.00"`, `"NaN"`, 1),
		strings.Replace(good, `"USD"`, `"usd"`, 1), strings.Repeat("[", 10000), `{"a":1,"a":2}`,
		strings.Replace(good, `"2026-11-02T10:00:00Z"`, `"2026-11-02T25:00:00+14:00"`, 1),
	} {
		f.Add(seed)
	}
	const maxBody = 64 << 10
	f.Fuzz(func(t *testing.T, body string) {
		prod := &takeAll{}
		s, err := httpingest.New(httpingest.Config{Tokens: []string{"fuzz-token-0123456789"}, MaxBodyBytes: maxBody,
			ProduceTimeout: time.Second, DeadLetter: "sales.rejected"}, prod,
			httpingest.Source{Name: "crm-na", Topic: "raw.crm", Split: pl.HTTPSplit(now)})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/sources/crm-na/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer fuzz-token-0123456789")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		var r httpingest.Response
		if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
			t.Fatalf("status %d, answer is not JSON: %v\n%s", w.Code, err, w.Body.Bytes())
		}
		raw, dead := 0, 0
		for _, rec := range prod.recs {
			switch rec.Topic {
			case "raw.crm":
				raw++
			case "sales.rejected":
				dead++
			default:
				t.Fatalf("a record on %s", rec.Topic)
			}
		}
		switch w.Code {
		case http.StatusOK, http.StatusUnprocessableEntity:
			if r.Accepted != raw || r.Rejected != dead || len(r.Errors) != r.Rejected {
				t.Fatalf("status %d says %d accepted, %d rejected (%d errors); Kafka got %d and %d dead letters",
					w.Code, r.Accepted, r.Rejected, len(r.Errors), raw, dead)
			}
			if (w.Code == http.StatusOK) != (r.Rejected == 0) {
				t.Fatalf("status %d with %d rejected", w.Code, r.Rejected)
			}
			for _, e := range r.Errors {
				if e.Reason == "" {
					t.Fatalf("a rejected record without its reason: %+v", e)
				}
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if r.Error == "" || len(prod.recs) != 0 {
				t.Fatalf("status %d: error %q, %d records produced", w.Code, r.Error, len(prod.recs))
			}
		default:
			t.Fatalf("status %d is not one the endpoint documents: %s", w.Code, w.Body.Bytes())
		}
	})
}
