package webhook

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

func payable(key string, i int) []byte {
	return []byte(fmt.Sprintf(`{"idempotency_key":%q,"program_id":"ae","program_version":1,"period":"2026-11","rep_id":"R-%d","currency":"EUR","amount":"%d.50","event_id":"e%d"}`,
		key, i%9, i, i))
}

func startSink(t *testing.T, cfg Config) (stop func() error) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := NewSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("the sink did not stop")
			return nil
		}
	}
}

// Against a receiver on a real socket that checks every signature and
// fails first attempts (503, 429 with Retry-After, a timeout), every event
// is acknowledged with its own key and body; a refused event and a record
// that is not JSON go to the dead-letter topic; the retries show in the
// metrics; and the committed offsets reach the ends only once all is done.
func TestSinkDeliversThroughFailures(t *testing.T) {
	for _, batch := range []int{1, 4} {
		t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
			_, brokers := pt.Fake(t)
			pt.CreateTopics(t, brokers, 2, []string{"payouts.payable", "payouts.instructions", "dead"})
			var payables, instructions [][]byte
			want := map[string][]byte{}
			for i := range 40 {
				k := fmt.Sprintf("p-%d", i)
				payables = append(payables, payable(k, i))
				want[k] = payables[i]
			}
			for i := range 10 {
				k := fmt.Sprintf("i-%d", i)
				v := []byte(fmt.Sprintf(`{"idempotency_key":%q,"rep_id":"R-1","type":"bank_transfer","amount":"10.00","account_mask":"****3000"}`, k))
				instructions = append(instructions, v)
				want[k] = v
			}
			if batch == 1 {
				payables = append(payables, payable("poison", 99), []byte(`{"idempotency_key":`))
			}
			produce(t, brokers, "payouts.payable", payables)
			produce(t, brokers, "payouts.instructions", instructions)

			rv := newReceiver(t, func(key string, attempt int) answer {
				switch {
				case key == "poison":
					return answer{status: 400}
				case key == "p-5" && attempt == 1:
					return answer{status: 200, delay: 2 * time.Second} // beyond the sink's timeout
				case key[len(key)-1]%2 == 0 && attempt <= 2:
					return answer{status: 503}
				case attempt == 1:
					return answer{status: 429, retryAfter: "0"}
				}
				return answer{status: 200}
			})
			reg := prometheus.NewRegistry()
			cfg := Config{Name: "test", Brokers: brokers, DeadLetter: "dead", URL: rv.srv.URL + "/hooks/payouts?token=abc",
				Secrets: [][]byte{testSecret}, BatchSize: batch, Timeout: 300 * time.Millisecond,
				MinBackoff: 2 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, CommitInterval: 10 * time.Millisecond,
				SessionTimeout: 6 * time.Second, Metrics: NewMetrics(reg)}
			stop := startSink(t, cfg)
			pt.WaitFor(t, 60*time.Second, "every event acknowledged", func() bool { return rv.ackedKeys() >= len(want) })
			pt.WaitFor(t, 30*time.Second, "offsets committed to the ends", func() bool {
				got, ends := committed(t, brokers, "accrue-webhook-test", "payouts.payable", "payouts.instructions")
				for p, end := range ends {
					if got[p] != end {
						return false
					}
				}
				return true
			})
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			rv.check(t)
			rv.mu.Lock()
			for k, v := range want {
				if string(rv.acked[k]) != string(v) {
					t.Errorf("event %s: acknowledged body %q, want %q", k, rv.acked[k], v)
				}
			}
			if len(rv.acked) != len(want) {
				t.Errorf("%d events acknowledged, want %d", len(rv.acked), len(want))
			}
			if batch > 1 && !rv.batchSeen {
				t.Error("no batch was sent")
			}
			rv.mu.Unlock()

			dead := pt.ReadAll(t, brokers, "dead")
			reasons := map[string]int{}
			for _, r := range dead {
				d := pipeline.DeadLetterFrom(r)
				reasons[d.Reason]++
				if d.SourceTopic != "payouts.payable" || d.Stage != "webhook test" {
					t.Errorf("dead letter %+v", d)
				}
				if d.Reason == ReasonRefused && (!strings.Contains(d.Message, "400") || strings.Contains(d.Message, "token")) {
					t.Errorf("refusal message %q: want the status, not the URL's query", d.Message)
				}
			}
			if batch == 1 && (reasons[ReasonRefused] != 1 || reasons[ReasonInvalidJSON] != 1 || len(dead) != 2) {
				t.Errorf("dead letters by reason %v, want one refused and one invalid_json", reasons)
			}
			if batch > 1 && len(dead) != 0 {
				t.Errorf("%d dead letters, want none", len(dead))
			}
			retries := func(cause string) float64 {
				return testutil.ToFloat64(cfg.Metrics.retries.WithLabelValues("test", cause))
			}
			if retries("status_5xx") == 0 || retries("status_429") == 0 || (batch == 1 && retries("timeout") == 0) {
				t.Errorf("retries: 5xx %v, 429 %v, timeout %v", retries("status_5xx"), retries("status_429"), retries("timeout"))
			}
			delivered := testutil.ToFloat64(cfg.Metrics.events.WithLabelValues("test", "payouts.payable", "delivered")) +
				testutil.ToFloat64(cfg.Metrics.events.WithLabelValues("test", "payouts.instructions", "delivered"))
			if int(delivered) != len(want) {
				t.Errorf("delivered %v events, want %d", delivered, len(want))
			}
			if n := testutil.ToFloat64(cfg.Metrics.retrying.WithLabelValues("test")); n != 0 {
				t.Errorf("still retrying: %v", n)
			}
		})
	}
}

