package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const simProgramAE = `id: ae
version: 1
currency: USD
period: month
effective_from: 2026-01-01
participants: {roles: [AE]}
credit:
  filter: 'product.category == "software"'
  measure: amount
quota: {default: "10000"}
tiers:
  basis: attainment
  method: marginal
  bands:
    - {from: "0", rate: "0.02"}
    - {from: "0.5", rate: "0.05"}
spiffs:
  - {id: launch, when: 'product_id == "P-NEW"', fixed: "100"}
overrides:
  - {level: 1, rate: "0.01"}
nudges:
  attainment_crossed: ["0.5"]
badges:
  - {id: first-sale, metric: count, at_least: "1"}
`

const simProgramUnits = `id: units
version: 1
currency: EUR
period: quarter
effective_from: 2026-01-01
credit: {measure: quantity}
tiers:
  basis: measure
  method: marginal
  bands: [{from: "0", rate: "5"}]
`

const simReps = `{"rep_id":"R-1","role":"AE","manager_id":"M-1","valid_from":"2026-01-01"}
{"rep_id":"R-2","role":"AE","manager_id":"M-1","valid_from":"2026-01-01"}
{"rep_id":"M-1","role":"MGR","valid_from":"2026-01-01"}
`

const simProducts = `{"product_id":"P-1","category":"software"}
{"product_id":"P-NEW","category":"software"}
{"product_id":"P-HW","category":"hardware"}
`

const simFX = `{"from":"EUR","to":"USD","rate":"1.1","valid_from":"2026-01-01"}
`

const simEvents = `{"source":"erp","txn_id":"S1","type":"sale","event_time":"2026-11-03T10:00:00Z","rep_id":"R-1","product_id":"P-NEW","quantity":"2","amount":{"value":"6000.00","currency":"USD"}}
{"source":"erp","txn_id":"S2","type":"sale","event_time":"2026-11-04T10:00:00Z","rep_id":"R-2","product_id":"P-HW","quantity":"1","amount":{"value":"1000.00","currency":"USD"}}
{"source":"erp","txn_id":"S2","type":"sale","event_time":"2026-11-04T10:00:00Z","rep_id":"R-2","product_id":"P-HW","quantity":"1","amount":{"value":"1000.00","currency":"USD"}}
{"source":"erp","txn_id":"R1","type":"return","ref_txn_id":"S1","event_time":"2026-11-05T10:00:00Z","quantity":"1","amount":{"value":"3000.00","currency":"USD"}}
{"source":"erp","txn_id":"S3","type":"sale","event_time":"2026-11-06T10:00:00Z","rep_id":"R-9","product_id":"P-1","amount":{"value":"10.00","currency":"USD"}}
{"source":"erp","txn_id":"S4","type":"sale","event_time":"2026-11-07T10:00:00Z","rep_id":"R-2","product_id":"P-1","amount":{"value":"100.00","currency":"GBP"}}
{
`

func simFiles(t *testing.T) (dir string, args []string) {
	t.Helper()
	dir = t.TempDir()
	return dir, []string{"simulate",
		"--program", writeFile(t, dir, "ae.yaml", simProgramAE),
		"--program", writeFile(t, dir, "units.yaml", simProgramUnits),
		"--reps", writeFile(t, dir, "reps.jsonl", simReps),
		"--products", writeFile(t, dir, "products.jsonl", simProducts),
		"--fx", writeFile(t, dir, "fx.jsonl", simFX),
		"--events", writeFile(t, dir, "events.jsonl", simEvents),
	}
}

