package webhook

import (
	"context"
	"fmt"
	"testing"
	"time"

	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// On a real Kafka, a sink stopped while the receiver had applied an event
// but not answered yet, and restarted after more events arrived, loses
// nothing: every event is acknowledged, and the only repeats are of events
// whose acknowledgement the first run never saw, with the same key and
// body.
func TestSinkResumesAfterRestartRealKafka(t *testing.T) {
	brokers := pt.RealBrokers(t)
	run := time.Now().UnixNano()
	topic, dead, group := fmt.Sprintf("test.webhook.%d", run), fmt.Sprintf("test.webhook.%d.rejected", run), fmt.Sprintf("test-webhook-%d", run)
	pt.CreateTopics(t, brokers, 3, []string{topic, dead})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		adm := pt.Admin(t, brokers)
		if _, err := adm.DeleteTopics(ctx, topic, dead); err != nil {
			t.Logf("delete topics: %v", err)
		}
		if _, err := adm.DeleteGroup(ctx, group); err != nil {
			t.Logf("delete group: %v", err)
		}
	})
	var first [][]byte
	for i := range 300 {
		first = append(first, payable(fmt.Sprintf("r-%d", i), i))
	}
	produce(t, brokers, topic, first)

	hanging := make(chan string, 1)
	var hung string
	var rv *receiver
	rv = newReceiver(t, func(key string, _ int) answer {
		// plan runs under rv.mu: acked is safe to read here.
		if hung == "" && len(rv.acked) >= 100 {
			hung = key
			hanging <- key
			return answer{status: 200, ackFirst: true, delay: time.Minute}
		}
		return answer{status: 200}
	})
	cfg := Config{Name: "restart", Group: group, Brokers: brokers, Topics: []string{topic}, DeadLetter: dead,
		URL: rv.srv.URL, Secrets: [][]byte{testSecret}, Timeout: 2 * time.Minute,
		MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, CommitInterval: 20 * time.Millisecond,
		SessionTimeout: 6 * time.Second}
	stop := startSink(t, cfg)
	var key string
	select {
	case key = <-hanging:
	case <-time.After(60 * time.Second):
		t.Fatal("the first run never reached 100 events")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	afterFirst := rv.ackedKeys()

	var second [][]byte
	for i := 300; i < 450; i++ {
		second = append(second, payable(fmt.Sprintf("r-%d", i), i))
	}
	produce(t, brokers, topic, second)
	stop = startSink(t, cfg)
	pt.WaitFor(t, 90*time.Second, "all 450 events acknowledged", func() bool { return rv.ackedKeys() >= 450 })
	pt.WaitFor(t, 30*time.Second, "offsets committed to the ends", func() bool {
		got, ends := committed(t, brokers, group, topic)
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
	rv.check(t) // signatures, and every repeat with its first body
	rv.mu.Lock()
	defer rv.mu.Unlock()
	var repeated []string
	for i := range 450 {
		k := fmt.Sprintf("r-%d", i)
		if rv.ackCount[k] == 0 {
			t.Errorf("event %s lost", k)
		}
		if rv.ackCount[k] > 1 {
			repeated = append(repeated, k)
		}
	}
	if len(rv.acked) != 450 {
		t.Errorf("%d keys acknowledged, want 450", len(rv.acked))
	}
	if rv.ackCount[key] != 2 {
		t.Errorf("event %s, applied but unanswered when the first run stopped, acknowledged %d times, want 2", key, rv.ackCount[key])
	}
	// Only what the first run had not committed may come again: the
	// hanging event and at most the events acknowledged in the last
	// commit interval before the stop, on other partitions.
	if len(repeated) > 10 {
		t.Errorf("%d events repeated (%v): more than the uncommitted tail", len(repeated), repeated)
	}
	t.Logf("first run acknowledged %d events; repeats after the restart: %v", afterFirst, repeated)
	if n := len(pt.ReadAll(t, brokers, dead)); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
}
