package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Header names of a webhook request.
const (
	HeaderSignature      = "Accrue-Signature"
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderTopic          = "Accrue-Topic"
	HeaderEventCount     = "Accrue-Event-Count"
)

// DefaultTolerance is how far from the receiver's clock Verify accepts a
// signature's timestamp.
const DefaultTolerance = 5 * time.Minute

// Sign returns the Accrue-Signature value for body sent at t: the
// timestamp and one v1 signature per secret, each the hex HMAC-SHA256 of
// "<unix seconds>.<body>".
func Sign(t time.Time, body []byte, secrets ...[]byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(ts)
	for _, s := range secrets {
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(mac(s, ts, body)))
	}
	return b.String()
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrNoSignature  = errors.New("webhook: no valid signature header")
	ErrBadSignature = errors.New("webhook: no signature matches")
	ErrTimestamp    = errors.New("webhook: signature timestamp outside the tolerance")
)

// Verify checks an Accrue-Signature header against the raw body, for a
// receiver: some v1 signature must match one of secrets (compared in
// constant time) and the timestamp must be within tolerance of now
// (DefaultTolerance when zero), which limits replays of a captured request.
func Verify(header string, body []byte, now time.Time, tolerance time.Duration, secrets ...[]byte) error {
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if s, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, s)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	for _, secret := range secrets {
		want := mac(secret, ts, body)
		for _, s := range sigs {
			if hmac.Equal(s, want) {
				return nil
			}
		}
	}
	return ErrBadSignature
}
