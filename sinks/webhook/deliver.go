package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fastjson"

	"github.com/accrue/accrue/pipeline"
)

// Dead-letter reasons of the sink.
const (
	ReasonRefused     = "receiver_refused" // the receiver answered a status that is not retried
	ReasonInvalidJSON = "invalid_json"     // the record is not JSON: never sent
	ReasonGaveUp      = "gave_up"          // MaxAttempts retryable failures
)

// event is one record ready to send.
type event struct {
	rec *kgo.Record
	key string
}

// deliverPartition sends recs, one partition's records in offset order, in
// batches of BatchSize, and marks each batch done with c once it is
// acknowledged or dead-lettered. It returns an error when a dead letter
// could not be produced; it stops early, without error, when ctx ends.
func (s *Sink) deliverPartition(ctx context.Context, c *committer, recs []*kgo.Record) error {
	var p fastjson.Parser
	for start := 0; start < len(recs); start += s.cfg.BatchSize {
		chunk := recs[start:min(start+s.cfg.BatchSize, len(recs))]
		var evs []event
		var dead []*kgo.Record
		for _, r := range chunk {
			v, err := p.ParseBytes(r.Value)
			if err != nil {
				// The parser's message quotes the record: not repeated.
				dead = append(dead, s.deadLetter(r, ReasonInvalidJSON, "the record is not JSON"))
				continue
			}
			key := string(v.GetStringBytes("idempotency_key"))
			if key == "" {
				key = fmt.Sprintf("%s/%d/%d", r.Topic, r.Partition, r.Offset)
			}
			evs = append(evs, event{r, key})
		}
		if len(evs) > 0 {
			out := s.send(ctx, evs)
			switch {
			case out.err != nil: // ctx ended
				return nil
			case out.reason != "":
				for _, e := range evs {
					dead = append(dead, s.deadLetter(e.rec, out.reason, out.message))
				}
			default:
				s.cfg.Metrics.event(s.cfg.Name, chunk[0].Topic, "delivered", len(evs))
			}
		}
		if len(dead) > 0 {
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			err := c.cl.ProduceSync(pctx, dead...).FirstErr()
			cancel()
			if err != nil {
				return fmt.Errorf("webhook: produce dead letters to %s: %w", s.cfg.DeadLetter, err)
			}
			for _, d := range dead {
				reason, _ := pipeline.Header(d, pipeline.HeaderReason)
				s.cfg.Metrics.deadLetter(s.cfg.Name, reason, 1)
				s.cfg.Metrics.event(s.cfg.Name, chunk[0].Topic, "dead_lettered", 1)
			}
		}
		c.done(ctx, chunk[len(chunk)-1])
	}
	return nil
}

func (s *Sink) deadLetter(r *kgo.Record, reason, msg string) *kgo.Record {
	s.log.Warn("event dead-lettered", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset,
		"reason", reason, "dead_letter", s.cfg.DeadLetter)
	return pipeline.NewDeadLetter(s.cfg.DeadLetter, "webhook "+s.cfg.Name, r,
		pipeline.Rejectf(reason, "", "%s", msg), s.cfg.Now())
}

// body returns the request body and idempotency key of evs: the event
// itself when it is alone, else the envelope, keyed by a hash of the
// events' keys.
func body(evs []event) ([]byte, string) {
	if len(evs) == 1 {
		return evs[0].rec.Value, evs[0].key
	}
	h := sha256.New()
	b := []byte(`{"events":[`)
	for i, e := range evs {
		if i > 0 {
			b = append(b, ',')
		}
		t, _ := json.Marshal(e.rec.Topic)
		k, _ := json.Marshal(e.key)
		b = append(append(append(b, `{"topic":`...), t...), `,"idempotency_key":`...)
		b = append(append(append(b, k...), `,"data":`...), e.rec.Value...)
		b = append(b, '}')
		h.Write([]byte(e.key))
		h.Write([]byte{'\n'})
	}
	return append(b, "]}"...), "batch-" + hex.EncodeToString(h.Sum(nil))[:32]
}

