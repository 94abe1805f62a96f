// Package currency is the ISO 4217 table of active currencies (List One) and
// the rounding of money to a currency's minor unit (PROGRAMS.md §7).
//
// The table is iso4217.tsv, embedded and read once at package
// initialisation; it is ISO 4217 List One as published 2026-01-01 by the
// maintenance agency (SIX, list-one.xml). To update it, edit that file: one
// row per code, no code twice.
package currency

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Currency is one row of ISO 4217 List One.
type Currency struct {
	// Code is the alphabetic code ("USD").
	Code string
	// Numeric is the numeric code (840).
	Numeric int
	// MinorUnits is the number of decimal places of the minor unit: 2 for
	// USD, 0 for JPY, 3 for KWD, 4 for CLF. It is -1 where the list gives
	// none ("N.A.": gold, SDR, test and no-currency codes).
	MinorUnits int32
	// Name is the currency's English name in the list.
	Name string
}

// HasMinorUnits reports whether the list gives c a minor unit.
func (c Currency) HasMinorUnits() bool { return c.MinorUnits >= 0 }

//go:embed iso4217.tsv
var tableTSV string

var table = mustParse(tableTSV)

// Lookup returns the active currency with the alphabetic code; codes are
// exact (upper case, "usd" is not found).
func Lookup(code string) (Currency, bool) {
	c, ok := table[code]
	return c, ok
}

// MinorUnits returns the minor units of code. It is false for a code that
// is not in the list, and for one whose minor unit the list gives as N.A.
func MinorUnits(code string) (int32, bool) {
	c, ok := table[code]
	if !ok || !c.HasMinorUnits() {
		return 0, false
	}
	return c.MinorUnits, true
}

// Round rounds d half-even (banker's rounding) to the minor unit of code:
// Round(2.345, "USD") is 2.34, Round(2.355, "USD") is 2.36, Round(2.5,
// "JPY") is 2. A code without a minor unit (unknown, or N.A. in the list)
// leaves d as it is: callers that must not accept such codes check them
// first with Lookup or MinorUnits.
func Round(d decimal.Decimal, code string) decimal.Decimal {
	n, ok := MinorUnits(code)
	if !ok {
		return d
	}
	return d.RoundBank(n)
}

// All returns every currency of the table, in code order.
func All() []Currency {
	out := make([]Currency, 0, len(table))
	for _, c := range table {
		out = append(out, c)
	}
	sortByCode(out)
	return out
}

func sortByCode(cs []Currency) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].Code < cs[j-1].Code; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

func mustParse(tsv string) map[string]Currency {
	t, err := parse(tsv)
	if err != nil {
		panic("currency: iso4217.tsv: " + err.Error())
	}
	return t
}

// parse reads the table: code, numeric, minor units, name, tab-separated;
// lines starting with # are comments.
func parse(tsv string) (map[string]Currency, error) {
	t := make(map[string]Currency, 200)
	numerics := map[int]string{}
	for i, line := range strings.Split(tsv, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("line %d: %d fields, want 4", i+1, len(f))
		}
		c := Currency{Code: f[0], Name: f[3]}
		if len(c.Code) != 3 || strings.ToUpper(c.Code) != c.Code {
			return nil, fmt.Errorf("line %d: code %q is not three upper-case letters", i+1, c.Code)
		}
		num, err := strconv.Atoi(f[1])
		if err != nil || len(f[1]) != 3 {
			return nil, fmt.Errorf("line %d: numeric code %q is not three digits", i+1, f[1])
		}
		c.Numeric = num
		if f[2] == "N.A." {
			c.MinorUnits = -1
		} else {
			mu, err := strconv.ParseInt(f[2], 10, 32)
			if err != nil || mu < 0 || mu > 8 {
				return nil, fmt.Errorf("line %d: minor units %q", i+1, f[2])
			}
			c.MinorUnits = int32(mu)
		}
		if _, dup := t[c.Code]; dup {
			return nil, fmt.Errorf("line %d: code %s twice", i+1, c.Code)
		}
		if other, dup := numerics[num]; dup {
			return nil, fmt.Errorf("line %d: numeric code %03d of %s is also %s's", i+1, num, c.Code, other)
		}
		numerics[num] = c.Code
		t[c.Code] = c
	}
	return t, nil
}

// DivHalfEven is a / b rounded half-even to places decimal places, exactly:
// the rounding looks at the true remainder, never at a rounded quotient.
// b must not be zero.
func DivHalfEven(a, b decimal.Decimal, places int32) decimal.Decimal {
	q, r := a.QuoRem(b, places)
	if r.IsZero() {
		return q
	}
	// |2r| against |b|·10^-places: below rounds toward zero (q is
	// truncated), above away from zero, equal to the even neighbour.
	unit := decimal.New(1, -places)
	twice := r.Abs().Mul(decimal.NewFromInt(2))
	cmp := twice.Cmp(b.Abs().Mul(unit))
	away := cmp > 0
	if cmp == 0 {
		last := q.Shift(places).Abs().BigInt()
		away = last.Bit(0) == 1
	}
	if !away {
		return q
	}
	if a.Sign()*b.Sign() < 0 {
		return q.Sub(unit)
	}
	return q.Add(unit)
}
