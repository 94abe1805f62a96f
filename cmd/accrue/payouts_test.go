package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/xuri/excelize/v2"

	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// Bad flags are usage errors (exit status 2), found before any broker is
// reached, each with a message that names the flag.
func TestPayoutsExportRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	accts := filepath.Join(dir, "accounts.csv")
	if err := os.WriteFile(accts, []byte("rep_id,holder,iban\nR-1,Ann,DE89370400440532013001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "csv"}, "--period"},
		{[]string{"--period", "2026-11"}, "--format is required"},
		{[]string{"--period", "2026-11", "--format", "pdf"}, `--format "pdf"`},
		{[]string{"--period", "2026-11", "--format", "xlsx"}, "-o FILE.xlsx"},
		{[]string{"--period", "2026-11", "--format", "csv", "--accounts", accts}, "only for --format pain001"},
		{[]string{"--period", "2026-11", "--format", "pain001"}, "--debtor-name is required"},
		{[]string{"--period", "2026-11", "--format", "pain001", "--debtor-name", "X", "--debtor-iban", "DE00123", "--accounts", accts}, "****0123: not a valid IBAN"},
		{[]string{"--period", "2026-11", "--format", "pain001", "--debtor-name", "X", "--debtor-iban", "DE89370400440532013000",
			"--accounts", accts, "--execution-date", "3.12.2026"}, "--execution-date"},
		{[]string{"--period", "2026-11", "--format", "pain001", "--debtor-name", "X", "--debtor-iban", "DE89370400440532013000",
			"--accounts", accts}, "line 2: rep R-1: iban ****3001 is not a valid IBAN"},
		{[]string{"--period", "2026-11", "--format", "pain001", "--debtor-name", "X", "--debtor-iban", "DE89370400440532013000",
			"--accounts", filepath.Join(dir, "missing.csv")}, "--accounts"},
	} {
		_, _, err := runCLI(t, append([]string{"--log-level", "error", "--brokers", "127.0.0.1:1", "payouts", "export", "-q"}, tc.args...)...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want a usage error containing %q", tc.args, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "532013001") {
			t.Errorf("%v: the error shows an account number: %v", tc.args, err)
		}
	}
}

