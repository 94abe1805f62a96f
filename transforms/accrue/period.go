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
	var y, n int
	switch p {
	case program.Month:
		if _, err = fmt.Sscanf(label, "%4d-%2d", &y, &n); err != nil || n < 1 || n > 12 {
			return 0, 0, fmt.Errorf("period %q is not a month", label)
		}
		first = civil(y, time.Month(n), 1)
		last = civil(y, time.Month(n)+1, 0)
	case program.Quarter:
		if _, err = fmt.Sscanf(label, "%4d-Q%1d", &y, &n); err != nil || n < 1 || n > 4 {
			return 0, 0, fmt.Errorf("period %q is not a quarter", label)
		}
		first = civil(y, time.Month(3*n-2), 1)
		last = civil(y, time.Month(3*n+1), 0)
	case program.Year:
		if _, err = fmt.Sscanf(label, "%4d", &y); err != nil {
			return 0, 0, fmt.Errorf("period %q is not a year", label)
		}
		first = civil(y, time.January, 1)
		last = civil(y, time.December, 31)
	default:
		return 0, 0, fmt.Errorf("unknown period kind %q", p)
	}
	return first, last, nil
}
