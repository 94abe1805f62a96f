package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The Kafka security flags are checked before anything connects: each
// mistake is a usage error that says what is missing, and what is given
// decides the protocol named in later errors.
func TestKafkaFlagsLoad(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte("s3cret-from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := otherCA(t)
	for _, c := range []struct {
		name     string
		f        kafkaFlags
		env      string // ACCRUE_KAFKA_SASL_PASSWORD
		want     string // protocol described, or the usage error's text
		usageErr bool
	}{
		{name: "nothing", want: "PLAINTEXT"},
		{name: "TLS with the system roots", f: kafkaFlags{tls: true}, want: "SSL"},
		{name: "a CA implies TLS", f: kafkaFlags{tlsCAFile: ca}, want: "SSL"},
		{name: "SCRAM over TLS, password from a file",
			f:    kafkaFlags{saslMechanism: "SCRAM-SHA-512", saslUser: "accrue", saslPasswordFile: pw, tlsCAFile: ca},
			want: "SASL_SSL SCRAM-SHA-512 as user accrue"},
		{name: "SCRAM, password from the environment, lower case mechanism",
			f: kafkaFlags{saslMechanism: "scram-sha-256", saslUser: "accrue"}, env: "from-env-0123",
			want: "SASL_PLAINTEXT SCRAM-SHA-256 as user accrue"},
		{name: "PLAIN over TLS", f: kafkaFlags{saslMechanism: "PLAIN", saslUser: "u", tls: true}, env: "p",
			want: "SASL_SSL PLAIN as user u"},
		{name: "PLAIN in clear", f: kafkaFlags{saslMechanism: "PLAIN", saslUser: "u"}, env: "p",
			want: "use it with TLS", usageErr: true},
		{name: "unknown mechanism", f: kafkaFlags{saslMechanism: "GSSAPI", saslUser: "u"}, env: "p",
			want: `unknown SASL mechanism "GSSAPI"`, usageErr: true},
		{name: "no user", f: kafkaFlags{saslMechanism: "SCRAM-SHA-512", saslPasswordFile: pw},
			want: "needs --kafka-sasl-user and a password", usageErr: true},
		{name: "no password", f: kafkaFlags{saslMechanism: "SCRAM-SHA-512", saslUser: "u"},
			want: "needs --kafka-sasl-user and a password", usageErr: true},
		{name: "a password file that is not there",
			f:    kafkaFlags{saslMechanism: "SCRAM-SHA-512", saslUser: "u", saslPasswordFile: filepath.Join(dir, "missing")},
			want: "kafka SASL password", usageErr: true},
		{name: "a user without a mechanism", f: kafkaFlags{saslUser: "u"}, want: "no --kafka-sasl-mechanism", usageErr: true},
		{name: "a CA file that holds no certificate", f: kafkaFlags{tlsCAFile: pw}, want: "holds no PEM certificate", usageErr: true},
		{name: "a client certificate without its key", f: kafkaFlags{tlsCertFile: ca},
			want: "needs its key", usageErr: true},
		{name: "a server name with TLS off", f: kafkaFlags{tlsServerName: "kafka"}, want: "TLS is off", usageErr: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("ACCRUE_KAFKA_SASL_PASSWORD", c.env)
			err := c.f.load()
			var ue usageError
			switch {
			case c.usageErr && (err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want a usage error saying %q", err, c.want)
			case !c.usageErr && err != nil:
				t.Errorf("error %v", err)
			case !c.usageErr && c.f.describe != c.want:
				t.Errorf("described as %q, want %q", c.f.describe, c.want)
			case !c.usageErr && (c.want == "PLAINTEXT") != (c.f.security == nil):
				t.Errorf("%d security options for %s", len(c.f.security), c.want)
			}
		})
	}
}

// Only the commands that never reach Kafka skip the brokers' check.
func TestUsesKafka(t *testing.T) {
	root := newRoot()
	for args, want := range map[string]bool{
		"stage count": true, "serve": true, "topics create": true, "dlq list": true, "doctor": true,
		"version": false, "demo": false, "clickhouse migrate": false, "simulate": false, "program validate": true,
	} {
		cmd, _, err := root.Find(strings.Fields(args))
		if err != nil {
			t.Fatalf("%s: %v", args, err)
		}
		if got := usesKafka(cmd); got != want {
			t.Errorf("usesKafka(%s) = %v", args, got)
		}
	}
}
