package contest

import (
	"os"
	"path/filepath"
	"testing"
)

// Parse never panics, and what it accepts it accepts again the same.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../docs/contests/*.yaml")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte("id: x\nkind: race\nrace: {top: 1}\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Parse("f.yaml", doc)
		if err == nil && (c.ID == "" || c.Kind == "") {
			t.Fatalf("accepted without id or kind: %q", doc)
		}
	})
}
