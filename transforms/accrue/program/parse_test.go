package program

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/transforms/reference"
)

var update = flag.Bool("update", false, "rewrite the .problems files of testdata/invalid from Parse's output")

// examplesDir holds the example programs that the reference documents.
const examplesDir = "../../../docs/programs"

func exampleFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("found %d example programs in %s (%v)", len(files), examplesDir, err)
	}
	return files
}

func parseFile(t testing.TB, path string) (*Program, error) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(path, b)
}

// Each broken document in testdata/invalid is refused with exactly the
// problems of its .problems file: every problem, each at its line and
// column. Run with -update to rewrite them, then read the diff.
func TestParseInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) < 10 {
		t.Fatalf("found %d invalid documents", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			p, err := parseFile(t, f)
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse = %v, %v; want Problems", p, err)
			}
			if p != nil {
				t.Errorf("Parse returned a Program with problems")
			}
			for _, q := range ps {
				if q.Line < 1 || q.Column < 1 || q.File != f || q.Msg == "" {
					t.Errorf("problem without a place: %+v", q)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".problems"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("problems differ.\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestParseExamples(t *testing.T) {
	for _, f := range exampleFiles(t) {
		p, err := parseFile(t, f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if want := strings.TrimSuffix(filepath.Base(f), ".yaml"); p.ID != want {
			t.Errorf("%s: id %q; name example files after their id", f, p.ID)
		}
	}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func date(s string) reference.Date {
	d, err := reference.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// The example of PROGRAMS.md §3, read field by field.
func TestParseContractExample(t *testing.T) {
	p, err := parseFile(t, filepath.Join(examplesDir, "ae-commission.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s: %+v", what, p)
		}
	}
	check("identity", p.ID == "ae-commission" && p.Version == 3 && p.Name == "Account executive commission")
	check("currency and zone", p.Currency == "USD" && p.TimezoneName == "UTC" && p.Location == time.UTC && p.Period == Month)
	check("dates", p.EffectiveFrom == date("2026-01-01") && p.EffectiveTo == date("2026-12-31") && p.HasEnd)
	check("participants", len(p.Participants.Roles) == 1 && p.Participants.Roles[0] == "AE" && len(p.Participants.Reps) == 0)
	check("credit", p.Credit.Measure == Amount && p.Credit.Filter.String() == `product.category in ["software", "services"]`)
	q := p.Quota
	check("quota", q != nil && q.Default.Valid && q.Default.Decimal.Equal(dec("100000")) &&
		q.ByRole["AE"].Equal(dec("120000")) && q.ByRep["R-17"].Equal(dec("90000")))
	check("tiers", p.Tiers.Basis == Attainment && p.Tiers.Method == Marginal && len(p.Tiers.Bands) == 3 &&
		p.Tiers.Bands[1].From.Equal(dec("0.5")) && p.Tiers.Bands[2].Rate.Equal(dec("0.08")))
	check("cap", p.Cap != nil && p.Cap.Equal(dec("50000")))
	check("spiffs", len(p.Spiffs) == 1 && p.Spiffs[0].ID == "launch" && p.Spiffs[0].Fixed.Valid &&
		p.Spiffs[0].Fixed.Decimal.Equal(dec("100")) && !p.Spiffs[0].Rate.Valid && p.Spiffs[0].MaxPerPeriod == 10)
	check("clawback", p.Clawback != nil && p.Clawback.WindowDays == 90)
	check("overrides", len(p.Overrides) == 2 && p.Overrides[0].Level == 1 && p.Overrides[1].Rate.Equal(dec("0.005")))
	check("nudges", len(p.Nudges.AttainmentCrossed) == 3 && p.Nudges.AttainmentCrossed[2].Equal(dec("1")) &&
		p.Nudges.NearNextTierWithin.Valid && p.Nudges.NearNextTierWithin.Decimal.Equal(dec("0.1")))
	check("badges", len(p.Badges) == 2 && p.Badges[1].ID == "quota-club" && p.Badges[1].Metric == MetricAttainment)
	check("digest", len(p.Digest) == 64)

	env := &Env{Product: map[string]any{"category": "software"}, ProductID: "P-NEW"}
	if ok, err := p.Credit.Filter.Match(env); !ok || err != nil {
		t.Errorf("filter on software: %v, %v", ok, err)
	}
	env.Product["category"] = "hardware"
	if ok, err := p.Credit.Filter.Match(env); ok || err != nil {
		t.Errorf("filter on hardware: %v, %v", ok, err)
	}
	if ok, _ := p.Spiffs[0].When.Match(env); !ok {
		t.Errorf("spiff when on P-NEW did not match")
	}
}

const minimal = `id: m
version: 1
currency: USD
period: month
effective_from: 2026-01-01
credit: {measure: amount}
tiers:
  basis: measure
  method: marginal
  bands:
    - {from: 0, rate: 0.01}
`

func TestParseMinimalDefaults(t *testing.T) {
	p, err := Parse("m.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "m" || p.TimezoneName != "UTC" || p.Location != time.UTC || p.HasEnd || p.Quota != nil ||
		p.Cap != nil || p.Clawback != nil || p.Credit.Filter != nil || len(p.Spiffs)+len(p.Overrides)+len(p.Badges) != 0 ||
		p.Nudges.NearNextTierWithin.Valid || len(p.Nudges.AttainmentCrossed) != 0 {
		t.Fatalf("defaults: %+v", p)
	}
	if ok, err := p.Credit.Filter.Match(&Env{}); !ok || err != nil {
		t.Errorf("a nil filter matches everything: %v, %v", ok, err)
	}
}

// Decimals are read from their text: digits a float64 would lose survive,
// whether written as YAML numbers or as strings.
func TestParseDecimalsExactly(t *testing.T) {
	doc := strings.Replace(minimal, "{from: 0, rate: 0.01}",
		"{from: 0, rate: 0.1000000000000000055511151231257827}\n    - {from: \"12345678901234567890.123456789\", rate: 0.30}", 1)
	p, err := Parse("d.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Tiers.Bands[0].Rate.String(); got != "0.1000000000000000055511151231257827" {
		t.Errorf("rate %s", got)
	}
	if got := p.Tiers.Bands[1].From.String(); got != "12345678901234567890.123456789" {
		t.Errorf("from %s", got)
	}
	if got := p.Tiers.Bands[1].Rate; got.String() != "0.3" || got.Exponent() != -2 {
		t.Errorf("0.30 read as %s (exponent %d)", got, got.Exponent())
	}
}

// Effective dates are the local dates as written, in the program's zone.
func TestParseLocalDates(t *testing.T) {
	doc := strings.Replace(minimal, "effective_from: 2026-01-01\n",
		"timezone: Pacific/Auckland\neffective_from: 2026-01-01\neffective_to: 2026-01-01\n", 1)
	p, err := Parse("z.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if p.EffectiveFrom != date("2026-01-01") || p.EffectiveTo != p.EffectiveFrom || p.Location.String() != "Pacific/Auckland" {
		t.Fatalf("%v..%v in %v", p.EffectiveFrom, p.EffectiveTo, p.Location)
	}
	// 2025-12-31T12:00Z is already 2026-01-01 in Auckland.
	if !p.InEffect(LocalDate(time.Date(2025, 12, 31, 12, 0, 0, 0, time.UTC), p.Location)) {
		t.Errorf("2025-12-31T12:00Z is 2026-01-01 in Auckland, inside the program")
	}
	if p.InEffect(LocalDate(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), p.Location)) {
		t.Errorf("2026-01-01T12:00Z is 2026-01-02 in Auckland, after the program")
	}
}

func TestParseDigestAndDocument(t *testing.T) {
	b := []byte(minimal)
	p, err := Parse("m.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if p.Digest != hex.EncodeToString(sum[:]) || string(p.Document) != minimal {
		t.Fatalf("digest %s, document %q", p.Digest, p.Document)
	}
	b[0] = 'X'
	if p.Document[0] != 'i' {
		t.Errorf("Document shares the caller's bytes")
	}
	q, _ := Parse("m.yaml", []byte(minimal+"# a comment changes the digest\n"))
	if q.Digest == p.Digest {
		t.Errorf("different documents, same digest")
	}
}

// A few refusals that need no file of their own.
func TestParseProblems(t *testing.T) {
	long := strings.Repeat(`product_id == "P-1" || `, 200) + "true"
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"overlong expression", strings.Replace(minimal, "{measure: amount}", "{measure: amount, filter: '"+long+"'}", 1),
			"m.yaml:6:35: credit.filter: the expression is 4604 bytes long, more than 4096"},
		{"empty", "", "m.yaml:1:1: id: id is missing"},
		{"scalar", "just text\n", "m.yaml:1:1: a program document is a mapping of keys (id: …, version: …), not the text \"just text\""},
		{"not UTF-8", "id: caf\xe9\n", "m.yaml:1:8: the document is not UTF-8 text"},
		{"alias", minimal + "name: &n x\nspiffs: *n\n", "m.yaml:13:9: aliases (*name) are not supported in a program document; write the value out"},
		{"duplicate key", minimal + "id: again\n", `m.yaml:12:1: YAML syntax: mapping key "id" already defined at [1:1]`},
		{"too big", "id: x\n" + strings.Repeat("# padding\n", MaxDocumentLen/10+1), "m.yaml:1:1: the document is 1048586 bytes, more than the 1048576 a program may have"},
		{"Local zone", strings.Replace(minimal, "period:", "timezone: Local\nperiod:", 1), `m.yaml:4:11: timezone: "Local" is not an IANA time zone (such as UTC or Europe/Paris)`},
		{"no minor unit", strings.Replace(minimal, "USD", "XDR", 1), "m.yaml:3:11: currency: XDR (SDR (Special Drawing Right)) has no minor unit to round pay to"},
		{"negative zero", strings.Replace(minimal, "rate: 0.01", `rate: "-0"`, 1), "m.yaml:11:23: tiers.bands[0].rate: a rate cannot be negative, got -0"},
		{"withdrawn currency", strings.Replace(minimal, "USD", "DEM", 1), `m.yaml:3:11: currency: "DEM" is not an active ISO 4217 currency code`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(tc.doc))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err %v", err)
			}
			if !strings.Contains(err.Error()+"\n", tc.want+"\n") {
				t.Errorf("problems:\n%v\nwant the line:\n%s", err, tc.want)
			}
		})
	}
}
