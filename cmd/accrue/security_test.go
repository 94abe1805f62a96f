package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	chdriver "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// secureStack is what `deploy/local/stack.sh env` says of the stack's
// secured listeners: Kafka SASL_SSL with SCRAM, ClickHouse TLS with a user
// that has a password, both signed by the stack's CA.
type secureStack struct {
	brokers, mechanism, user, passwordFile string
	caFile                                 string
	chAddr, chUser, chPasswordFile         string
}

// stackSecure reads the secured stack's environment with the rule of the
// other real-server tests: skipped when missing, a failure under CI=true.
func stackSecure(t *testing.T) secureStack {
	t.Helper()
	get := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not set: CI needs the stack's secured listeners (deploy/local/stack.sh up)", name)
			}
			t.Skipf("%s is not set; start deploy/local/stack.sh up and eval its env to run this test", name)
		}
		return v
	}
	return secureStack{
		brokers: get("ACCRUE_STACK_KAFKA_SECURE_BROKERS"), mechanism: get("ACCRUE_STACK_KAFKA_SASL_MECHANISM"),
		user: get("ACCRUE_STACK_KAFKA_SASL_USER"), passwordFile: get("ACCRUE_STACK_KAFKA_SASL_PASSWORD_FILE"),
		caFile: get("ACCRUE_STACK_TLS_CA_FILE"), chAddr: get("ACCRUE_STACK_CLICKHOUSE_SECURE_ADDR"),
		chUser: get("ACCRUE_STACK_CLICKHOUSE_USER"), chPasswordFile: get("ACCRUE_STACK_CLICKHOUSE_PASSWORD_FILE"),
	}
}

// kafkaArgs are the global flags that reach Kafka over SASL_SSL; the
// password travels as a file name.
func (s secureStack) kafkaArgs() []string {
	return []string{"--brokers", s.brokers, "--kafka-sasl-mechanism", s.mechanism, "--kafka-sasl-user", s.user,
		"--kafka-sasl-password-file", s.passwordFile, "--kafka-tls-ca-file", s.caFile}
}

// chArgs are a ClickHouse command's flags for the TLS port and the user
// with a password.
func (s secureStack) chArgs(db string) []string {
	return []string{"--clickhouse-addr", s.chAddr, "--clickhouse-user", s.chUser,
		"--clickhouse-password-file", s.chPasswordFile, "--clickhouse-tls-ca-file", s.caFile, "--database", db}
}

func readSecret(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	if len(s) < 16 {
		t.Fatalf("%s holds a secret of %d characters; the stack makes longer ones", file, len(s))
	}
	return s
}

// Planted in the environment of the processes under test: none may reach
// their logs or metrics.
const (
	plantedClickHousePassword = "planted-ch-password-4711"
	plantedIBAN               = "DE89370400440532013000"
	plantedAccountNumber      = "0532013000"
)

// runBinary runs the accrue binary with args and env added, up to timeout,
// and returns its output and exit status (-1 when it had to be killed).
func runBinary(t *testing.T, timeout time.Duration, env []string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, pt.AccrueBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		status = -1
	case errors.As(err, &ee):
		status = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), status
}

// scrape GETs url with the bearer token, when there is one, and fails t
// unless the answer is 200.
func scrape(t *testing.T, url, token string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// noSecrets fails t for every secret found in any of the texts.
func noSecrets(t *testing.T, texts map[string]string, secrets ...string) {
	t.Helper()
	for what, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s contains the secret %.4s…", what, s)
			}
		}
	}
}

