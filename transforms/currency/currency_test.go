package currency

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		code    string
		numeric int
		minor   int32
	}{
		{"USD", 840, 2}, {"EUR", 978, 2}, {"GBP", 826, 2},
		{"JPY", 392, 0}, {"KRW", 410, 0}, {"CLP", 152, 0}, {"ISK", 352, 0}, {"VND", 704, 0},
		{"KWD", 414, 3}, {"BHD", 48, 3}, {"JOD", 400, 3}, {"OMR", 512, 3},
		{"TND", 788, 3}, {"LYD", 434, 3}, {"IQD", 368, 3},
		{"CLF", 990, 4}, {"UYW", 927, 4},
		{"XCG", 532, 2}, {"ZWG", 924, 2}, {"SLE", 925, 2},
	} {
		c, ok := Lookup(tc.code)
		if !ok || c.Code != tc.code || c.Numeric != tc.numeric || c.MinorUnits != tc.minor {
			t.Errorf("Lookup(%s) = %+v, %v; want numeric %d, minor units %d", tc.code, c, ok, tc.numeric, tc.minor)
		}
		if m, ok := MinorUnits(tc.code); !ok || m != tc.minor {
			t.Errorf("MinorUnits(%s) = %d, %v; want %d", tc.code, m, ok, tc.minor)
		}
	}
}

func TestUnknownAndWithdrawnCodes(t *testing.T) {
	// Lower case, empty, invented, and codes withdrawn from List One
	// (HRK 2023, ANG 2025, BGN 2026, SLL, ZWL, CUC).
	for _, code := range []string{"", "usd", "Usd", "US", "USDX", "ABC", "HRK", "ANG", "BGN", "SLL", "ZWL", "CUC"} {
		if c, ok := Lookup(code); ok {
			t.Errorf("Lookup(%q) = %+v, want not found", code, c)
		}
		if _, ok := MinorUnits(code); ok {
			t.Errorf("MinorUnits(%q) found", code)
		}
		d := decimal.RequireFromString("1.23456")
		if got := Round(d, code); !got.Equal(d) {
			t.Errorf("Round(%s, %q) = %s, want unchanged", d, code, got)
		}
	}
}

func TestNoMinorUnits(t *testing.T) {
	for _, code := range []string{"XAU", "XDR", "XTS", "XXX"} {
		c, ok := Lookup(code)
		if !ok || c.HasMinorUnits() {
			t.Errorf("Lookup(%s) = %+v, %v; want found without minor units", code, c, ok)
		}
		if _, ok := MinorUnits(code); ok {
			t.Errorf("MinorUnits(%s) found", code)
		}
	}
}

func TestRoundHalfEven(t *testing.T) {
	for _, tc := range []struct{ in, code, want string }{
		{"2.345", "USD", "2.34"},
		{"2.355", "USD", "2.36"},
		{"2.3450001", "USD", "2.35"},
		{"-2.345", "USD", "-2.34"},
		{"-2.355", "EUR", "-2.36"},
		{"1250", "EUR", "1250"},
		{"0.005", "USD", "0"},
		{"0.015", "USD", "0.02"},
		{"2.5", "JPY", "2"},
		{"3.5", "JPY", "4"},
		{"1234.4999", "KRW", "1234"},
		{"1.0005", "KWD", "1.000"},
		{"1.0015", "KWD", "1.002"},
		{"1.23456", "KWD", "1.235"},
		{"1.00005", "CLF", "1.0000"},
		{"1.00015", "CLF", "1.0002"},
	} {
		got := Round(decimal.RequireFromString(tc.in), tc.code)
		if !got.Equal(decimal.RequireFromString(tc.want)) {
			t.Errorf("Round(%s, %s) = %s, want %s", tc.in, tc.code, got, tc.want)
		}
	}
}

func TestTable(t *testing.T) {
	all := All()
	if len(all) < 170 {
		t.Fatalf("table holds %d currencies", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].Code >= all[i].Code {
			t.Fatalf("All not in code order at %s, %s", all[i-1].Code, all[i].Code)
		}
	}
	for _, bad := range []string{
		"USD\t840\t2",
		"usd\t840\t2\tUS Dollar",
		"USD\t84\t2\tUS Dollar",
		"USD\t840\tx\tUS Dollar",
		"USD\t840\t2\tUS Dollar\nUSD\t841\t2\tAgain",
		"USD\t840\t2\tUS Dollar\nUSX\t840\t2\tSame number",
	} {
		if _, err := parse(bad); err == nil {
			t.Errorf("parse(%q) accepted", bad)
		}
	}
	if _, err := parse("# comment\n\nUSD\t840\t2\tUS Dollar\r\n"); err != nil {
		t.Error(err)
	}
	if !strings.Contains(tableTSV, "2026-01-01") {
		t.Error("table lost the date of its list")
	}
}

func ExampleRound() {
	d := decimal.RequireFromString("1234.565")
	for _, code := range []string{"USD", "JPY", "KWD"} {
		fmt.Println(code, Round(d, code))
	}
	// Output:
	// USD 1234.56
	// JPY 1235
	// KWD 1234.565
}

func TestDivHalfEven(t *testing.T) {
	for _, c := range []struct {
		a, b   string
		places int32
		want   string
	}{
		{"1", "3", 4, "0.3333"},
		{"2", "3", 4, "0.6667"},
		{"1", "8", 2, "0.12"}, // 0.125: tie, to even
		{"3", "8", 2, "0.38"}, // 0.375: tie, to even
		{"-1", "8", 2, "-0.12"},
		{"-3", "8", 2, "-0.38"},
		{"1", "-3", 4, "-0.3333"},
		{"1", "0.9", 16, "1.1111111111111111"},
		{"1", "1.0876", 16, "0.9194556822361162"},
		{"10", "4", 0, "2"}, // 2.5: tie, to even
		{"14", "4", 0, "4"}, // 3.5: tie, to even
		{"6", "3", 2, "2"},
	} {
		a, b := decimal.RequireFromString(c.a), decimal.RequireFromString(c.b)
		got := DivHalfEven(a, b, c.places)
		if !got.Equal(decimal.RequireFromString(c.want)) {
			t.Errorf("DivHalfEven(%s, %s, %d) = %s, want %s", c.a, c.b, c.places, got, c.want)
		}
	}
}
