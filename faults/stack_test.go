package faults

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stack is a private Kafka and ClickHouse, started by deploy/local/stack.sh
// in a folder and on ports of its own, for the scenarios that kill the
// servers: the shared stack, which other tests use at the same time, is
// never touched.
type stack struct {
	dir, script string
	kafkaPort   int // the controller takes kafkaPort+1, a secured listener kafkaPort+2
	chPort      int
	chHTTP      int
}

// repoRoot is the repository's folder, found from this file's.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// startPrivateStack starts a private stack and stops it when t ends.
// Measured on the 2-core CI machine: about 6 seconds, the Kafka jars
// taken from the shared stack's folder.
func startPrivateStack(t testing.TB) *stack {
	t.Helper()
	base := freePorts(t, 5)
	s := &stack{dir: t.TempDir(), script: filepath.Join(repoRoot(), "deploy", "local", "stack.sh"),
		kafkaPort: base, chPort: base + 3, chHTTP: base + 4}
	// The jars the shared stack resolved, so that no private stack asks
	// Maven Central again.
	shared := os.Getenv("ACCRUE_STACK_DIR")
	if shared == "" {
		shared = filepath.Join(repoRoot(), ".stack")
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "kafka"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"kafka/libs", "m2"} {
		if _, err := os.Stat(filepath.Join(shared, p)); err == nil {
			if err := os.Symlink(filepath.Join(shared, p), filepath.Join(s.dir, p)); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() {
		if out, err := s.run("down"); err != nil {
			t.Errorf("private stack down: %v\n%s", err, out)
		}
	})
	began := time.Now()
	if out, err := s.run("up"); err != nil {
		t.Fatalf("private stack up: %v\n%s", err, out)
	}
	t.Logf("private stack in %s: Kafka on %d, ClickHouse on %d, up in %v", s.dir, s.kafkaPort, s.chPort, time.Since(began).Round(100*time.Millisecond))
	return s
}

func (s *stack) brokers() []string  { return []string{"127.0.0.1:" + strconv.Itoa(s.kafkaPort)} }
func (s *stack) clickhouse() string { return "127.0.0.1:" + strconv.Itoa(s.chPort) }

// run runs stack.sh with args on the private stack.
func (s *stack) run(args ...string) ([]byte, error) {
	cmd := exec.Command(s.script, args...)
	cmd.Env = append(os.Environ(), "ACCRUE_STACK_DIR="+s.dir, "ACCRUE_STACK_KAFKA_PORT="+strconv.Itoa(s.kafkaPort),
		"ACCRUE_STACK_CLICKHOUSE_PORT="+strconv.Itoa(s.chPort), "ACCRUE_STACK_CLICKHOUSE_HTTP="+strconv.Itoa(s.chHTTP))
	return cmd.CombinedOutput()
}

// kill sends SIGKILL to the private server (kafka or clickhouse) and
// waits until it is gone.
func (s *stack) kill(t testing.TB, server string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, server, server+".pid"))
	if err != nil {
		t.Fatalf("%s is not running: %v", server, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s (pid %d): %v", server, pid, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs 30s after SIGKILL", server, pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// up starts the private server (kafka or clickhouse) again.
func (s *stack) up(t testing.TB, server string) {
	t.Helper()
	if out, err := s.run("up", server); err != nil {
		t.Fatalf("private stack up %s: %v\n%s", server, err, out)
	}
}

// freePorts returns the first of n consecutive free loopback ports.
func freePorts(t testing.TB, n int) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if base+n > 65535 {
			continue
		}
		free := true
		for p := base; p < base+n && free; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				free = false
				continue
			}
			l.Close()
		}
		if free {
			return base
		}
	}
	t.Fatal("no free range of ports")
	return 0
}