// otherCA writes a CA certificate that signed nothing the stack serves.
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the stack's CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A real stage runs as a process over SASL_SSL with SCRAM: every input
// record is counted exactly once, and neither its log, its standard output
// nor its /metrics carry the Kafka password or the secrets planted in its
// environment.
func TestSecureKafkaStage(t *testing.T) {
	if testing.Short() {
		t.Skip("real Kafka")
	}
	s := stackSecure(t)
	plain := pt.RealBrokers(t)
	kafkaPassword := readSecret(t, s.passwordFile)
	name := fmt.Sprintf("sec-count-%d", time.Now().UnixNano())
	in, out := name+".in", name+".out"
	// The harness reaches the same broker through its plain listener.
	pt.CreateTopics(t, plain, 3, []string{in, out, name + ".rejected"}, name+".changelog")
	want := pt.ProduceKeyed(t, plain, in, 0, 600, 13)

	t.Setenv("ACCRUE_CLICKHOUSE_PASSWORD", plantedClickHousePassword)
	t.Setenv("ACCRUE_PAYOUT_DEBTOR_IBAN", plantedIBAN)
	const metricsToken = "metrics-token-0123456789"
	t.Setenv("ACCRUE_METRICS_TOKENS", metricsToken)
	admin := pt.FreeAddr(t)
	p := pt.StartProc(t, pt.AccrueBinary(t), t.TempDir(), "count", append(s.kafkaArgs(),
		"stage", "count", "--name", name, "--input", in, "--output", out, "--admin-addr", admin)...)

	var got []*kgo.Record
	pt.WaitFor(t, 2*time.Minute, "every record counted over SASL_SSL", func() bool {
		if !p.Alive() {
			p.Died()
		}
		recs, err := pt.ReadTopic(context.Background(), plain, out)
		got = recs
		return err == nil && len(recs) >= 600
	})
	if err := pt.CheckCounts(got, want); err != nil {
		t.Error(err)
	}
	// /metrics is behind ACCRUE_METRICS_TOKENS; the probes are not.
	for _, tok := range []string{"", "wrong-metrics-token-0123"} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+admin+"/metrics", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("/metrics with token %q: %v %v, want 401", tok, resp.StatusCode, err)
		} else {
			resp.Body.Close()
		}
	}
	scrape(t, "http://"+admin+"/healthz", "")
	scrape(t, "http://"+admin+"/readyz", "")
	metrics := scrape(t, "http://"+admin+"/metrics", metricsToken)
	if !strings.Contains(metrics, "accrue_kafka_") || !strings.Contains(metrics, "accrue_stage_") {
		t.Errorf("/metrics lacks the Kafka client's and the stage's metrics:\n%.2000s", metrics)
	}
	stdout := string(p.Stop())
	logb, err := os.ReadFile(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	log := string(logb)
	if !strings.Contains(log, "--kafka-sasl-password-file="+s.passwordFile) ||
		!strings.Contains(log, "ACCRUE_CLICKHOUSE_PASSWORD=[redacted]") {
		t.Errorf("the start line does not show the configuration with its secrets redacted:\n%.3000s", log)
	}
	noSecrets(t, map[string]string{"log": log, "stdout": stdout, "/metrics": metrics},
		kafkaPassword, plantedClickHousePassword, plantedIBAN, plantedAccountNumber, metricsToken)
}

// Brokers that refuse a stage make it exit at once with a plain message
// naming them and the mechanism: a wrong password, a CA that did not sign
// their certificate, TLS against the plain listener.
func TestSecureKafkaRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("real Kafka")
	}
	s := stackSecure(t)
	plain := pt.RealBrokers(t)
	const wrong = "wrong-password-0815-abcdef"
	stage := []string{"stage", "count", "--name", "sec-refused", "--input", "sec-refused.in", "--output",
		"sec-refused.out", "--admin-addr", ""}
	args := func(broker, ca string) []string {
		return append([]string{"--brokers", broker, "--kafka-sasl-mechanism", s.mechanism, "--kafka-sasl-user", s.user,
			"--kafka-tls-ca-file", ca}, stage...)
	}
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"wrong password", []string{"ACCRUE_KAFKA_SASL_PASSWORD=" + wrong}, args(s.brokers, s.caFile),
			"authentication failed: wrong user or password"},
		{"untrusted CA", []string{"ACCRUE_KAFKA_SASL_PASSWORD_FILE=" + s.passwordFile}, args(s.brokers, otherCA(t)),
			"not signed by a trusted CA"},
		{"TLS to the plain listener", []string{"ACCRUE_KAFKA_SASL_PASSWORD_FILE=" + s.passwordFile}, args(plain[0], s.caFile),
			"closed the connection at once"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, stderr, status := runBinary(t, time.Minute, c.env, c.args...)
			if status != 1 {
				t.Fatalf("exit status %d, want 1 (-1: still running after a minute)\n%s", status, stderr)
			}
			if !strings.Contains(stderr, c.want) || !strings.Contains(stderr, s.mechanism) ||
				!strings.Contains(stderr, "as user "+s.user) {
				t.Errorf("the error does not say plainly what failed (%q, the broker and mechanism):\n%s", c.want, stderr)
			}
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("refused after %v; want at once", took)
			}
			noSecrets(t, map[string]string{"stderr": stderr}, wrong, readSecret(t, s.passwordFile))
		})
	}
}

