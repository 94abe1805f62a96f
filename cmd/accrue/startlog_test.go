package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestStartLogRedacts checks the start line of every long-running command
// for the secrets of its own flags: none reaches the log.
func TestStartLogRedacts(t *testing.T) {
	const planted = "planted-secret-0815"
	t.Setenv("ACCRUE_CLICKHOUSE_PASSWORD", planted)
	t.Setenv("ACCRUE_INGEST_TOKENS", planted)
	t.Setenv("ACCRUE_KAFKA_SASL_PASSWORD", planted)
	t.Setenv("ACCRUE_PAYOUT_DEBTOR_IBAN", planted)
	n := 0
	var walk func(args []string)
	walk = func(args []string) {
		root := newRoot()
		cmd, _, err := root.Find(args)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cmd.Commands() {
			walk(append(append([]string(nil), args...), c.Name()))
		}
		if !cmd.Runnable() || !longRunning(cmd) {
			return
		}
		n++
		var set []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if isSecret(f.Name) && f.Value.Type() == "string" {
				set = append(set, "--"+f.Name+"="+planted)
			}
		})
		if err := cmd.ParseFlags(set); err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprint(startAttrs(cmd)...)
		if strings.Contains(line, planted) {
			t.Errorf("accrue %s logs a secret: %s", strings.Join(args, " "), line)
		}
		if !strings.Contains(line, "--brokers=") {
			t.Errorf("accrue %s does not log its configuration: %s", strings.Join(args, " "), line)
		}
	}
	walk(nil)
	if n < 8 {
		t.Errorf("only %d long-running commands found", n)
	}
	if got := redact("url", "https://u:"+planted+"@h.test/x?token="+planted); strings.Contains(got, planted) {
		t.Errorf("a URL's password or query reached the log: %s", got)
	}
	for name, secret := range map[string]bool{"clickhouse-password-file": false, "ACCRUE_WEBHOOK_SECRET": true,
		"ACCRUE_WALLET_KEY_ID": false, "key-id": false, "ACCRUE_INGEST_TOKENS": true, "token-file": false, "brokers": false,
		"ACCRUE_PAYOUT_DEBTOR_IBAN": true, "accounts": false, "ACCRUE_PAYOUT_ACCOUNTS": false,
		"ACCRUE_KAFKA_SASL_PASSWORD": true, "kafka-sasl-password-file": false, "kafka-tls-key-file": false,
		"ACCRUE_CLICKHOUSE_PASSWORD": true, "clickhouse-tls-ca-file": false} {
		if isSecret(name) != secret {
			t.Errorf("isSecret(%s) = %v", name, !secret)
		}
	}
}
