package nudge

import (
	"testing"

	"github.com/shopspring/decimal"
)

func TestLocaleFormats(t *testing.T) {
	d := decimal.RequireFromString
	for _, c := range []struct{ locale, kind, value, cur, want string }{
		{"en-US", "money", "500", "USD", "$500.00"},
		{"en-US", "money", "1234567.891", "USD", "$1,234,567.89"},
		{"en-US", "money", "2.345", "USD", "$2.34"}, // half-even
		{"en-US", "money", "-12.5", "USD", "-$12.50"},
		{"fr-FR", "money", "1234.5", "EUR", "1\u00a0234,50\u00a0€"},
		{"de-DE", "money", "1234.5", "EUR", "1.234,50\u00a0€"},
		{"de-CH", "money", "1234.5", "CHF", "CHF\u00a01’234.50"},
		{"ja-JP", "money", "1234567", "JPY", "￥1,234,567"},
		{"en-IN", "money", "1234567.5", "INR", "₹12,34,567.50"},
		{"en-US", "money", "12.3456", "KWD", "KWD\u00a012.346"},
		{"pt-BR", "money", "1234.5", "BRL", "R$\u00a01.234,50"},
		{"nl-NL", "money", "1234.5", "EUR", "€\u00a01.234,50"},
		{"xx-bogus", "money", "1", "USD", "$1.00"},
		{"en-US", "percent", "0.08", "", "8%"},
		{"fr-FR", "percent", "0.085", "", "8,5\u00a0%"},
		{"en-US", "number", "1234.50", "", "1,234.50"},
		{"fa", "number", "1234.5", "", "۱٬۲۳۴٫۵"},
	} {
		l := LocaleFor(c.locale)
		var got string
		switch c.kind {
		case "money":
			got = l.Money(d(c.value), c.cur)
		case "percent":
			got = l.Percent(d(c.value))
		default:
			got = l.Number(d(c.value))
		}
		if got != c.want {
			t.Errorf("%s %s(%s %s) = %q, want %q", c.locale, c.kind, c.value, c.cur, got, c.want)
		}
	}
}