// outcome is how a send ended: acknowledged (all empty), refused or given
// up (reason and message), or stopped by ctx (err).
type outcome struct {
	reason, message string
	err             error
}

// send POSTs evs until the receiver acknowledges or refuses them, the
// attempts run out, or ctx ends.
func (s *Sink) send(ctx context.Context, evs []event) outcome {
	payload, key := body(evs)
	defer func() {
		s.failing.Store(false)
		s.cfg.Metrics.setRetrying(s.cfg.Name, false)
	}()
	for attempt := 1; ; attempt++ {
		code, retryAfter, err := s.post(ctx, payload, key, evs)
		if ctx.Err() != nil {
			return outcome{err: ctx.Err()}
		}
		var cause string
		switch {
		case err != nil:
			cause = "connection"
			var ne net.Error
			if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
				cause = "timeout"
			}
		case code >= 200 && code < 300:
			s.cfg.Metrics.ack(s.cfg.Name, float64(time.Now().UnixNano())/1e9)
			return outcome{}
		case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests:
			cause = "status_" + strconv.Itoa(code)
		case code >= 500:
			cause = "status_5xx"
		default:
			return outcome{reason: ReasonRefused,
				message: fmt.Sprintf("POST %s answered %d %s", s.where, code, http.StatusText(code))}
		}
		if s.cfg.MaxAttempts > 0 && attempt >= s.cfg.MaxAttempts {
			return outcome{reason: ReasonGaveUp,
				message: fmt.Sprintf("POST %s failed %d times, the last by %s", s.where, attempt, cause)}
		}
		s.cfg.Metrics.retry(s.cfg.Name, cause)
		s.failing.Store(true)
		s.cfg.Metrics.setRetrying(s.cfg.Name, true)
		wait := s.backoff(attempt, retryAfter)
		s.log.Warn("webhook request failed; retrying", "idempotency_key", key, "events", len(evs), "attempt", attempt,
			"cause", cause, "status", code, "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return outcome{err: ctx.Err()}
		case <-t.C:
		}
	}
}

// backoff is the wait after the attempt-th failure: MinBackoff doubled
// per attempt up to MaxBackoff, the upper half drawn at random (so that
// many sinks do not retry in step), or the receiver's Retry-After when
// longer, up to MaxBackoff.
func (s *Sink) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := s.cfg.MaxBackoff
	if attempt < 32 {
		d = min(s.cfg.MinBackoff<<(attempt-1), s.cfg.MaxBackoff)
	}
	wait := d/2 + rand.N(d/2+1)
	if retryAfter > wait {
		wait = min(retryAfter, s.cfg.MaxBackoff)
	}
	return wait
}

// post makes one attempt: the status (0 without an answer), the
// Retry-After it asked for, or the transport error.
func (s *Sink) post(ctx context.Context, payload []byte, key string, evs []event) (int, time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, s.cfg.URL, bytes.NewReader(payload))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "accrue-webhook")
	req.Header.Set(HeaderIdempotencyKey, key)
	req.Header.Set(HeaderEventCount, strconv.Itoa(len(evs)))
	if len(evs) == 1 {
		req.Header.Set(HeaderTopic, evs[0].rec.Topic)
	}
	req.Header.Set(HeaderSignature, Sign(s.cfg.Now(), payload, s.cfg.Secrets...))
	start := time.Now()
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		s.cfg.Metrics.request(s.cfg.Name, 0, time.Since(start).Seconds())
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, whose query may hold a token
		}
		return 0, 0, err
	}
	// Drain a little so the connection can be reused; the answer's body
	// is never logged (a receiver may echo what it got).
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	s.cfg.Metrics.request(s.cfg.Name, resp.StatusCode, time.Since(start).Seconds())
	return resp.StatusCode, retryAfterOf(resp.Header.Get("Retry-After"), time.Now()), nil
}

// retryAfterOf reads a Retry-After value: seconds or an HTTP date.
func retryAfterOf(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
