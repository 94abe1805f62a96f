package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

var testSecret = []byte("whsec-test-0123456789abcdef")

// answer is what the receiver answers to the attempt-th request with an
// idempotency key: a status after a delay, and a Retry-After.
type answer struct {
	status     int
	delay      time.Duration
	retryAfter string
	// ackFirst takes the events as acknowledged before the delay, as a
	// receiver that applied them and then could not answer in time.
	ackFirst bool
}

// receiver is a webhook receiver on a real socket that checks every
// request's signature itself (no help from the package), answers by plan,
// and remembers what it acknowledged per event key.
type receiver struct {
	t    *testing.T
	plan func(key string, attempt int) answer
	srv  *httptest.Server

	mu        sync.Mutex
	attempts  map[string]int    // by Idempotency-Key
	acked     map[string][]byte // event key → body of the event
	ackCount  map[string]int    // event key → acknowledgements
	problems  []string
	requests  int
	batchSeen bool
}

func newReceiver(t *testing.T, plan func(key string, attempt int) answer) *receiver {
	rv := &receiver{t: t, plan: plan, attempts: map[string]int{}, acked: map[string][]byte{}, ackCount: map[string]int{}}
	rv.srv = httptest.NewServer(http.HandlerFunc(rv.serve))
	t.Cleanup(rv.srv.Close)
	return rv
}

func (rv *receiver) problem(format string, a ...any) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if len(rv.problems) < 20 {
		rv.problems = append(rv.problems, fmt.Sprintf(format, a...))
	}
}

// checkSignature recomputes t=…,v1=… with crypto/hmac.
func checkSignature(header string, body []byte) bool {
	var ts string
	var sigs []string
	for _, p := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(p, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	m := hmac.New(sha256.New, testSecret)
	m.Write([]byte(ts + "." + string(body)))
	want := hex.EncodeToString(m.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

func (rv *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		rv.problem("request %s with content type %q", r.Method, r.Header.Get("Content-Type"))
	}
	if !checkSignature(r.Header.Get(HeaderSignature), body) {
		rv.problem("bad signature %q", r.Header.Get(HeaderSignature))
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	key := r.Header.Get(HeaderIdempotencyKey)
	// The events and their keys, from the body alone.
	type ev struct {
		Key  string          `json:"idempotency_key"`
		Data json.RawMessage `json:"data"`
	}
	var evs []ev
	n, _ := strconv.Atoi(r.Header.Get(HeaderEventCount))
	if strings.HasPrefix(key, "batch-") {
		var env struct{ Events []ev }
		if err := json.Unmarshal(body, &env); err != nil || len(env.Events) != n {
			rv.problem("batch %s: %d events, header says %d (%v)", key, len(env.Events), n, err)
		}
		evs = env.Events
		rv.mu.Lock()
		rv.batchSeen = true
		rv.mu.Unlock()
	} else {
		var e ev
		_ = json.Unmarshal(body, &e)
		if e.Key == "" { // events without a key are keyed by their position
			e.Key = key
		}
		if e.Key != key || n != 1 || r.Header.Get(HeaderTopic) == "" {
			rv.problem("event keyed %q sent with Idempotency-Key %q, count %d, topic %q", e.Key, key, n, r.Header.Get(HeaderTopic))
		}
		e.Data = body
		evs = []ev{e}
	}
	rv.mu.Lock()
	rv.requests++
	rv.attempts[key]++
	a := rv.plan(key, rv.attempts[key])
	rv.mu.Unlock()
	ack := func() {
		rv.mu.Lock()
		for _, e := range evs {
			if prev, ok := rv.acked[e.Key]; ok && !bytes.Equal(prev, e.Data) {
				rv.problems = append(rv.problems, "event "+e.Key+" came again with another body")
			}
			rv.acked[e.Key] = e.Data
			rv.ackCount[e.Key]++
		}
		rv.mu.Unlock()
	}
	if a.status/100 == 2 && a.ackFirst {
		ack()
	}
	if a.delay > 0 {
		select {
		case <-time.After(a.delay):
		case <-r.Context().Done():
			return
		}
	}
	if a.status/100 == 2 && !a.ackFirst {
		ack()
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
}

func (rv *receiver) ackedKeys() int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return len(rv.acked)
}

func (rv *receiver) attemptsOf(key string) int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.attempts[key]
}

func (rv *receiver) check(t *testing.T) {
	t.Helper()
	rv.mu.Lock()
	defer rv.mu.Unlock()
	for _, p := range rv.problems {
		t.Error("receiver: " + p)
	}
}

// committed returns the group's committed offset per topic/partition and
// the topics' end offsets, as "topic/partition" → offset.
func committed(t *testing.T, brokers []string, group string, topics ...string) (map[string]int64, map[string]int64) {
	t.Helper()
	adm := pt.Admin(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, want := map[string]int64{}, map[string]int64{}
	offs, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		offs.Each(func(o kadm.OffsetResponse) {
			got[o.Topic+"/"+strconv.Itoa(int(o.Partition))] = o.At
		})
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		want[o.Topic+"/"+strconv.Itoa(int(o.Partition))] = o.Offset
	})
	return got, want
}

// produce writes values to topic.
func produce(t *testing.T, brokers []string, topic string, values [][]byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Key: []byte(strconv.Itoa(i % 7)), Value: v}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}
