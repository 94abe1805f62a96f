package nudge

import (
	"testing"
	"time"
)

// Quiet hours are local: the same instant is quiet in one zone and not in
// another, and they end at the next local 08:00, across DST changes.
func TestQuietHoursAcrossZones(t *testing.T) {
	q := QuietHours{From: 21 * 60, To: 8 * 60}
	zone := func(s string) *time.Location { l, _ := time.LoadLocation(s); return l }
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	for _, c := range []struct {
		zone, at string
		on       bool
		end      string
	}{
		{"Asia/Tokyo", "2026-11-03T13:30:00Z", true, "2026-11-03T23:00:00Z"},   // 22:30 → 08:00 next day
		{"America/New_York", "2026-11-03T13:30:00Z", false, ""},                // 08:30
		{"Europe/Paris", "2026-11-03T05:00:00Z", true, "2026-11-03T07:00:00Z"}, // 06:00 → 08:00
		{"Asia/Kolkata", "2026-11-03T15:29:00Z", false, ""},                    // 20:59
		{"Asia/Kolkata", "2026-11-03T15:30:00Z", true, "2026-11-04T02:30:00Z"}, // 21:00
		// The night DST ends in New York (1 Nov 2026): 08:00 EST is 13:00Z.
		{"America/New_York", "2026-11-01T03:00:00Z", true, "2026-11-01T13:00:00Z"},
		// The night DST starts in Paris (29 Mar 2026): 08:00 CEST is 06:00Z.
		{"Europe/Paris", "2026-03-28T22:00:00Z", true, "2026-03-29T06:00:00Z"},
	} {
		loc := zone(c.zone)
		if got := q.On(at(c.at), loc); got != c.on {
			t.Errorf("%s at %s: quiet %v, want %v", c.zone, c.at, got, c.on)
		}
		if c.on {
			if got := q.End(at(c.at), loc).UTC().Format(time.RFC3339); got != c.end {
				t.Errorf("%s at %s: ends %s, want %s", c.zone, c.at, got, c.end)
			}
		}
	}
	day := QuietHours{From: 13 * 60, To: 14 * 60}
	if !day.On(at("2026-11-03T13:59:00Z"), time.UTC) || day.On(at("2026-11-03T14:00:00Z"), time.UTC) {
		t.Error("a window within one day")
	}
	if (QuietHours{}).On(at("2026-11-03T03:00:00Z"), time.UTC) {
		t.Error("from == to is no quiet hours")
	}
}
