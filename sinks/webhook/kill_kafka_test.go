package webhook

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// childEnv names the sink a child process of the test binary runs.
const childEnv = "ACCRUE_WEBHOOK_TEST_CHILD"

// TestWebhookSinkChild is the sink killed by TestSinkSurvivesKillRealKafka:
// it runs only in that test's child processes.
func TestWebhookSinkChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("run by TestSinkSurvivesKillRealKafka")
	}
	f := strings.Split(spec, "|") // brokers|topic|dead|group|url
	s, err := NewSink(Config{Name: "kill", Brokers: strings.Split(f[0], ","), Topics: []string{f[1]}, DeadLetter: f[2],
		Group: f[3], URL: f[4], Secrets: [][]byte{testSecret}, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
		CommitInterval: 20 * time.Millisecond, SessionTimeout: 6 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	_ = s.Run(ctx) // until killed, or stopped by SIGTERM
}

// On a real Kafka, sinks killed with SIGKILL at random moments (no
// shutdown, no last commit) and restarted lose no event; what comes again
// comes with the same key and body.
func TestSinkSurvivesKillRealKafka(t *testing.T) {
	brokers := pt.RealBrokers(t)
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	run := time.Now().UnixNano()
	topic, dead, group := fmt.Sprintf("test.webhook-kill.%d", run), fmt.Sprintf("test.webhook-kill.%d.rejected", run), fmt.Sprintf("test-webhook-kill-%d", run)
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
	const n = 600
	var values [][]byte
	for i := range n {
		values = append(values, payable(fmt.Sprintf("k-%d", i), i))
	}
	produce(t, brokers, topic, values)
	// A receiver slow enough that kills land mid-stream.
	rv := newReceiver(t, func(string, int) answer { return answer{status: 200, delay: 2 * time.Millisecond} })
	spec := strings.Join([]string{strings.Join(brokers, ","), topic, dead, group, rv.srv.URL}, "|")
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWebhookSinkChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), childEnv+"="+spec)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // no child outlives a failed test
			if cmd.ProcessState == nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}
		})
		return cmd
	}
	kills := 0
	for _, at := range []int{120, 260, 410} {
		cmd := start()
		pt.WaitFor(t, 60*time.Second, fmt.Sprintf("%d events acknowledged", at), func() bool { return rv.ackedKeys() >= at })
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		kills++
	}
	cmd := start()
	defer func() { // the last one stops cleanly and leaves the group
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	pt.WaitFor(t, 90*time.Second, "every event acknowledged", func() bool { return rv.ackedKeys() >= n })
	pt.WaitFor(t, 30*time.Second, "offsets committed to the ends", func() bool {
		got, ends := committed(t, brokers, group, topic)
		for p, end := range ends {
			if got[p] != end {
				return false
			}
		}
		return true
	})
	rv.check(t)
	rv.mu.Lock()
	defer rv.mu.Unlock()
	repeats := 0
	for i := range n {
		k := fmt.Sprintf("k-%d", i)
		if rv.ackCount[k] == 0 {
			t.Errorf("event %s lost", k)
		}
		repeats += rv.ackCount[k] - 1
	}
	if len(rv.acked) != n {
		t.Errorf("%d keys acknowledged, want %d", len(rv.acked), n)
	}
	t.Logf("%d kills, %d repeated deliveries (same key and body), none lost", kills, repeats)
}
