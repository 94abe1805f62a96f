package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `accrue sink webhook` is there beside `accrue sink clickhouse`, and bad
// flags are usage errors that quote no secret.
func TestSinkWebhookFlags(t *testing.T) {
	out, _, err := runCLI(t, "sink", "--help")
	if err != nil || !strings.Contains(out, "webhook") || !strings.Contains(out, "clickhouse") {
		t.Fatalf("accrue sink --help: %v\n%s", err, out)
	}
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("tiny-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good")
	if err := os.WriteFile(good, []byte("whsec-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ACCRUE_WEBHOOK_SECRET", "")
	t.Setenv("ACCRUE_WEBHOOK_URL", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "http://127.0.0.1:1/"}, "no signing secret"},
		{[]string{"--secret-file", good}, "--url is required"},
		{[]string{"--secret-file", filepath.Join(dir, "missing"), "--url", "http://x/"}, "--secret-file"},
		{[]string{"--secret-file", short, "--url", "http://x/"}, "want 16 or more"},
		{[]string{"--secret-file", good, "--url", "x/y"}, "absolute http or https URL"},
		{[]string{"--secret-file", good, "--url", "http://x/", "--batch-size", "-2"}, "negative"},
	} {
		_, _, err := runCLI(t, append([]string{"--log-level", "error", "sink", "webhook", "--admin-addr", ""}, tc.args...)...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want a usage error containing %q", tc.args, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "tiny-secret") {
			t.Errorf("%v: the error quotes the secret", tc.args)
		}
	}
}
