package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/accrue/program"
)

const programsDir = "../../docs/programs"

// runAccrue runs the command line in process and reports what main would:
// standard output, standard error (with main's closing "accrue: …" line)
// and the exit status.
func runAccrue(t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRoot()
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	var ue usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		status = 2
	default:
		status = 1
	}
	if err != nil {
		fmt.Fprintln(&errb, "accrue:", err)
	}
	return out.String(), errb.String(), status
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func sameLines(t *testing.T, what, got string, want []string) {
	t.Helper()
	g := lines(got)
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n%s\nwant:\n%s", what, got, strings.Join(want, "\n"))
	}
}

// brokenProgram has four problems.
const brokenProgram = `id: broken
version: 1
currency: USD
period: month
effective_from: 2026-01-01
credit: {measure: count}
tiers:
  basis: attainment
  method: marginal
  bands:
    - {from: "0", rate: "10"}
    - {from: "0", rate: "20"}
overrides:
  - {level: 1, rate: "0.01"}
spiffs:
  - {id: s, when: 'amount > "x"', fixed: "5"}
`

func TestProgramValidate(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(programsDir, "*.yaml"))
	if len(files) < 4 {
		t.Fatalf("%d example programs", len(files))
	}
	out, errOut, status := runAccrue(t, append([]string{"program", "validate"}, files...)...)
	if status != 0 || errOut != "" || len(lines(out)) != len(files) {
		t.Fatalf("examples: status %d\n%s%s", status, out, errOut)
	}
	if !strings.Contains(out, filepath.Join(programsDir, "ae-commission.yaml")+`: ok: ae-commission@3 "Account executive commission", month in USD, effective 2026-01-01 to 2026-12-31, digest `) {
		t.Errorf("summary:\n%s", out)
	}

	dir := t.TempDir()
	bad := writeFile(t, dir, "broken.yaml", brokenProgram)
	good := files[0]
	out, errOut, status = runAccrue(t, "program", "validate", good, bad, filepath.Join(dir, "missing.yaml"))
	if status != 2 {
		t.Errorf("status %d, want 2", status)
	}
	if len(lines(out)) != 1 || !strings.HasPrefix(out, good+": ok: ") {
		t.Errorf("stdout:\n%s", out)
	}
	sameLines(t, "stderr", errOut, []string{
		bad + ":8:10: tiers.basis: attainment bands are fractions of quota and need a quota for every rep: add quota.default",
		bad + `:12:14: tiers.bands[1].from: bands rise strictly: 0 does not rise above the previous band's 0`,
		bad + ":13:1: overrides: overrides pay a share of amount or margin; this program measures count (credit.measure at line 6)",
		bad + `:16:27: spiffs[0].when: invalid operation: > (mismatched types float64 and string)`,
		filepath.Join(dir, "missing.yaml") + ": cannot read: no such file or directory",
		"accrue: 2 of 3 program documents are invalid",
	})

	// One id and version in two files with different documents.
	other := writeFile(t, dir, "other.yaml", strings.Replace(mustRead(t, good), "name:", "# edited\nname:", 1))
	_, errOut, status = runAccrue(t, "program", "validate", good, other)
	if status != 2 || !strings.Contains(errOut, other+":1:1: ae-commission@3 is also "+good+", with a different document") {
		t.Errorf("status %d\n%s", status, errOut)
	}
	if _, _, status = runAccrue(t, "program", "validate"); status != 1 {
		t.Errorf("no files: status %d", status)
	}
}

