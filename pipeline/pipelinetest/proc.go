package pipelinetest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// AccrueBinary builds cmd/accrue once per test process and returns its path.
func AccrueBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "accrue-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "accrue")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/accrue/accrue/cmd/accrue").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Proc is an accrue process started by a test: its standard output is kept,
// its standard error goes to a log file.
type Proc struct {
	t       testing.TB
	Name    string
	LogPath string
	cmd     *exec.Cmd
	stdout  bytes.Buffer
	done    chan error
}

// StartProc runs bin with args, logging to logDir/<seq>-<name>.log.
func StartProc(t testing.TB, bin, logDir, name string, args ...string) *Proc {
	t.Helper()
	entries, _ := os.ReadDir(logDir)
	logf, err := os.Create(filepath.Join(logDir, fmt.Sprintf("%02d-%s.log", len(entries)+1, name)))
	if err != nil {
		t.Fatal(err)
	}
	p := &Proc{t: t, Name: name, LogPath: logf.Name(), done: make(chan error, 1)}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		if p.Alive() {
			p.Kill()
		}
	})
	return p
}

// Kill sends SIGKILL and waits for the process to end.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.done <- nil
}

// Stop sends SIGTERM, waits up to 90s for a clean exit and returns what the
// process printed on standard output.
func (p *Proc) Stop() []byte {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			p.Died()
		}
	case <-time.After(90 * time.Second):
		p.Kill()
		p.t.Fatalf("%s did not stop within 90s", p.Name)
	}
	return p.stdout.Bytes()
}

// Signal sends sig to the process: SIGSTOP freezes it, SIGCONT resumes
// it, SIGTERM asks it to stop without waiting (Stop waits).
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Alive reports whether the process is still running.
func (p *Proc) Alive() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return false
	default:
		return true
	}
}

// Died fails the test with the end of the process's log.
func (p *Proc) Died() {
	p.t.Helper()
	b, _ := os.ReadFile(p.LogPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	p.t.Fatalf("%s died on its own; the end of its log:\n%s", p.Name, b)
}

// FreeAddr is a loopback address with a port nothing listens on now, for
// a process's admin or HTTP server.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
