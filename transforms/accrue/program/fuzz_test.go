package program

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: whatever the bytes, Parse does not panic, and returns either
// a Program whose digest is that of the bytes, or Problems that each have
// a file, a line and a column.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	more, _ := filepath.Glob("testdata/invalid/*.yaml")
	for _, name := range append(seeds, more...) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := Parse("f.yaml", doc)
		if err == nil {
			if p == nil || p.Digest != digest(doc) || string(p.Document) != string(doc) {
				t.Fatalf("Parse accepted the document but returned %+v", p)
			}
			if len(p.Tiers.Bands) == 0 || !p.Tiers.Bands[0].From.IsZero() || p.Version < 1 || p.Location == nil {
				t.Fatalf("Parse accepted a program that breaks the contract: %+v", p)
			}
			return
		}
		var ps Problems
		if p != nil || !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("Parse = %v, %v; want nil and Problems", p, err)
		}
		for _, q := range ps {
			if q.File != "f.yaml" || q.Line < 1 || q.Column < 1 || q.Msg == "" {
				t.Fatalf("problem without a place: %+v", q)
			}
		}
	})
}