// The binary itself exits with status 2 on an invalid document.
func TestProgramValidateExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := pipelinetest.AccrueBinary(t)
	bad := writeFile(t, t.TempDir(), "broken.yaml", brokenProgram)
	cmd := exec.Command(bin, "program", "validate", bad)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want status 2\n%s", err, errb.String())
	}
	if n := len(lines(errb.String())); n != 5 || out.Len() != 0 {
		t.Errorf("stderr (%d lines):\n%s\nstdout:\n%s", n, errb.String(), out.String())
	}
	if err := exec.Command(bin, "program", "validate", filepath.Join(programsDir, "ae-commission.yaml")).Run(); err != nil {
		t.Errorf("a valid document: %v", err)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProgramPublishFake(t *testing.T) {
	_, brokers := pipelinetest.Fake(t)
	pipelinetest.CreateTopics(t, brokers, 3, nil, program.Topic)
	testPublishListShow(t, brokers, program.Topic)
}

// The same against a real Kafka (ACCRUE_KAFKA_BROKERS; required under
// CI=true), on a topic of its own.
func TestProgramPublishKafka(t *testing.T) {
	brokers := pipelinetest.RealBrokers(t)
	topic := fmt.Sprintf("programs.test-%d", time.Now().UnixNano())
	pipelinetest.CreateTopics(t, brokers, 3, nil, topic)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = pipelinetest.Admin(t, brokers).DeleteTopics(ctx, topic)
	})
	testPublishListShow(t, brokers, topic)
}

