package reference

import (
	"fmt"
	"time"
)

// Date is a calendar date, counted in days since 1970-01-01. The zero Date
// is 1970-01-01; Forever is before every date a row can name.
type Date int32

// Forever is the ValidFrom of a row that names no date: in force from the
// beginning of time.
const Forever Date = -1 << 31

// ParseDate parses "2006-01-02". An empty string is Forever.
func ParseDate(s string) (Date, error) {
	if s == "" {
		return Forever, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// DateOf is the UTC date of t.
func DateOf(t time.Time) Date {
	sec := t.Unix()
	d := sec / 86400
	if sec < 0 && sec%86400 != 0 {
		d--
	}
	return Date(d)
}

// Time is the start of d in UTC.
func (d Date) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String is "2006-01-02", or "" for Forever.
func (d Date) String() string {
	if d == Forever {
		return ""
	}
	return d.Time().Format(time.DateOnly)
}

// IsZero reports whether d is Forever, so `omitzero` leaves it out of JSON.
func (d Date) IsZero() bool { return d == Forever }

// MarshalText writes "2006-01-02".
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "2006-01-02"; empty is Forever.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
