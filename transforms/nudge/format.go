package nudge

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"

	iso "github.com/accrue/accrue/transforms/currency"
)

// Locale formats numbers, percentages and money for one locale, exactly:
// values are decimals, never floats. Separators, digit grouping (3, or
// 3 then 2 as in en-IN), native digits, the percent pattern and currency
// symbols are CLDR's, through golang.org/x/text; where the currency symbol
// goes, which x/text does not say, follows the language (symbolAfter).
// Amounts are rounded half-even to the currency's ISO 4217 minor unit and
// always show that many places (USD 2, JPY 0, KWD 3).
type Locale struct {
	Tag        language.Tag
	group      string
	dec        string
	secondary  int // size of the groups after the first (3, or 2 in en-IN)
	digits     [10]string
	percentPat string // "%s%", "%s %"
	symbols    sync.Map
	printer    *message.Printer
}

var locales sync.Map // string → *Locale

// LocaleFor returns the Locale of a BCP 47 tag ("fr-CA"); an unknown or
// malformed tag gives the root locale's formats (en).
func LocaleFor(tag string) *Locale {
	if l, ok := locales.Load(tag); ok {
		return l.(*Locale)
	}
	t, err := language.Parse(tag)
	if err != nil {
		t = language.English
	}
	l := newLocale(t)
	actual, _ := locales.LoadOrStore(tag, l)
	return actual.(*Locale)
}

func newLocale(t language.Tag) *Locale {
	p := message.NewPrinter(t)
	l := &Locale{Tag: t, printer: p, group: ",", dec: ".", secondary: 3, percentPat: "%s%"}
	for i := range l.digits {
		l.digits[i] = p.Sprint(number.Decimal(i))
		if utf8.RuneCountInString(l.digits[i]) != 1 {
			l.digits[i] = string(rune('0' + i))
		}
	}
	// Learn the separators from 1234567.5 as the locale writes it.
	probe := []rune(p.Sprint(number.Decimal(1234567.5, number.Scale(1))))
	var groups []string
	var seps []string
	cur, sep := "", ""
	for _, r := range probe {
		if unicode.IsDigit(r) {
			if sep != "" {
				seps = append(seps, sep)
				groups = append(groups, cur)
				cur, sep = "", ""
			}
			cur += string(r)
		} else {
			sep += string(r)
		}
	}
	groups = append(groups, cur)
	if len(groups) >= 3 && len(seps) == len(groups)-1 && utf8.RuneCountInString(groups[len(groups)-1]) == 1 {
		l.dec = seps[len(seps)-1]
		if len(seps) >= 2 {
			l.group = seps[0]
			l.secondary = utf8.RuneCountInString(groups[1])
			if len(groups) > 3 {
				l.secondary = utf8.RuneCountInString(groups[len(groups)-3])
			}
		}
	}
	if pct := p.Sprint(number.Percent(0.25)); strings.Contains(pct, l.digits[2]+l.digits[5]) {
		l.percentPat = strings.Replace(pct, l.digits[2]+l.digits[5], "%s", 1)
	}
	return l
}

// Number writes d exactly, with the locale's separators and digits.
func (l *Locale) Number(d decimal.Decimal) string {
	places := int32(0)
	if e := d.Exponent(); e < 0 {
		places = -e
	}
	return l.fixed(d, places)
}

// fixed writes d with exactly places decimal places (rounded half-even).
func (l *Locale) fixed(d decimal.Decimal, places int32) string {
	s := d.RoundBank(places).StringFixed(places)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if neg {
		b.WriteString("-")
	}
	// Groups: the last three digits, then groups of l.secondary.
	n := len(intPart)
	first := n % 3
	if n > 3 {
		rest := n - 3
		first = rest % l.secondary
		if first == 0 {
			first = l.secondary
		}
		pos := 0
		b.WriteString(l.native(intPart[:first]))
		pos = first
		for pos < rest {
			b.WriteString(l.group)
			b.WriteString(l.native(intPart[pos : pos+l.secondary]))
			pos += l.secondary
		}
		b.WriteString(l.group)
		b.WriteString(l.native(intPart[rest:]))
	} else {
		b.WriteString(l.native(intPart))
	}
	if frac != "" {
		b.WriteString(l.dec)
		b.WriteString(l.native(frac))
	}
	return b.String()
}

func (l *Locale) native(ascii string) string {
	if l.digits[0] == "0" && l.digits[9] == "9" {
		return ascii
	}
	var b strings.Builder
	for _, c := range ascii {
		if c >= '0' && c <= '9' {
			b.WriteString(l.digits[c-'0'])
		} else {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// Percent writes a fraction as a percentage: 0.08 is "8%" in en, "8 %" in
// fr; as many places as the fraction needs, exactly.
func (l *Locale) Percent(frac decimal.Decimal) string {
	return strings.Replace(l.percentPat, "%s", l.Number(frac.Shift(2)), 1)
}

// Money writes amount in cur, rounded half-even to cur's minor unit, with
// the locale's symbol for cur where it has one: "$500.00" (en-US),
// "500,00 €" (fr-FR), "¥500" (en, JPY), "1.234,50 US$" (pt-PT).
func (l *Locale) Money(amount decimal.Decimal, cur string) string {
	places, ok := iso.MinorUnits(cur)
	if !ok {
		places = 2
	}
	num := l.fixed(amount.Abs(), places)
	sign := ""
	if amount.Sign() < 0 {
		sign = "-"
	}
	sym := l.symbol(cur)
	switch symbolPlacement(l.Tag) {
	case after:
		return sign + num + "\u00a0" + sym
	case beforeSpaced:
		return sign + sym + "\u00a0" + num
	}
	if utf8.RuneCountInString(sym) > 1 && isLetters(sym) {
		// A code such as "CHF" before a number reads better apart.
		return sign + sym + "\u00a0" + num
	}
	return sign + sym + num
}

func isLetters(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

func (l *Locale) symbol(cur string) string {
	if s, ok := l.symbols.Load(cur); ok {
		return s.(string)
	}
	s := cur
	if u, err := currency.ParseISO(cur); err == nil {
		s = l.printer.Sprint(currency.Symbol(u))
	}
	l.symbols.Store(cur, s)
	return s
}

type placement int

const (
	before placement = iota
	beforeSpaced
	after
)

// symbolPlacement is where a language writes the currency symbol, from
// CLDR's currency patterns: after the number in most of continental
// Europe, before it with a space in Dutch, Brazilian Portuguese and Swiss
// German, before it elsewhere.
func symbolPlacement(t language.Tag) placement {
	base, _ := t.Base()
	region, _ := t.Region()
	switch base.String() {
	case "fr", "de", "es", "it", "sv", "fi", "nb", "no", "nn", "da", "pl", "cs", "sk", "ru", "uk", "hu", "ro",
		"bg", "el", "lt", "lv", "et", "hr", "sl", "sr", "vi", "ca", "is", "be", "kk":
		if base.String() == "de" && (region.String() == "CH" || region.String() == "LI") {
			return beforeSpaced
		}
		return after
	case "pt":
		if region.String() == "PT" {
			return after
		}
		return beforeSpaced
	case "nl":
		return beforeSpaced
	}
	return before
}
