package accrue

import (
	"fmt"
	"strconv"
	"time"

	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/reference"
)

// Periods are computed for every input: the calendar below is integer
// arithmetic on reference.Date (days since 1970-01-01), and the labels of
// this century's periods are made once.

// daysFromCivil is the Date of year y, month m (1–12), day d of the
// proleptic Gregorian calendar.
func daysFromCivil(y, m, d int64) reference.Date {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := m - 3
	if m <= 2 {
		mp = m + 9
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return reference.Date(era*146097 + doe - 719468)
}

// civilFromDays is the year, month (1–12) and day of day.
func civilFromDays(day reference.Date) (y, m, d int64) {
	z := int64(day) + 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// localDate is the calendar date of t in loc (program.LocalDate).
func localDate(t time.Time, loc *time.Location) reference.Date {
	sec := t.Unix()
	if loc != time.UTC {
		_, off := t.In(loc).Zone()
		sec += int64(off)
	}
	d := sec / 86400
	if sec < 0 && sec%86400 != 0 {
		d--
	}
	return reference.Date(d)
}

// labelYears are the years whose labels are made once.
const labelFirstYear, labelYears = 2000, 100

// labels[p][y−labelFirstYear][i] is the label of the i-th month, quarter
// or (i = 0) the year.
var labels = func() (l [3][labelYears][]string) {
	for y := range labelYears {
		year := labelFirstYear + y
		l[0][y] = make([]string, 12)
		for m := range 12 {
			l[0][y][m] = makeLabel(program.Month, year, m+1)
		}
		l[1][y] = make([]string, 4)
		for q := range 4 {
			l[1][y][q] = makeLabel(program.Quarter, year, 3*q+1)
		}
		l[2][y] = []string{makeLabel(program.Year, year, 1)}
	}
	return l
}()

// periodLabel names the period of kind p that holds the local date day:
// "2026-11", "2026-Q4" or "2026".
func periodLabel(p program.Period, day reference.Date) string {
	y, m, _ := civilFromDays(day)
	if y >= labelFirstYear && y < labelFirstYear+labelYears {
		switch p {
		case program.Month:
			return labels[0][y-labelFirstYear][m-1]
		case program.Quarter:
			return labels[1][y-labelFirstYear][(m-1)/3]
		case program.Year:
			return labels[2][y-labelFirstYear][0]
		}
	}
	return makeLabel(p, int(y), int(m))
}

func makeLabel(p program.Period, y, m int) string {
	b := make([]byte, 0, 7)
	b = appendYear(b, y)
	switch p {
	case program.Month:
		b = append(b, '-', byte('0'+m/10), byte('0'+m%10))
	case program.Quarter:
		b = append(b, '-', 'Q', byte('0'+(m-1)/3+1))
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
	yi, ok := digits(label[:4])
	if !ok {
		return bad()
	}
	y := int64(yi)
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
		return daysFromCivil(y, int64(n), 1), monthEnd(y, int64(n)), nil
	case program.Quarter:
		if len(rest) != 3 || rest[0] != '-' || rest[1] != 'Q' || rest[2] < '1' || rest[2] > '4' {
			return bad()
		}
		n := int64(rest[2] - '0')
		return daysFromCivil(y, 3*n-2, 1), monthEnd(y, 3*n), nil
	case program.Year:
		if rest != "" {
			return bad()
		}
		return daysFromCivil(y, 1, 1), daysFromCivil(y+1, 1, 1) - 1, nil
	}
	return bad()
}

// monthEnd is the last day of month m of year y.
func monthEnd(y, m int64) reference.Date {
	if m == 12 {
		return daysFromCivil(y+1, 1, 1) - 1
	}
	return daysFromCivil(y, m+1, 1) - 1
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
