package mapping

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// checkOutcomes asserts what holds for any payload: one outcome per record,
// each with exactly one of event, skip and reject, in order, with Raw and
// Offset inside the payload.
func checkOutcomes(t *testing.T, m *Mapper, payload []byte) []Outcome {
	var out []Outcome
	m.Map(payload, func(o Outcome) {
		checkOne(t, o)
		if o.Offset < 0 || o.Offset > int64(len(payload)) || len(o.Raw) > len(payload) {
			t.Fatalf("outcome outside the payload: offset %d, %d raw bytes of %d", o.Offset, len(o.Raw), len(payload))
		}
		if n := len(out); n > 0 && (o.Line < out[n-1].Line || o.Offset < out[n-1].Offset) {
			t.Fatalf("outcomes out of order: line %d after %d", o.Line, out[n-1].Line)
		}
		out = append(out, o)
	})
	return out
}

// jsonRecordCount counts the records of a JSON payload independently of
// the decoder where the framing is unambiguous: a valid array's elements,
// a valid value, or the non-blank lines of anything not starting with '['.
// It returns -1 where it cannot tell (a broken array).
// jsonSpace is JSON's whitespace; "\v" and other Unicode spaces are not.
const jsonSpace = " \t\r\n"

func jsonRecordCount(b []byte) int {
	t := bytes.Trim(b, jsonSpace)
	if len(t) == 0 {
		return 0
	}
	if json.Valid(t) {
		if t[0] == '[' {
			var a []json.RawMessage
			if json.Unmarshal(t, &a) == nil {
				return len(a)
			}
		}
		return 1
	}
	if t[0] == '[' {
		return -1
	}
	n := 0
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.Trim(l, jsonSpace)) > 0 {
			n++
		}
	}
	return n
}

// addSeeds seeds a fuzz target with the head of each example file: whole
// files (10 KB and more) slow the mutator to a crawl.
func addSeeds(f *testing.F, files ...string) {
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(examplesDir, name))
		if err != nil {
			f.Fatal(err)
		}
		n := 0
		for i, c := range b {
			if c == '\n' {
				if n++; n == 3 || i > 1500 {
					b = b[:i+1]
					break
				}
			}
		}
		f.Add(b)
	}
}

func FuzzJSON(f *testing.F) {
	addSeeds(f, "crm-opportunities.ndjson", "shop-webhook.json")
	for _, s := range []string{rec, "[" + rec + "," + rec + "]", rec + "\n\n{", "[1, {}, null]", "[", "{\"id\": [1e999]}", "\xff\xfe"} {
		f.Add([]byte(s))
	}
	m := mustMapper(f, jsonCfg)
	f.Fuzz(func(t *testing.T, payload []byte) {
		out := checkOutcomes(t, m, payload)
		if n := jsonRecordCount(payload); n >= 0 && n != len(out) {
			t.Fatalf("%d outcomes for %d records", len(out), n)
		}
	})
}

func FuzzCSV(f *testing.F) {
	addSeeds(f, "pos-export.csv")
	hdr := "no;kind;orig;at;rep;amt;cur;note\n"
	for _, s := range []string{hdr, hdr + "1;S;;2026-11-03T10:15:00Z;R;10.00;EUR;\"a\nb\"\n", "\xEF\xBB\xBF" + hdr + "\"", hdr + "\r\n\r\n;;;;;;;\n", "\"a\"b;c\n1;2\n"} {
		f.Add([]byte(s))
	}
	m := mustMapper(f, csvCfg)
	pos := loadExample(f, "pos-export")
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkOutcomes(t, m, payload)
		checkOutcomes(t, pos, payload)
	})
}

func FuzzDebezium(f *testing.F) {
	addSeeds(f, "erp-orders-debezium.ndjson")
	for _, s := range []string{envelope("u", cdcRow("inv"), cdcRow("can")), envelope("d", cdcRow("inv"), "null"), "null", "", `{"payload":null}`, `{"op":"u","after":[]}`} {
		f.Add([]byte(s))
	}
	m := mustMapper(f, cdcCfg)
	f.Fuzz(func(t *testing.T, payload []byte) {
		out := checkOutcomes(t, m, payload)
		n := jsonRecordCount(payload)
		if n == 0 && len(bytes.TrimSpace(payload)) == 0 {
			n = 1 // an empty payload is a tombstone ("[]" holds no record)
		}
		if n >= 0 && n != len(out) {
			t.Fatalf("%d outcomes for %d records", len(out), n)
		}
	})
}

func FuzzMapping(f *testing.F) {
	for _, name := range []string{"crm-opportunities", "erp-orders-debezium", "pos-export", "shop-webhook"} {
		b, err := os.ReadFile(filepath.Join(examplesDir, name+".yaml"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{jsonCfg, csvCfg, cdcCfg, "", "a: &x 1\nb: *x\n", "fields: {txn_id: 'a[0'}\n", "time: {layout: '15:04'}\n", "- 1\n- 2\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		c, err := Parse([]byte(doc), "fuzz.yaml")
		if err != nil {
			if _, ok := err.(*ConfigError); !ok {
				t.Fatalf("error %T, want *ConfigError", err)
			}
			return
		}
		m, err := New(c)
		if err != nil {
			t.Fatalf("Parse accepted what New refuses: %v", err)
		}
		for _, p := range []string{rec, "a;b\n1;2\n", envelope("u", cdcRow("inv"), cdcRow("can"))} {
			checkOutcomes(t, m, []byte(p))
			sameReused(t, m, []byte(p), describe(m, []byte(p)))
		}
	})
}
