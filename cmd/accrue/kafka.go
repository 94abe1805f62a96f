package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// kafkaFlags are the global flags that say how accrue reaches Kafka
// securely. The SASL password never comes from a flag (it would show in
// ps): it is read from the file --kafka-sasl-password-file names, or from
// the environment variable ACCRUE_KAFKA_SASL_PASSWORD.
type kafkaFlags struct {
	saslMechanism, saslUser, saslPasswordFile string
	tls                                       bool
	tlsCAFile, tlsCertFile, tlsKeyFile        string
	tlsServerName                             string

	// security holds the SASL and TLS options built by load, for every
	// client accrue makes; nil until load ran.
	security []kgo.Opt
	// describe says how accrue connects, for errors: "SASL_SSL SCRAM-SHA-512 as accrue".
	describe string
}

func (f *kafkaFlags) register(cmd *cobra.Command) {
	fl := cmd.PersistentFlags()
	fl.StringVar(&f.saslMechanism, "kafka-sasl-mechanism", envOr("ACCRUE_KAFKA_SASL_MECHANISM", ""),
		"SASL mechanism: SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN; empty: no SASL (env ACCRUE_KAFKA_SASL_MECHANISM)")
	fl.StringVar(&f.saslUser, "kafka-sasl-user", envOr("ACCRUE_KAFKA_SASL_USER", ""),
		"SASL user name (env ACCRUE_KAFKA_SASL_USER)")
	fl.StringVar(&f.saslPasswordFile, "kafka-sasl-password-file", envOr("ACCRUE_KAFKA_SASL_PASSWORD_FILE", ""),
		"file holding the SASL password (env ACCRUE_KAFKA_SASL_PASSWORD_FILE; or the password itself in ACCRUE_KAFKA_SASL_PASSWORD)")
	fl.BoolVar(&f.tls, "kafka-tls", os.Getenv("ACCRUE_KAFKA_TLS") == "true",
		"connect to Kafka with TLS, checked against the system's roots unless --kafka-tls-ca-file is set (env ACCRUE_KAFKA_TLS=true)")
	fl.StringVar(&f.tlsCAFile, "kafka-tls-ca-file", envOr("ACCRUE_KAFKA_TLS_CA_FILE", ""),
		"PEM file of the CAs that sign the brokers' certificates; implies --kafka-tls (env ACCRUE_KAFKA_TLS_CA_FILE)")
	fl.StringVar(&f.tlsCertFile, "kafka-tls-cert-file", envOr("ACCRUE_KAFKA_TLS_CERT_FILE", ""),
		"PEM client certificate, for brokers that require one; implies --kafka-tls (env ACCRUE_KAFKA_TLS_CERT_FILE)")
	fl.StringVar(&f.tlsKeyFile, "kafka-tls-key-file", envOr("ACCRUE_KAFKA_TLS_KEY_FILE", ""),
		"PEM private key of --kafka-tls-cert-file (env ACCRUE_KAFKA_TLS_KEY_FILE)")
	fl.StringVar(&f.tlsServerName, "kafka-tls-server-name", envOr("ACCRUE_KAFKA_TLS_SERVER_NAME", ""),
		"name the brokers' certificates must carry, when it is not the host of their address (env ACCRUE_KAFKA_TLS_SERVER_NAME)")
}

// load reads the files the flags name and builds the SASL and TLS options.
// A missing file, an unknown mechanism or a half-given identity is a usage
// error.
func (f *kafkaFlags) load() error {
	f.security, f.describe = nil, "PLAINTEXT"
	tlsCfg, err := tlsConfig("kafka", f.tls, f.tlsCAFile, f.tlsCertFile, f.tlsKeyFile, f.tlsServerName)
	if err != nil {
		return err
	}
	if tlsCfg != nil {
		f.security = append(f.security, kgo.DialTLSConfig(tlsCfg))
		f.describe = "SSL"
	}
	if f.saslMechanism == "" {
		if f.saslUser != "" || f.saslPasswordFile != "" {
			return usageError{errors.New("kafka: a SASL user or password is set but no --kafka-sasl-mechanism")}
		}
		return nil
	}
	pass, err := secret("kafka SASL password", f.saslPasswordFile, "ACCRUE_KAFKA_SASL_PASSWORD")
	if err != nil {
		return err
	}
	if f.saslUser == "" || pass == "" {
		return usageError{fmt.Errorf("kafka: SASL %s needs --kafka-sasl-user and a password (--kafka-sasl-password-file or ACCRUE_KAFKA_SASL_PASSWORD)",
			f.saslMechanism)}
	}
	var mech sasl.Mechanism
	switch strings.ToUpper(f.saslMechanism) {
	case "SCRAM-SHA-512":
		mech = scram.Auth{User: f.saslUser, Pass: pass}.AsSha512Mechanism()
	case "SCRAM-SHA-256":
		mech = scram.Auth{User: f.saslUser, Pass: pass}.AsSha256Mechanism()
	case "PLAIN":
		if tlsCfg == nil {
			return usageError{errors.New("kafka: SASL PLAIN sends the password as it is; use it with TLS (--kafka-tls)")}
		}
		mech = plain.Auth{User: f.saslUser, Pass: pass}.AsMechanism()
	default:
		return usageError{fmt.Errorf("kafka: unknown SASL mechanism %q (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN)", f.saslMechanism)}
	}
	f.security = append(f.security, kgo.SASL(mech))
	if tlsCfg != nil {
		f.describe = "SASL_SSL"
	} else {
		f.describe = "SASL_PLAINTEXT"
	}
	f.describe += " " + mech.Name() + " as user " + f.saslUser
	return nil
}

