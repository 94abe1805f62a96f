package reference

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead reads arbitrary files as every kind, in JSON lines and in CSV:
// no input panics, every bad row names its line (within the file), and
// every good row, encoded as the topic carries it, decodes to the same
// row.
func FuzzRead(f *testing.F) {
	files, _ := filepath.Glob("../../connectors/examples/reference/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		`{"rep_id":"R-1","role":"AE","valid_from":"2026-01-01"}`, `{"from":"EUR","to":"USD","rate":"1e400","valid_from":"2026-01-01"}`,
		`{"from":"EUR","to":"USD","rate":"NaN","valid_from":"2026-01-01"}`, `{"rep_id":"R-1","rep_id":"R-2","valid_from":"2026-01-01"}`,
		"rep_id,role,valid_from\nR-1,AE,2026-02-30\n", "from,to,rate,valid_from\nEUR,USD,-1,2026-01-01\n", "\xff\xfe\n", `[[[[[[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		lines := bytes.Count(b, []byte("\n")) + 1
		for _, k := range Kinds {
			for _, format := range []Format{JSONL, CSV} {
				err := Read(k, bytes.NewReader(b), format, func(line int, row Row) error {
					if line < 1 || line > lines {
						t.Fatalf("%s %s: a good row on line %d of %d", k, format, line, lines)
					}
					enc, err := Encode(row)
					if err != nil {
						t.Fatalf("%s %s line %d: a good row does not encode: %v", k, format, line, err)
					}
					back, err := DecodeRow(k, enc)
					if err != nil {
						t.Fatalf("%s %s line %d: %s does not decode: %v", k, format, line, enc, err)
					}
					if again, _ := Encode(back); !bytes.Equal(again, enc) {
						t.Fatalf("%s %s line %d: %s comes back as %s", k, format, line, enc, again)
					}
					return nil
				}, func(e *LineError) {
					if e.Line < 1 || e.Line > lines || e.Err == nil {
						t.Fatalf("%s %s: a bad row with line %d of %d: %v", k, format, e.Line, lines, e.Err)
					}
				})
				_ = err // a file that cannot be read at all (a CSV without a header) is an error, not a panic
			}
		}
	})
}
