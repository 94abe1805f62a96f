package httpwallet_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/httpwallet"
)

// printer stands in for a Kafka client: it prints what it is given.
type printer struct{}

func (printer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	fmt.Printf("produced to %s, key %s\n", r.Topic, r.Key)
	promise(r, nil)
}

// The app posts a transfer with its idempotency key; the request is
// produced keyed by rep and answered 202 with its id.
func ExampleNew() {
	h, err := httpwallet.New(httpwallet.Config{Tokens: []string{"app-token-0123456789"}}, printer{})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+httpwallet.Path,
		strings.NewReader(`{"rep_id":"R-17","type":"bank_transfer","amount":"100.00","currency":"EUR"}`))
	req.Header.Set("Authorization", "Bearer app-token-0123456789")
	req.Header.Set("Idempotency-Key", "click-7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.StatusCode, " ", string(body))
	// Output:
	// produced to wallet.redemptions, key R-17
	// 202 {"request_id":"red_c1f84a77eb1e7a4ffc72a571","idempotency_key":"click-7","rep_id":"R-17","status":"pending"}
}
