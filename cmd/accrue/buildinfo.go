package main

import (
	"net/url"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Set at build time by deploy/docker/build.sh:
//
//	-ldflags "-X main.version=v1.2.3 -X main.commit=abc123 -X main.buildTime=2026-11-28T01:00:00Z"
//
// Builds without them take what runtime/debug knows (module version, VCS
// revision and time when built with VCS stamping).
var (
	version   string
	commit    string
	buildTime string
)

// build says which binary this is.
type build struct {
	Version, Commit, Time, Go string
	Modified                  bool // built from a work tree with changes
}

func buildInfo() build {
	b := build{Version: version, Commit: commit, Time: buildTime, Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Time == "" {
					b.Time = s.Value
				}
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	for _, p := range []*string{&b.Version, &b.Commit, &b.Time} {
		if *p == "" {
			*p = "unknown"
		}
	}
	if b.Version == "unknown" {
		b.Version = "(devel)"
	}
	return b
}

// longRunning says whether cmd runs until it is stopped (stages, sinks,
// servers): those log their build and configuration when they start. They
// are the commands with an admin or listen address.
func longRunning(cmd *cobra.Command) bool {
	return cmd.Flags().Lookup("admin-addr") != nil || strings.HasPrefix(cmd.Name(), "serve")
}

// secretName matches flags and environment variables whose values are
// secrets; names of files holding one (…-file, …_FILE) and key ids are not.
var secretName = regexp.MustCompile(`(?i)(password|secret|token|key|credential|iban|sasl)`)

func isSecret(name string) bool {
	n := strings.ToLower(name)
	if strings.HasSuffix(n, "-file") || strings.HasSuffix(n, "_file") || strings.HasSuffix(n, "key-id") || strings.HasSuffix(n, "key_id") {
		return false
	}
	return secretName.MatchString(n)
}

// redact returns value as it may be logged: "[redacted]" for a secret's,
// URLs without their password and query.
func redact(name, value string) string {
	if isSecret(name) {
		if value == "" {
			return ""
		}
		return "[redacted]"
	}
	if strings.Contains(value, "://") {
		// A URL may carry a password, or a token in its query.
		if u, err := url.Parse(value); err == nil && (u.User != nil || u.RawQuery != "") {
			if u.RawQuery != "" {
				u.RawQuery = "redacted"
			}
			return u.Redacted()
		}
	}
	return value
}

// startAttrs are what a long-running command logs when it starts: its
// build, every flag's effective value and the ACCRUE_* variables set,
// secrets redacted.
func startAttrs(cmd *cobra.Command) []any {
	b := buildInfo()
	attrs := []any{"command", cmd.CommandPath(), "version", b.Version, "commit", b.Commit, "built", b.Time,
		"go", b.Go}
	if b.Modified {
		attrs = append(attrs, "modified", true)
	}
	var flags []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" {
			return
		}
		v := f.Value.String()
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			items := append([]string(nil), sv.GetSlice()...) // GetSlice may share the flag's own slice
			for i := range items {
				items[i] = redact(f.Name, items[i])
			}
			v = "[" + strings.Join(items, ",") + "]"
		} else {
			v = redact(f.Name, v)
		}
		flags = append(flags, "--"+f.Name+"="+v)
	})
	var env []string
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ACCRUE_") {
			env = append(env, k+"="+redact(k, v))
		}
	}
	sort.Strings(env)
	return append(attrs, "config", strings.Join(flags, " "), "env", strings.Join(env, " "))
}