// ClickHouse over TLS with a password: migrations apply; a wrong password
// and a CA that did not sign the server's certificate are refused with the
// server's or the TLS layer's reason.
func TestSecureClickHouse(t *testing.T) {
	if testing.Short() {
		t.Skip("real ClickHouse")
	}
	s := stackSecure(t)
	plainCH := pt.ClickHouseAddr(t)
	db := fmt.Sprintf("sec_migrate_%d", time.Now().UnixNano())
	pt.DropDatabaseAtCleanup(t, plainCH, db)

	out, stderr, status := runBinary(t, 2*time.Minute, nil, append([]string{"clickhouse", "migrate"}, s.chArgs(db)...)...)
	if status != 0 || !strings.Contains(out, "applied") {
		t.Fatalf("migrate over TLS with a password: status %d\n%s\n%s", status, out, stderr)
	}
	wrongArgs := []string{"clickhouse", "migrate", "--clickhouse-addr", s.chAddr, "--clickhouse-user", s.chUser,
		"--clickhouse-tls-ca-file", s.caFile, "--database", db}
	_, stderr, status = runBinary(t, time.Minute, []string{"ACCRUE_CLICKHOUSE_PASSWORD=" + plantedClickHousePassword}, wrongArgs...)
	if status != 1 || !strings.Contains(stderr, "Wrong password for user "+s.chUser) || !strings.Contains(stderr, s.chAddr) {
		t.Errorf("a wrong password: status %d\n%s", status, stderr)
	}
	_, stderr, status = runBinary(t, time.Minute, nil, append([]string{"clickhouse", "migrate"},
		append(s.chArgs(db), "--clickhouse-tls-ca-file", otherCA(t))...)...)
	if status != 1 || !strings.Contains(stderr, "certificate signed by unknown authority") {
		t.Errorf("an untrusted CA: status %d\n%s", status, stderr)
	}
	noSecrets(t, map[string]string{"stderr": stderr}, readSecret(t, s.chPasswordFile), plantedClickHousePassword)
}

// The ClickHouse sink reads a dead-letter topic over SASL_SSL and writes to
// ClickHouse over TLS with a password. The dead letter carries a bank
// account number; it reaches the table, and neither the sink's log nor its
// /metrics.
func TestSecureSink(t *testing.T) {
	if testing.Short() {
		t.Skip("real Kafka and ClickHouse")
	}
	s := stackSecure(t)
	plain := pt.RealBrokers(t)
	plainCH := pt.ClickHouseAddr(t)
	kafkaPassword, chPassword := readSecret(t, s.passwordFile), readSecret(t, s.chPasswordFile)
	suffix := time.Now().UnixNano()
	db, topic := fmt.Sprintf("sec_sink_%d", suffix), fmt.Sprintf("sec-sink-%d.rejected", suffix)
	pt.DropDatabaseAtCleanup(t, plainCH, db)
	if _, stderr, status := runBinary(t, 2*time.Minute, nil, append([]string{"clickhouse", "migrate"}, s.chArgs(db)...)...); status != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	pt.CreateTopics(t, plain, 1, []string{topic})
	const n = 5
	prod, err := kgo.NewClient(kgo.SeedBrokers(plain...))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		src := &kgo.Record{Topic: "sec-sink.raw", Partition: 0, Offset: int64(i),
			Value: fmt.Appendf(nil, `{"rep":"r%d","iban":%q}`, i, plantedIBAN)}
		dl := pipeline.NewDeadLetter(topic, "sec-sink", src, pipeline.Rejectf("bad_account", "iban", "account %s closed",
			plantedAccountNumber), time.Now())
		if err := prod.ProduceSync(context.Background(), dl).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	prod.Close()

	t.Setenv("ACCRUE_CLICKHOUSE_PASSWORD", plantedClickHousePassword) // the file wins; the planted value must not leak either
	admin := pt.FreeAddr(t)
	p := pt.StartProc(t, pt.AccrueBinary(t), t.TempDir(), "sink", append(append(s.kafkaArgs(),
		"sink", "clickhouse", "--name", fmt.Sprintf("sec-%d", suffix), "--topics", topic, "--admin-addr", admin,
		"--batch-interval", "200ms"), s.chArgs(db)...)...)

	conn, err := chdriver.Open(&chdriver.Options{Addr: []string{plainCH}, Auth: chdriver.Auth{Database: db}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var rows uint64
	pt.WaitFor(t, 2*time.Minute, "the dead letters in ClickHouse", func() bool {
		if !p.Alive() {
			p.Died()
		}
		err := conn.QueryRow(context.Background(), "SELECT count() FROM rejects").Scan(&rows)
		return err == nil && rows >= n
	})
	if rows != n {
		t.Errorf("%d rows, want %d", rows, n)
	}
	metrics := scrape(t, "http://"+admin+"/metrics", "")
	if !strings.Contains(metrics, "accrue_kafka_") {
		t.Errorf("/metrics lacks the Kafka client's metrics:\n%.2000s", metrics)
	}
	stdout := string(p.Stop())
	logb, err := os.ReadFile(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	noSecrets(t, map[string]string{"log": string(logb), "stdout": stdout, "/metrics": metrics},
		kafkaPassword, chPassword, plantedClickHousePassword, plantedIBAN, plantedAccountNumber)
}
