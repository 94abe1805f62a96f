package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// The sealing key comes from a file or the environment, as hex, base64 or
// raw bytes; bad keys are usage errors that never quote the key.
func TestWalletKey(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, f := range []string{write("raw", key), write("hex", []byte(hex.EncodeToString(key)+"\n")),
		write("b64", []byte(base64.StdEncoding.EncodeToString(key)))} {
		got, err := walletKey(f)
		if err != nil || string(got) != string(key) {
			t.Errorf("%s: %q %v", filepath.Base(f), got, err)
		}
	}
	t.Setenv(walletKeyEnv, hex.EncodeToString(key))
	if got, err := walletKey(""); err != nil || string(got) != string(key) {
		t.Errorf("env: %q %v", got, err)
	}
	for _, c := range []struct {
		file, env, want string
	}{
		{"", "", "no sealing key"},
		{"", "deadbeefsecret", "must be 32 bytes"},
		{write("short", []byte("deadbeefsecret")), "", "--key-file: the sealing key must be 32 bytes"},
		{filepath.Join(dir, "missing"), "", "--key-file"},
	} {
		t.Setenv(walletKeyEnv, c.env)
		_, err := walletKey(c.file)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "deadbeefsecret") {
			t.Errorf("%q/%q: %v, want a usage error about %q that does not quote the key", c.file, c.env, err, c.want)
		}
	}
}

func TestParseFeesAndPolicies(t *testing.T) {
	fees, err := parseFees("--transfer-fee", []string{"EUR=0.50+1.5%", "usd=0.25", "JPY=2%"})
	if err != nil {
		t.Fatal(err)
	}
	for cur, want := range map[string][2]string{"EUR": {"0.5", "1.5"}, "USD": {"0.25", "0"}, "JPY": {"0", "2"}} {
		f := fees[cur]
		if !f.Fixed.Equal(decimal.RequireFromString(want[0])) || !f.Percent.Equal(decimal.RequireFromString(want[1])) {
			t.Errorf("%s: %s + %s%%, want %s + %s%%", cur, f.Fixed, f.Percent, want[0], want[1])
		}
	}
	for _, bad := range [][]string{{"EUR"}, {"=1"}, {"EUR=one"}, {"EUR=1", "EUR=2"}} {
		if _, err := parseFees("--transfer-fee", bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	pol, err := parsePolicies([]string{"q=period_close", "m=on_accrual"})
	if err != nil || pol["q"] != "period_close" || pol["m"] != "on_accrual" {
		t.Fatalf("%v %v", pol, err)
	}
	if _, err := parsePolicies([]string{"period_close"}); err == nil {
		t.Error("a policy without a program was accepted")
	}
}

// Bad flags of `accrue stage wallet` are usage errors before anything
// connects.
func TestWalletStageFlags(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(walletKeyEnv, "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no sealing key"},
		{[]string{"--key-file", keyFile, "--transfer-fee", "EUR=x"}, "--transfer-fee"},
		{[]string{"--key-file", keyFile, "--policy", "q=weekly"}, "unknown payability policy"},
		{[]string{"--key-file", keyFile, "--catalogue-fee", "XAU=1"}, "XAU"},
		{[]string{"--key-file", keyFile, "--sweep-interval", "0s"}, "--sweep-interval"},
	} {
		_, _, err := runCLI(t, append([]string{"--log-level", "error", "stage", "wallet", "--admin-addr", ""}, c.args...)...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want a usage error containing %q", c.args, err, c.want)
		}
	}
	out, _, err := runCLI(t, "serve-wallet", "--help")
	if err != nil || !strings.Contains(out, "/v1/redemptions") {
		t.Fatalf("serve-wallet --help: %v\n%s", err, out)
	}
	t.Setenv("ACCRUE_WALLET_TOKENS", "")
	if _, _, err := runCLI(t, "--log-level", "error", "serve-wallet"); err == nil || !strings.Contains(err.Error(), "no wallet token") {
		t.Fatalf("serve-wallet without tokens: %v", err)
	}
}
