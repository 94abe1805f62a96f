package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestSignAndVerify(t *testing.T) {
	now := time.Unix(1_764_000_000, 0)
	body := []byte(`{"idempotency_key":"k","amount":"25.00"}`)
	secret, old, other := []byte("whsec-0123456789abcdef"), []byte("whsec-old-0123456789"), []byte("whsec-other-01234567")
	h := Sign(now, body, secret)
	// The scheme, computed here without the package: t=<unix>,v1=hex(HMAC(secret, "<unix>.<body>")).
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%d.%s", now.Unix(), body)
	if want := fmt.Sprintf("t=%d,v1=%s", now.Unix(), hex.EncodeToString(m.Sum(nil))); h != want {
		t.Fatalf("Sign = %s, want %s", h, want)
	}
	rotating := Sign(now, body, secret, old)
	for _, tc := range []struct {
		name    string
		header  string
		body    []byte
		now     time.Time
		secrets [][]byte
		want    error
	}{
		{"good", h, body, now, [][]byte{secret}, nil},
		{"receiver has two secrets", h, body, now, [][]byte{other, secret}, nil},
		{"rotating: old secret", rotating, body, now, [][]byte{old}, nil},
		{"rotating: new secret", rotating, body, now, [][]byte{secret}, nil},
		{"within tolerance", h, body, now.Add(4 * time.Minute), [][]byte{secret}, nil},
		{"tampered body", h, []byte(`{"idempotency_key":"k","amount":"2500.00"}`), now, [][]byte{secret}, ErrBadSignature},
		{"wrong secret", h, body, now, [][]byte{other}, ErrBadSignature},
		{"too old", h, body, now.Add(6 * time.Minute), [][]byte{secret}, ErrTimestamp},
		{"from the future", h, body, now.Add(-6 * time.Minute), [][]byte{secret}, ErrTimestamp},
		{"timestamp changed", fmt.Sprintf("t=%d,%s", now.Unix()+1, h[len("t=1764000000,"):]), body, now, [][]byte{secret}, ErrBadSignature},
		{"no v1", fmt.Sprintf("t=%d", now.Unix()), body, now, [][]byte{secret}, ErrNoSignature},
		{"empty", "", body, now, [][]byte{secret}, ErrNoSignature},
		{"garbage", "v1=zz,t=x", body, now, [][]byte{secret}, ErrNoSignature},
	} {
		if err := Verify(tc.header, tc.body, tc.now, 0, tc.secrets...); !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("t=1764000000,v1=00", []byte("{}"))
	f.Add(Sign(time.Unix(1_764_000_000, 0), []byte("{}"), []byte("whsec-0123456789abcdef")), []byte("{}"))
	tsRE := regexp.MustCompile(`t=([0-9]+)`)
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		secret := []byte("whsec-0123456789abcdef")
		if Verify(header, body, time.Unix(1_764_000_000, 0), 0, secret) != nil {
			return
		}
		// Accepted: the header must hold the true signature of its timestamp.
		for _, m := range tsRE.FindAllStringSubmatch(header, -1) {
			if strings.Contains(header, "v1="+hex.EncodeToString(mac(secret, m[1], body))) {
				return
			}
		}
		t.Fatalf("Verify accepted %q for %q", header, body)
	})
}

// A receiver checks each request with Verify before it reads the event.
func ExampleVerify() {
	secret := []byte("whsec-0123456789abcdef") // shared with the sink, from a secret store
	body := []byte(`{"idempotency_key":"erp:SO-1:sale/R-17#ae/2026-11/R-17","amount":"25.00"}`)
	sent := time.Unix(1_764_000_000, 0)
	header := Sign(sent, body, secret) // what the sink puts in Accrue-Signature

	fmt.Println(Verify(header, body, sent.Add(30*time.Second), DefaultTolerance, secret))
	fmt.Println(Verify(header, []byte(`{"amount":"99999.00"}`), sent, DefaultTolerance, secret))
	// Output:
	// <nil>
	// webhook: no signature matches
}