// While the receiver fails an event, the offsets committed stop right
// before it, also when the sink is stopped then: the events acknowledged
// before it are committed, it and those after it are not until it is
// acknowledged, by the next run.
func TestSinkCommitsOnlyAcknowledged(t *testing.T) {
	_, brokers := pt.Fake(t)
	pt.CreateTopics(t, brokers, 1, []string{"payouts.payable", "c.rejected"})
	produce(t, brokers, "payouts.payable", [][]byte{payable("c-0", 0), payable("c-1", 1), payable("c-2", 2)})
	var up bool
	rv := newReceiver(t, func(key string, _ int) answer {
		if key == "c-1" && !up {
			return answer{status: 502}
		}
		return answer{status: 204}
	})
	cfg := Config{Name: "c", Brokers: brokers, URL: rv.srv.URL, Secrets: [][]byte{testSecret},
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, CommitInterval: time.Millisecond,
		SessionTimeout: 6 * time.Second}
	stop := startSink(t, cfg)
	pt.WaitFor(t, 30*time.Second, "c-1 failing", func() bool { return rv.attemptsOf("c-1") >= 5 })
	pt.WaitFor(t, 10*time.Second, "c-0 committed", func() bool {
		got, _ := committed(t, brokers, "accrue-webhook-c", "payouts.payable")
		return got["payouts.payable/0"] == 1
	})
	time.Sleep(50 * time.Millisecond)
	if got, _ := committed(t, brokers, "accrue-webhook-c", "payouts.payable"); got["payouts.payable/0"] != 1 {
		t.Fatalf("committed %d while c-1 (offset 1) is not acknowledged", got["payouts.payable/0"])
	}
	if rv.attemptsOf("c-2") != 0 {
		t.Error("c-2 was sent before c-1 was acknowledged")
	}
	// Stopped while c-1 fails, the sink commits what was acknowledged and
	// nothing more.
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got, _ := committed(t, brokers, "accrue-webhook-c", "payouts.payable"); got["payouts.payable/0"] != 1 {
		t.Fatalf("stopped while c-1 failed, the sink committed %d", got["payouts.payable/0"])
	}
	rv.mu.Lock()
	up = true
	rv.mu.Unlock()
	stop = startSink(t, cfg)
	pt.WaitFor(t, 10*time.Second, "all committed", func() bool {
		got, _ := committed(t, brokers, "accrue-webhook-c", "payouts.payable")
		return got["payouts.payable/0"] == 3
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	rv.check(t)
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if rv.ackCount["c-0"] != 1 || rv.ackCount["c-1"] != 1 || rv.ackCount["c-2"] != 1 {
		t.Errorf("acknowledgements %v, want each event once", rv.ackCount)
	}
}

func TestSinkNeedsItsDeadLetterTopic(t *testing.T) {
	_, brokers := pt.Fake(t)
	pt.CreateTopics(t, brokers, 1, []string{"payouts.payable"})
	s, err := NewSink(Config{Brokers: brokers, URL: "http://127.0.0.1:1/", Secrets: [][]byte{testSecret},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), "webhook.rejected does not exist") {
		t.Errorf("Run = %v, want the missing dead-letter topic named", err)
	}
}

func TestNewSinkRefusesBadConfig(t *testing.T) {
	good := Config{Brokers: []string{"x:1"}, URL: "https://example.invalid/h", Secrets: [][]byte{testSecret}}
	if _, err := NewSink(good); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Config){
		"no brokers":     func(c *Config) { c.Brokers = nil },
		"relative URL":   func(c *Config) { c.URL = "/hooks" },
		"ftp URL":        func(c *Config) { c.URL = "ftp://x/y" },
		"no secret":      func(c *Config) { c.Secrets = nil },
		"short secret":   func(c *Config) { c.Secrets = [][]byte{[]byte("short")} },
		"dead letter in": func(c *Config) { c.Topics = []string{"a"}; c.DeadLetter = "a" },
		"negative batch": func(c *Config) { c.BatchSize = -1 },
	} {
		c := good
		mod(&c)
		if _, err := NewSink(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestBackoffGrowsWithJitterAndHonoursRetryAfter(t *testing.T) {
	s, err := NewSink(Config{Brokers: []string{"x:1"}, URL: "http://x/", Secrets: [][]byte{testSecret},
		MinBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: 1600 * time.Millisecond, 6: 2 * time.Second, 60: 2 * time.Second} {
		seen := map[time.Duration]bool{}
		for range 50 {
			w := s.backoff(attempt, 0)
			if w < want/2 || w > want {
				t.Fatalf("attempt %d: wait %v outside [%v, %v]", attempt, w, want/2, want)
			}
			seen[w] = true
		}
		if len(seen) < 10 {
			t.Errorf("attempt %d: only %d distinct waits: no jitter", attempt, len(seen))
		}
	}
	if w := s.backoff(1, time.Second); w != time.Second {
		t.Errorf("Retry-After 1s gave %v", w)
	}
	if w := s.backoff(1, time.Hour); w != 2*time.Second {
		t.Errorf("Retry-After 1h gave %v, want the 2s cap", w)
	}
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{"": 0, "3": 3 * time.Second, "-1": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second} {
		if got := retryAfterOf(v, now); got != want {
			t.Errorf("Retry-After %q = %v, want %v", v, got, want)
		}
	}
}