func testPublishListShow(t *testing.T, brokers []string, topic string) {
	flags := []string{"--brokers", strings.Join(brokers, ","), "--topic", topic}
	accrue := func(args ...string) (string, string, int) {
		t.Helper()
		return runAccrue(t, append(args, flags...)...)
	}
	ae := filepath.Join(programsDir, "ae-commission.yaml")
	jp := filepath.Join(programsDir, "jp-retail.yaml")
	dir := t.TempDir()

	// Nothing published yet.
	out, errOut, status := accrue("program", "list")
	if status != 0 || out != "" || !strings.Contains(errOut, "no programs published on "+topic) {
		t.Fatalf("empty list: status %d\n%s%s", status, out, errOut)
	}

	// An invalid document stops the whole publication.
	bad := writeFile(t, dir, "broken.yaml", brokenProgram)
	_, errOut, status = accrue("program", "publish", ae, bad)
	if status != 2 || !strings.Contains(errOut, "accrue: nothing published: 1 of 2 program documents are invalid") {
		t.Fatalf("publish with an invalid document: status %d\n%s", status, errOut)
	}
	if n := len(pipelinetest.ReadAll(t, brokers, topic)); n != 0 {
		t.Fatalf("%d records after a refused publish", n)
	}

	// Two programs in one transaction.
	out, errOut, status = accrue("program", "publish", ae, jp)
	if status != 0 {
		t.Fatalf("publish: status %d\n%s%s", status, out, errOut)
	}
	sameLines(t, "publish", out, []string{
		ae + ": published ae-commission@3 (digest " + digestOf(t, ae)[:12] + ")",
		jp + ": published jp-retail@1 (digest " + digestOf(t, jp)[:12] + ")",
	})
	recs := pipelinetest.ReadAll(t, brokers, topic)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	cat := program.NewCatalog()
	for _, r := range recs {
		if err := cat.Apply(r.Key, r.Value); err != nil {
			t.Fatal(err)
		}
	}
	if p := cat.Latest("ae-commission"); p == nil || string(p.Document) != mustRead(t, ae) {
		t.Fatalf("ae-commission on the topic: %+v", p)
	}

	// The same documents again: nothing to do, nothing written.
	out, _, status = accrue("program", "publish", ae)
	if status != 0 || !strings.HasPrefix(out, ae+": ae-commission@3 is already published with this document (") ||
		!strings.HasSuffix(out, "); nothing to do\n") {
		t.Errorf("republish: status %d\n%s", status, out)
	}

	// The same id and version with another document is refused, and
	// nothing of the batch is written.
	changed := writeFile(t, dir, "ae-changed.yaml", strings.Replace(mustRead(t, ae), `rate: "0.08"`, `rate: "0.09"`, 1))
	v4 := writeFile(t, dir, "ae-v4.yaml", strings.Replace(mustRead(t, ae), "version: 3", "version: 4", 1))
	out, errOut, status = accrue("program", "publish", v4, changed)
	if status != 2 || !strings.Contains(errOut, changed+": ae-commission@3 is already published with a different document (digest "+digestOf(t, ae)[:12]) ||
		!strings.Contains(errOut, "accrue: nothing published: 1 of 2 programs would change a published version") {
		t.Errorf("changed version: status %d\n%s%s", status, out, errOut)
	}
	if n := len(pipelinetest.ReadAll(t, brokers, topic)); n != 2 {
		t.Fatalf("%d records after a refused publish, want 2", n)
	}

	// A new version in another currency would not add into the same
	// periods: refused, nothing written.
	eur := writeFile(t, dir, "ae-v5-eur.yaml", strings.Replace(strings.Replace(mustRead(t, ae), "version: 3", "version: 5", 1),
		"currency: USD", "currency: EUR", 1))
	out, errOut, status = accrue("program", "publish", eur)
	if status != 2 || !strings.Contains(errOut, eur+": ae-commission@5 does not fit the published versions of ae-commission: ") ||
		!strings.Contains(errOut, "accrue: nothing published: 1 of 1 programs do not fit the versions of their id") {
		t.Errorf("a version in another currency: status %d\n%s%s", status, out, errOut)
	}
	if n := len(pipelinetest.ReadAll(t, brokers, topic)); n != 2 {
		t.Fatalf("%d records after a refused publish, want 2", n)
	}

	// A new version is fine.
	if out, errOut, status = accrue("program", "publish", v4); status != 0 || !strings.Contains(out, "published ae-commission@4") {
		t.Fatalf("v4: status %d\n%s%s", status, out, errOut)
	}

	out, errOut, status = accrue("program", "list")
	if status != 0 {
		t.Fatalf("list: status %d\n%s", status, errOut)
	}
	ls := lines(out)
	if len(ls) != 4 || strings.Join(strings.Fields(ls[0]), " ") != "ID VERSION NAME EFFECTIVE DIGEST PUBLISHED" {
		t.Fatalf("list:\n%s", out)
	}
	for i, want := range []string{
		"ae-commission 3 Account executive commission 2026-01-01..2026-12-31 " + digestOf(t, ae)[:12],
		"ae-commission 4 Account executive commission 2026-01-01..2026-12-31 " + digestOf(t, v4)[:12],
		"jp-retail 1 店舗販売インセンティブ (retail stores, Japan) 2026-04-01..2027-03-31 " + digestOf(t, jp)[:12],
	} {
		row := strings.Join(strings.Fields(ls[i+1]), " ")
		if !strings.HasPrefix(row, want+" ") {
			t.Errorf("row %d: %q, want it to start %q", i+1, row, want)
		}
		if at, err := time.Parse(time.RFC3339, row[strings.LastIndexByte(row, ' ')+1:]); err != nil || time.Since(at) > 10*time.Minute {
			t.Errorf("row %d: published at %v (%v)", i+1, at, err)
		}
	}

	// show prints the document byte for byte: the latest, or a version.
	if out, _, status = accrue("program", "show", "ae-commission"); status != 0 || out != mustRead(t, v4) {
		t.Errorf("show latest: status %d\n%s", status, out)
	}
	if out, _, status = accrue("program", "show", "ae-commission", "--version", "3"); status != 0 || out != mustRead(t, ae) {
		t.Errorf("show --version 3: status %d\n%s", status, out)
	}
	_, errOut, status = accrue("program", "show", "ae-commission", "--version", "7")
	if status != 2 || !strings.Contains(errOut, `accrue: program "ae-commission" has no version 7 (published: 3, 4)`) {
		t.Errorf("show a missing version: status %d\n%s", status, errOut)
	}
	_, errOut, status = accrue("program", "show", "nope")
	if status != 2 || !strings.Contains(errOut, `accrue: program "nope" is not published on `+topic) {
		t.Errorf("show a missing program: status %d\n%s", status, errOut)
	}
}

func digestOf(t *testing.T, path string) string {
	t.Helper()
	p, err := program.Parse(path, []byte(mustRead(t, path)))
	if err != nil {
		t.Fatal(err)
	}
	return p.Digest
}
