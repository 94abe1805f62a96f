package accrue

import (
	"fmt"
	"strconv"
	"time"

	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/reference"
)

func civil(y int, m time.Month, d int) reference.Date {
	return reference.DateOf(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
}

// periodLabel names the period of kind p that holds the local date day:
// "2026-11", "2026-Q4" or "2026".
func periodLabel(p program.Period, day reference.Date) string {
	y, m, _ := day.Time().Date()
	b := make([]byte, 0, 7)
	b = appendYear(b, y)
	switch p {
	case program.Month:
		b = append(b, '-', byte('0'+int(m)/10), byte('0'+int(m)%10))
	case program.Quarter:
		b = append(b, '-', 'Q', byte('0'+(int(m)-1)/3+1))
	}
	return string(b)
}

func appendYear(b []byte, y int) []byte {
	s := strconv.Itoa(y)
	for i := len(s); i < 4; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// periodBounds is the first and last local date of the period labelled
// label, of kind p.
func periodBounds(p program.Period, label string) (first, last reference.Date, err error) {
	bad := func() (reference.Date, reference.Date, error) {
		return 0, 0, fmt.Errorf("period %q is not a %s", label, p)
	}
	if len(label) < 4 {
		return bad()
	}
	y, ok := digits(label[:4])
	if !ok {
		return bad()
	}
	rest := label[4:]
	switch p {
	case program.Month:
		n, ok := 0, len(rest) == 3 && rest[0] == '-'
		if ok {
			n, ok = digits(rest[1:])
		}
		if !ok || n < 1 || n > 12 {
			return bad()
		}
		return civil(y, time.Month(n), 1), civil(y, time.Month(n)+1, 0), nil
	case program.Quarter:
		if len(rest) != 3 || rest[0] != '-' || rest[1] != 'Q' || rest[2] < '1' || rest[2] > '4' {
			return bad()
		}
		n := int(rest[2] - '0')
		return civil(y, time.Month(3*n-2), 1), civil(y, time.Month(3*n+1), 0), nil
	case program.Year:
		if rest != "" {
			return bad()
		}
		return civil(y, time.January, 1), civil(y, time.December, 31), nil
	}
	return bad()
}

// digits reads a non-empty string of ASCII digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}
