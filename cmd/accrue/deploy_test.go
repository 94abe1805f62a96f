package main

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

// repoRoot is the repository's root, from this package's folder.
const repoRoot = "../.."

func readRepo(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkInvocation checks that args name a runnable command of the binary
// and that its flags and arguments parse, as `accrue ARGS` would.
func checkInvocation(args []string) error {
	root := newRoot()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if cmd == root || !cmd.Runnable() {
		return fmt.Errorf("%q is not a command that runs", strings.Join(args, " "))
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	return nil
}

// checkEnv checks that an ACCRUE_* variable is one the binary reads.
func checkEnv(t *testing.T, name string) error {
	if !strings.HasPrefix(name, "ACCRUE_") {
		return nil
	}
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		if bytes.Contains(readRepo(t, filepath.Join("cmd/accrue", f)), []byte(`"`+name+`"`)) {
			return nil
		}
	}
	return fmt.Errorf("environment variable %s is read by no command", name)
}

// imageFiles maps folders of the image to folders of the repository, from
// the Dockerfile's COPY --from=build /src/DIR TARGET lines.
func imageFiles(t *testing.T) map[string]string {
	out := map[string]string{}
	re := regexp.MustCompile(`(?m)^COPY --from=build /src/(\S+) (/\S+)$`)
	for _, m := range re.FindAllStringSubmatch(string(readRepo(t, "deploy/docker/Dockerfile")), -1) {
		out[m[2]] = m[1]
	}
	return out
}

// checkFiles checks that every argument naming a file under one of the
// mounts (container folder → repository folder) names a file of the
// repository.
func checkFiles(args []string, mounts map[string]string) error {
	for _, a := range args {
		_, v, ok := strings.Cut(a, "=")
		if !ok {
			v = a
		}
		for target, src := range mounts {
			if rel, ok := strings.CutPrefix(v, target+"/"); ok {
				if _, err := os.Stat(filepath.Join(repoRoot, src, rel)); err != nil {
					return fmt.Errorf("%s: %s is mounted from %s, which has no %s", a, target, src, rel)
				}
			}
		}
	}
	return nil
}

// TestDockerfile checks that the image builds the binary with
// deploy/docker/build.sh (so that TestImageBinary builds the same thing),
// with the Go of go.mod, runs as a non-root user and is labelled.
func TestDockerfile(t *testing.T) {
	df := string(readRepo(t, "deploy/docker/Dockerfile"))
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(readRepo(t, "go.mod")))
	if goVersion == nil || !strings.Contains(df, "ARG GO_VERSION="+goVersion[1]+"\n") {
		t.Errorf("the Dockerfile's GO_VERSION is not go.mod's go %v", goVersion)
	}
	for _, want := range []string{"sh deploy/docker/build.sh /out/accrue", "FROM gcr.io/distroless/static",
		"USER 65532:65532", "org.opencontainers.image.revision", `ENTRYPOINT ["/usr/local/bin/accrue"]`} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if strings.Contains(df, "go build") {
		t.Error("the Dockerfile runs go build itself: it must use deploy/docker/build.sh, which CI runs too")
	}
}