// An export from a topic writes CSV, XLSX and pain.001 files whose sums
// equal the payable records', and a summary that says so.
func TestPayoutsExport(t *testing.T) {
	_, brokers := pt.Fake(t)
	pt.CreateTopics(t, brokers, 2, []string{"payouts.payable"})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("payouts.payable"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	records := []string{
		`{"idempotency_key":"a","program_id":"ae","program_version":1,"period":"2026-11","rep_id":"R-1","currency":"EUR","amount":"100.10","event_id":"e1"}`,
		`{"idempotency_key":"a","program_id":"ae","program_version":1,"period":"2026-11","rep_id":"R-1","currency":"EUR","amount":"0.05","event_id":"e1"}`,
		`{"idempotency_key":"b","program_id":"ae","program_version":1,"period":"2026-11","rep_id":"R-2","currency":"EUR","amount":"20.00","event_id":"e2"}`,
		`{"idempotency_key":"c","program_id":"ae","program_version":1,"period":"2026-11","rep_id":"R-2","currency":"EUR","amount":"-30.00","event_id":"e3"}`,
		`{"idempotency_key":"d","program_id":"jp","program_version":1,"period":"2026-11","rep_id":"R-3","currency":"JPY","amount":"1500","event_id":"e4"}`,
		`{"idempotency_key":"e","program_id":"ae","program_version":1,"period":"2026-10","rep_id":"R-1","currency":"EUR","amount":"999.00","event_id":"e5"}`,
	}
	for _, r := range records {
		var p struct {
			Rep string `json:"rep_id"`
		}
		_ = json.Unmarshal([]byte(r), &p)
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(p.Rep), Value: []byte(r)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{"R-1|EUR": "100.15", "R-2|EUR": "-10", "R-3|JPY": "1500"}
	dir := t.TempDir()
	base := []string{"--log-level", "error", "--brokers", strings.Join(brokers, ","), "payouts", "export", "--period", "2026-11"}

	// A period without records is a mistake in the flag, not an empty file.
	_, _, err = runCLI(t, "--log-level", "error", "--brokers", strings.Join(brokers, ","), "payouts", "export", "--period", "2026-1",
		"--format", "csv", "-o", filepath.Join(dir, "none.csv"))
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "periods there: 2026-11, 2026-10") {
		t.Errorf("error %v, want a usage error listing the periods there", err)
	}

	csvPath := filepath.Join(dir, "p.csv")
	if _, stderr, err := runCLI(t, append(base, "--format", "csv", "-o", csvPath)...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	f, _ := os.Open(csvPath)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 4 {
		t.Fatalf("csv rows %v (%v)", rows, err)
	}
	for _, r := range rows[1:] {
		if !decimal.RequireFromString(r[3]).Equal(decimal.RequireFromString(want[r[1]+"|"+r[2]])) {
			t.Errorf("csv row %v, want %s", r, want[r[1]+"|"+r[2]])
		}
	}

	xlsxPath := filepath.Join(dir, "p.xlsx")
	if _, stderr, err := runCLI(t, append(base, "--format", "xlsx", "-o", xlsxPath)...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	x, err := excelize.OpenFile(xlsxPath)
	if err != nil {
		t.Fatal(err)
	}
	xrows, _ := x.GetRows("Payouts", excelize.Options{RawCellValue: true})
	x.Close()
	if len(xrows) != 4 {
		t.Fatalf("xlsx rows %v", xrows)
	}
	for _, r := range xrows[1:] {
		if !decimal.RequireFromString(r[3]).Equal(decimal.RequireFromString(want[r[1]+"|"+r[2]])) {
			t.Errorf("xlsx row %v, want %s", r, want[r[1]+"|"+r[2]])
		}
	}

	accts := filepath.Join(dir, "accounts.csv")
	if err := os.WriteFile(accts, []byte("rep_id,holder,iban,bic\nR-1,Ann Example,DE89370400440532013000,COBADEFFXXX\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	painPath := filepath.Join(dir, "p.xml")
	painArgs := append(base, "--format", "pain001", "-o", painPath, "--accounts", accts, "--debtor-name", "Example Corp",
		"--debtor-iban", "EUR=GB29NWBK60161331926819", "--debtor-iban", "JPY=GB94BARC10201530093459", "--execution-date", "2026-12-03")
	_, stderr, err := runCLI(t, painArgs...)
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "R-3") || strings.Contains(err.Error(), "R-1 ") {
		t.Fatalf("error %v, want a usage error naming R-3, who has no account", err)
	}
	if _, statErr := os.Stat(painPath); statErr == nil {
		t.Error("a refused pain.001 left a file")
	}
	_, stderr, err = runCLI(t, append(painArgs, "--skip-missing-accounts")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var sum payoutsExportSummary
	if err := json.Unmarshal([]byte(stderr[strings.Index(stderr, "{"):]), &sum); err != nil {
		t.Fatalf("summary %q: %v", stderr, err)
	}
	if sum.ControlSum != "100.15" || len(sum.Paid) != 1 || len(sum.Skipped) != 2 || sum.Records != 6 || sum.OfPeriod != 5 {
		t.Errorf("summary %+v", sum)
	}
	doc, _ := os.ReadFile(painPath)
	if !strings.Contains(string(doc), `<InstdAmt Ccy="EUR">100.15</InstdAmt>`) || !strings.Contains(string(doc), "<CtrlSum>100.15</CtrlSum>") {
		t.Errorf("pain.001 does not pay R-1 100.15:\n%s", doc)
	}
	if sum.Totals[0].Currency != "EUR" || !strings.Contains(stderr, `"amount": "90.15"`) || !strings.Contains(stderr, `"amount": "-10.00"`) {
		t.Errorf("summary amounts not with their minor units:\n%s", stderr)
	}
	if strings.Contains(stderr, "532013000") {
		t.Error("the summary shows an account number")
	}
}
