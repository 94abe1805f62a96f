package nudge

import (
	"os"
	"testing"
)

// The templates parser and the decoder of nudges and awards never panic.
func FuzzParseTemplates(f *testing.F) {
	b, _ := os.ReadFile("../../deploy/templates/messages.yaml")
	f.Add(b)
	f.Add([]byte("default_locale: en\nkinds: {badge: {channels: [email], locales: {en: {subject: x, text: y}}}}\n"))
	f.Fuzz(func(t *testing.T, doc []byte) { _, _ = ParseTemplates("f.yaml", doc) })
}

func FuzzDecodeSubject(f *testing.F) {
	f.Add([]byte(`{"kind":"near_next_tier","program_id":"ae","period":"2026-11","rep_id":"R-17","band_from":"1.0","gap":"500.00"}`), false)
	f.Add([]byte(`{"badge":"quota-club","program_id":"ae","period":"2026-11","rep_id":"R-17"}`), true)
	f.Add([]byte(`{"award_id":"contest/x/R-1/rank-1","contest_id":"x","rep_id":"R-1","reward":{"badge":"g"}}`), true)
	f.Fuzz(func(t *testing.T, b []byte, award bool) {
		s, err := DecodeSubject(b, award)
		if err == nil && (s.RepID == "" || s.ID == "" || s.Kind == "") {
			t.Fatalf("decoded without rep, id or kind: %q", b)
		}
	})
}
