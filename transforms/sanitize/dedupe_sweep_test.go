package sanitize

import (
	"testing"
	"time"

	"github.com/accrue/accrue/connectors/canonical"
)

// Scan makes the tests' mapStore a ScanStore.
func (m mapStore) Scan(fn func(string, int64) bool) {
	for k, v := range m {
		if !fn(k, v) {
			return
		}
	}
}

func TestSweepForgetsWhatTheWindowLeftBehind(t *testing.T) {
	d := &Deduper{window: func(src string) time.Duration {
		if src == "forever" {
			return 0
		}
		return time.Hour
	}}
	s := mapStore{}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ev := func(src, id string, at time.Time) *canonical.Event {
		return &canonical.Event{Source: src, TxnID: id, Type: canonical.Sale, EventTime: at}
	}
	d.Remember(s, ev("crm", "old", t0))
	d.Remember(s, ev("crm", "recent", t0.Add(90*time.Minute)))
	d.Remember(s, ev("forever", "old", t0))
	s["other/key"] = 1

	if n := d.Sweep(s, t0.Add(2*time.Hour)); n != 1 {
		t.Fatalf("swept %d, want 1", n)
	}
	if _, ok := s.Get(SeenKeyPrefix + "crm:old:sale"); ok {
		t.Error("an entry older than the window was kept")
	}
	for _, k := range []string{SeenKeyPrefix + "crm:recent:sale", SeenKeyPrefix + "forever:old:sale", "other/key"} {
		if _, ok := s[k]; !ok {
			t.Errorf("%s was swept", k)
		}
	}
	// A copy within the window is still caught after the sweep.
	if rj := d.Check(s, ev("crm", "recent", t0.Add(90*time.Minute))); rj == nil || rj.Reason != ReasonDuplicate {
		t.Errorf("copy after sweep: %v", rj)
	}
}