// TestSimulate runs `accrue simulate` end to end. The figures, by hand:
//
//	S1 R-1 6000 USD of P-NEW, 2 units: ae M 6000 → 5000×0.02 + 1000×0.05 = 150,
//	   spiff launch 100, crosses 0.5 (0.6000), first-sale; M-1 overrides 1% = 60.
//	   units (EUR, quantity): R-1 2.
//	S2 R-2 hardware: not for ae (filter); units R-2 1. Its copy is a duplicate.
//	R1 returns 3000 of S1 and 1 unit: ae R-1 M 3000 → 60, the spiff stays;
//	   M-1 −30 → 30. units R-1 1.
//	S3 names R-9: unknown_rep. S4 in GBP: no rate into USD, fx_rate_missing.
//	The last line is not JSON: malformed_json.
//	units pays 5 a unit: 5.00 each, in the quarter 2026-Q4.
func TestSimulate(t *testing.T) {
	dir, args := simFiles(t)
	nudges, awards := filepath.Join(dir, "nudges.jsonl"), filepath.Join(dir, "awards.jsonl")
	stdout, stderr, status := runAccrue(t, append(args, "--nudges", nudges, "--awards", awards)...)
	if status != 0 {
		t.Fatalf("exit status %d\n%s", status, stderr)
	}
	sameLines(t, "statements", stdout, []string{
		`{"program_id":"ae","program_version":1,"period":"2026-11","rep_id":"M-1","currency":"USD","measure":"0.00","quota":"10000","attainment":"0.0000","commission":"0.00","spiff":"0.00","override":"30.00","earned":"30.00","capped":false}`,
		`{"program_id":"ae","program_version":1,"period":"2026-11","rep_id":"R-1","currency":"USD","measure":"3000.00","quota":"10000","attainment":"0.3000","commission":"60.00","spiff":"100.00","override":"0.00","earned":"160.00","capped":false}`,
		`{"program_id":"units","program_version":1,"period":"2026-Q4","rep_id":"R-1","currency":"EUR","measure":"1","quota":null,"attainment":null,"commission":"5.00","spiff":"0.00","override":"0.00","earned":"5.00","capped":false}`,
		`{"program_id":"units","program_version":1,"period":"2026-Q4","rep_id":"R-2","currency":"EUR","measure":"1","quota":null,"attainment":null,"commission":"5.00","spiff":"0.00","override":"0.00","earned":"5.00","capped":false}`,
	})
	sameLines(t, "stderr", stderr, []string{
		"events read                       7",
		"credited                          3",
		"duplicates                        1",
		"rejected                          3",
		"  fx_rate_missing                 1",
		"  malformed_json                  1",
		"  unknown_rep                     1",
		"clawback_window_expired           0",
	})
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	sameLines(t, "nudges", read(nudges), []string{
		`{"kind":"attainment_crossed","program_id":"ae","period":"2026-11","rep_id":"R-1","threshold":"0.5","attainment":"0.6000","event_id":"erp:S1:sale"}`,
	})
	sameLines(t, "awards", read(awards), []string{
		`{"badge":"first-sale","program_id":"ae","period":"2026-11","rep_id":"R-1","event_id":"erp:S1:sale"}`,
	})
}

func TestSimulateRefusesBadInput(t *testing.T) {
	dir, args := simFiles(t)
	bad := writeFile(t, dir, "bad.yaml", strings.Replace(simProgramAE, "currency: USD", "currency: XYZ", 1))
	missing := filepath.Join(dir, "missing.jsonl")
	badReps := writeFile(t, dir, "bad-reps.jsonl", simReps+`{"role":"AE"}`+"\n")
	for _, c := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"invalid program", []string{"simulate", "--program", bad, "--reps", args[6], "--events", args[12]}, "bad.yaml:3:"},
		{"no events file", []string{"simulate", "--program", args[2], "--reps", args[6], "--events", missing}, "missing.jsonl"},
		{"no reps file", []string{"simulate", "--program", args[2], "--reps", missing, "--events", args[12]}, "missing.jsonl"},
		{"bad reps row", []string{"simulate", "--program", args[2], "--reps", badReps, "--events", args[12]}, "bad-reps.jsonl:4:"},
		{"no events flag", []string{"simulate", "--program", args[2], "--reps", args[6]}, "--events"},
		{"program versions that disagree", []string{"simulate", "--program", args[2], "--program",
			writeFile(t, dir, "ae2.yaml", strings.Replace(strings.Replace(simProgramAE, "version: 1", "version: 2", 1), "currency: USD", "currency: EUR", 1)),
			"--reps", args[6], "--events", args[12]}, "currency"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, status := runAccrue(t, c.args...)
			if status != 2 {
				t.Errorf("exit status %d, want 2\n%s", status, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout: %s", stdout)
			}
			if !strings.Contains(stderr, c.stderr) {
				t.Errorf("stderr does not name %q:\n%s", c.stderr, stderr)
			}
		})
	}
}
