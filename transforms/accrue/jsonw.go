package accrue

import (
	"strconv"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// The records the engine emits are written by hand, field by field, so
// that their field order is the documented one and decimals keep the scale
// the contract asks for (money to the currency's minor unit).

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	// Ids and codes need no escaping: find that eight bytes at a time.
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if !plain8(x) {
			break
		}
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plainString reports whether s is written in JSON as it is, between
// quotes.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// plain8 reports whether none of the eight bytes of x needs escaping or
// decoding: none is below 0x20, a quote, a backslash, or past ASCII. (It
// may report false for some bytes that would do; never true for one that
// would not.)
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, bs := x^(ones*'"'), x^(ones*'\\')
	control := (x - ones*0x20) &^ x
	quote := (q - ones) &^ q
	backslash := (bs - ones) &^ bs
	return (control|quote|backslash|x)&highs == 0
}

// field appends `,"name":` (no comma for the first field of an object,
// whose '{' is the last byte).
func field(b []byte, name string) []byte {
	if len(b) > 0 && b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

func strField(b []byte, name, v string) []byte { return appendString(field(b, name), v) }

func intField(b []byte, name string, v int64) []byte {
	return strconv.AppendInt(field(b, name), v, 10)
}

func boolField(b []byte, name string, v bool) []byte {
	return strconv.AppendBool(field(b, name), v)
}

// decField appends d as a string with places decimal places, or exact
// (trailing zeros dropped) when places is negative.
func decField(b []byte, name string, d decimal.Decimal, places int32) []byte {
	b = append(field(b, name), '"')
	b = appendFixed(b, d, places)
	return append(b, '"')
}

// writtenField appends d with the scale it was written with ("1.0" stays
// "1.0"): thresholds, band bounds and quotas as in the program document.
func writtenField(b []byte, name string, d decimal.Decimal) []byte {
	b = append(field(b, name), '"')
	b = appendWritten(b, d)
	return append(b, '"')
}

func nullField(b []byte, name string) []byte { return append(field(b, name), "null"...) }