// TestImageBinary builds the binary exactly as the image does
// (deploy/docker/build.sh) and checks that it is static, carries the
// version, commit and build time it was given, and that a stage logs them
// with its configuration when it starts, without the secrets planted in
// its environment.
func TestImageBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "accrue")
	build := exec.Command("sh", filepath.Join(repoRoot, "deploy/docker/build.sh"), bin)
	build.Env = append(os.Environ(), "VERSION=v9.8.7-test", "COMMIT=0123456789abcdef", "BUILD_TIME=2026-11-28T01:02:03Z")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (%v): the distroless static image cannot run it", p.Type)
		}
	}
	f.Close()

	out, err := exec.Command(bin, "version").Output()
	if want := "accrue v9.8.7-test commit 0123456789abcdef built 2026-11-28T01:02:03Z go1."; err != nil || !strings.HasPrefix(string(out), want) {
		t.Errorf("version: %v: %q, want it to start with %q", err, out, want)
	}

	// The doctor's exit statuses, as main maps them: 1 for problems, 2 for
	// a usage error.
	for args, want := range map[string]int{"doctor --brokers 127.0.0.1:1 --no-clickhouse --timeout 1s": 1, "doctor --no-such-flag": 2} {
		err := exec.Command(bin, strings.Fields(args)...).Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != want {
			t.Errorf("accrue %s: %v, want exit status %d", args, err, want)
		}
	}

	// A stage against a broker that is not there: it logs its start line,
	// then waits for the broker until it is stopped.
	const planted = "planted-Secret-4711"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	stage := exec.CommandContext(ctx, bin, "stage", "count", "--input", "in", "--output", "out", "--brokers", "127.0.0.1:1",
		"--admin-addr", "", "--instance-id", "doctor-test")
	stage.Env = append(os.Environ(), "ACCRUE_CLICKHOUSE_PASSWORD="+planted, "ACCRUE_INGEST_TOKENS="+planted+",other",
		"ACCRUE_WEBHOOK_SECRET="+planted, "ACCRUE_WALLET_KEY="+planted, "ACCRUE_WEBHOOK_URL=https://user:"+planted+"@example.test/hook")
	var stderr bytes.Buffer
	stage.Stderr = &stderr
	err = stage.Run()
	if ee := (*exec.ExitError)(nil); err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	log := stderr.String()
	for _, want := range []string{`msg=starting`, `command="accrue stage count"`, "version=v9.8.7-test", "commit=0123456789abcdef",
		"built=2026-11-28T01:02:03Z", "--brokers=127.0.0.1:1", "--input=in", "--instance-id=doctor-test",
		"ACCRUE_CLICKHOUSE_PASSWORD=[redacted]", "ACCRUE_WEBHOOK_URL=https://user:xxxxx@example.test/hook"} {
		if !strings.Contains(log, want) {
			t.Errorf("the start log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, planted) || strings.Contains(strings.ToLower(log), strings.ToLower(planted)) {
		t.Errorf("a secret reached the log:\n%s", log)
	}
}

// composeFile is what the test reads of compose.yaml.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		DependsOn   any               `yaml:"depends_on"`
	} `yaml:"services"`
}

// TestComposeFile parses deploy/docker/compose.yaml (no docker compose
// here) and checks every accrue service: its command and flags exist in
// this binary, the files it names are mounted from the repository, and
// its ACCRUE_* variables are read by the binary; and that every stage of
// the pipeline, the sink, the init jobs and Grafana are there.
func TestComposeFile(t *testing.T) {
	var c composeFile
	if err := yaml.UnmarshalWithOptions(readRepo(t, "deploy/docker/compose.yaml"), &c, yaml.AllowDuplicateMapKey()); err != nil {
		t.Fatal(err)
	}
	var commands []string
	for name, s := range c.Services {
		if s.Image != "accrue:dev" {
			continue
		}
		if len(s.Command) == 0 {
			t.Errorf("service %s: no command", name)
			continue
		}
		if err := checkInvocation(s.Command); err != nil {
			t.Errorf("service %s: %v", name, err)
		}
		mounts := imageFiles(t)
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) < 2 {
				continue
			}
			src, err := filepath.Rel(repoRoot, filepath.Join("../../deploy/docker", parts[0]))
			if err != nil || strings.HasPrefix(src, "..") {
				t.Errorf("service %s: volume %s is not in the repository", name, v)
				continue
			}
			mounts[parts[1]] = src
		}
		if err := checkFiles(s.Command, mounts); err != nil {
			t.Errorf("service %s: %v", name, err)
		}
		for k := range s.Environment {
			if err := checkEnv(t, k); err != nil {
				t.Errorf("service %s: %v", name, err)
			}
		}
		commands = append(commands, strings.Join(s.Command[:min(2, len(s.Command))], " "))
	}
	sort.Strings(commands)
	for _, want := range []string{"topics create", "clickhouse migrate", "program publish", "serve --addr", "stage ingest",
		"stage link", "stage accrue", "stage leaderboard", "stage deliver", "stage contest", "stage wallet", "serve-wallet --addr", "sink clickhouse"} {
		found := false
		for _, c := range commands {
			found = found || c == want
		}
		if !found {
			t.Errorf("compose.yaml runs no %q; it runs %q", want, commands)
		}
	}
	for _, s := range []string{"kafka", "clickhouse", "grafana", "prometheus"} {
		if _, ok := c.Services[s]; !ok {
			t.Errorf("compose.yaml has no service %s", s)
		}
	}
	for _, f := range []string{"deploy/docker/prometheus.yml", "deploy/docker/grafana/datasources.yaml",
		"deploy/docker/grafana/dashboards.yaml", "deploy/grafana/accrue.json"} {
		readRepo(t, f)
	}
}
