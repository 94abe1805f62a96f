package main

import (
	"errors"
	"strings"
	"testing"
)

// TestDoctorCommand checks the command's exit statuses: a usage error (2)
// for an unknown flag or an argument, problems (1) with one line per check
// when the servers do not answer. The checks themselves are tested
// against the real servers in deploy/doctor.
func TestDoctorCommand(t *testing.T) {
	for _, args := range [][]string{{"doctor", "--no-such-flag"}, {"doctor", "extra"}, {"doctor", "--timeout", "0s"}} {
		_, _, err := runCLI(t, args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: want a usage error (exit status 2), got %v", args, err)
		}
	}
	out, _, err := runCLI(t, "doctor", "--brokers", "127.0.0.1:1", "--clickhouse-addr", "127.0.0.1:1", "--timeout", "1s")
	var p errProblems
	if !errors.As(err, &p) || int(p) != 2 {
		t.Fatalf("want 2 problems (exit status 1), got %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "PROBLEM  kafka: cannot reach the brokers 127.0.0.1:1") ||
		!strings.Contains(lines[0], "fix: ") || !strings.HasPrefix(lines[1], "skipped  topics") ||
		!strings.HasPrefix(lines[3], "PROBLEM  clickhouse: ") {
		t.Errorf("output:\n%s", out)
	}
}
