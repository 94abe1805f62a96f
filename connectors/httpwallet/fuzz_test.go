package httpwallet

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/transforms/wallet"
)

// FuzzRedemption posts arbitrary bodies and idempotency keys to the
// redemption endpoint: it answers JSON with a status it documents, produces
// exactly one request for a 202 (one that the wallet stage's decoder reads
// back, keyed by its rep) and nothing otherwise, and never panics.
func FuzzRedemption(f *testing.F) {
	for _, s := range []struct{ key, body string }{
		{"k1", `{"rep_id":"R-17","type":"bank_transfer","amount":"100.00","currency":"EUR"}`},
		{"k2", `{"rep_id":"R-17","type":"bank_transfer","all":true,"currency":"EUR"}`},
		{"k3", `{"rep_id":"R-17","type":"catalogue","item_id":"spa","face":"80","face_currency":"EUR","currency":"EUR"}`},
		{"k4", `{"rep_id":"R-17","type":"bank_transfer","amount":"1e400","currency":"EUR"}`},
		{"k5", `{"rep_id":"R-17","rep_id":"R-18","type":"bank_transfer","amount":"1","currency":"EUR"}`},
		{"", `{}`}, {"k 6", "\xff"}, {"k7", strings.Repeat("[", 600)},
	} {
		f.Add(s.key, s.body)
	}
	f.Fuzz(func(t *testing.T, key, body string) {
		prod := &fakeProducer{}
		h, err := New(Config{Tokens: []string{token}, Topic: "redemptions", MaxBodyBytes: 512,
			Now: func() time.Time { return time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) }}, prod)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, Path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set(HeaderIdempotencyKey, key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var answer map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
			t.Fatalf("status %d, answer is not JSON: %v\n%s", w.Code, err, w.Body.Bytes())
		}
		switch w.Code {
		case http.StatusAccepted:
			if len(prod.recs) != 1 {
				t.Fatalf("202 with %d records produced", len(prod.recs))
			}
			r := prod.recs[0]
			in, err := wallet.DecodeRequest(r.Value)
			if err != nil {
				t.Fatalf("202, but the stage cannot read %s: %v", r.Value, err)
			}
			if in.RepID != string(r.Key) {
				t.Fatalf("request of %s keyed %s", in.RepID, r.Key)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
			if len(prod.recs) != 0 || answer["error"] == nil {
				t.Fatalf("status %d: %d records produced, answer %v", w.Code, len(prod.recs), answer)
			}
		default:
			t.Fatalf("status %d is not one the endpoint documents: %s", w.Code, w.Body.Bytes())
		}
	})
}