// kafkaOpts are the options of every Kafka client accrue makes: the seed
// brokers, SASL and TLS as the global flags say, then extra. Library
// configs that take Brokers and ClientOpts get these as ClientOpts (their
// own seed option is the same). It is the one place that builds them.
func (g *globals) kafkaOpts(extra ...kgo.Opt) []kgo.Opt {
	opts := append([]kgo.Opt{kgo.SeedBrokers(g.brokerList()...)}, g.kafka.security...)
	return append(opts, extra...)
}

// checkKafka connects to the brokers once, within timeout, so that a
// command the brokers refuse (wrong password, untrusted certificate, a
// listener that speaks another protocol) exits at once with a plain
// message instead of retrying in the background for ever. Brokers that do
// not answer are only warned about: stages and servers wait for them.
func (g *globals) checkKafka(ctx context.Context, timeout time.Duration) error {
	cl, err := kgo.NewClient(g.kafkaOpts(kgo.RetryTimeout(timeout))...)
	if err != nil {
		return usageError{fmt.Errorf("kafka: %w", err)}
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = cl.Ping(ctx)
	if err == nil {
		return nil
	}
	if refused(err) {
		return g.kafkaError(err)
	}
	slog.Warn("kafka does not answer yet", "brokers", g.brokers, "security", g.kafka.describe, "err", err)
	return nil
}

// refused says whether err is the brokers' definite no: authentication
// or TLS failed, which no retry can mend.
func refused(err error) bool {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var certInvalid x509.CertificateInvalidError
	var recordHeader tls.RecordHeaderError
	var alert tls.AlertError
	var firstEOF *kgo.ErrFirstReadEOF
	// franz-go says so only in words when a plaintext client meets a TLS
	// listener.
	return strings.Contains(err.Error(), "speaking to a tls endpoint") ||
		errors.As(err, &firstEOF) || errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.UnsupportedSaslMechanism) ||
		errors.Is(err, kerr.IllegalSaslState) || errors.As(err, &unknownCA) || errors.As(err, &hostname) ||
		errors.As(err, &certInvalid) || errors.As(err, &recordHeader) || errors.As(err, &alert)
}

// offline are the commands that never talk to Kafka.
var offline = map[string]bool{"certificate": true, "clickhouse": true, "completion": true, "connector": true,
	"contest": true, "demo": true, "docs": true, "help": true, "simulate": true, "version": true}

// usesKafka says whether cmd talks to Kafka, by its top-level command.
func usesKafka(cmd *cobra.Command) bool {
	for cmd.HasParent() && cmd.Parent().HasParent() {
		cmd = cmd.Parent()
	}
	return cmd.HasParent() && !offline[cmd.Name()]
}

// kafkaError says in plain words why the brokers refused a connection.
func (g *globals) kafkaError(err error) error {
	where := fmt.Sprintf("kafka %s (%s)", g.brokers, g.kafka.describe)
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var certInvalid x509.CertificateInvalidError
	var recordHeader tls.RecordHeaderError
	var alert tls.AlertError
	var firstEOF *kgo.ErrFirstReadEOF
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return fmt.Errorf("%s: authentication failed: wrong user or password: %w", where, err)
	case errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.IllegalSaslState):
		return fmt.Errorf("%s: the broker does not accept this SASL mechanism here: %w", where, err)
	case errors.As(err, &unknownCA):
		return fmt.Errorf("%s: the broker's certificate is not signed by a trusted CA (--kafka-tls-ca-file): %w", where, err)
	case errors.As(err, &hostname):
		return fmt.Errorf("%s: the broker's certificate is for another name (--kafka-tls-server-name): %w", where, err)
	case errors.As(err, &certInvalid):
		return fmt.Errorf("%s: the broker's certificate is not valid: %w", where, err)
	case errors.As(err, &recordHeader):
		return fmt.Errorf("%s: the broker does not speak TLS on this port: %w", where, err)
	case strings.Contains(err.Error(), "speaking to a tls endpoint"):
		return fmt.Errorf("%s: the listener expects TLS (--kafka-tls): %w", where, err)
	case errors.As(err, &firstEOF):
		return fmt.Errorf("%s: the broker closed the connection at once; does this listener expect the security configured? %w", where, err)
	case errors.As(err, &alert):
		return fmt.Errorf("%s: the broker refused the TLS handshake (a client certificate missing or not trusted?): %w", where, err)
	case errors.Is(err, context.DeadlineExceeded), isNetTimeout(err):
		return fmt.Errorf("%s: no answer; is the address right, and does the listener expect TLS or SASL as configured? %w", where, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// tlsConfig builds the client TLS config of one service (kafka,
// clickhouse): nil when TLS is off; on when asked or when a CA or client
// certificate is given.
func tlsConfig(service string, on bool, caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	if !on && caFile == "" && certFile == "" {
		if keyFile != "" || serverName != "" {
			return nil, usageError{fmt.Errorf("%s: a TLS key or server name is set but TLS is off", service)}
		}
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, usageError{fmt.Errorf("%s TLS CA: %w", service, err)}
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, usageError{fmt.Errorf("%s TLS CA: %s holds no PEM certificate", service, caFile)}
		}
	}
	if (certFile == "") != (keyFile == "") {
		return nil, usageError{fmt.Errorf("%s TLS: a client certificate needs its key and a key its certificate", service)}
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, usageError{fmt.Errorf("%s TLS client certificate: %w", service, err)}
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// secret reads a secret from file (its first line's end trimmed), else from
// the environment variable env; what names it in errors. Empty when
// neither is set.
func secret(what, file, env string) (string, error) {
	if file == "" {
		return os.Getenv(env), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", usageError{fmt.Errorf("%s: %w", what, err)}
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
