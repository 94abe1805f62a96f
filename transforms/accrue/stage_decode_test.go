package accrue

import (
	"fmt"
	"strings"
	"testing"

	"github.com/accrue/accrue/transforms/link"
)

// creditSeeds are records of sales.credited as the linking stage writes
// them, and others that only encoding/json reads right.
func creditSeeds(t testing.TB) []string {
	w := randomWorld(t, 5, 60)
	var out []string
	for _, c := range w.credits() {
		out = append(out, string(c.AppendJSON(nil)))
	}
	first := out[0]
	return append(out,
		strings.Replace(first, `"via":"rep"`, `"via" : "rep"`, 1),
		strings.Replace(first, `"rep_id":"`, `"rep_id":"\u0052`, 1),
		strings.Replace(first, `"refs":{"rep":"2026-01-01"`, `"refs":{"rep":""`, 1),
		strings.Replace(first, `"refs":{"rep":"2026-01-01"`, `"refs":{"rep":"2026-13-01"`, 1),
		strings.Replace(first, `"share":"1"`, `"share":"0"`, 1),
		strings.Replace(first, `"share":"1"`, `"share":"-1"`, 1),
		strings.Replace(first, `"share":"1"`, `"share":1`, 1),
		strings.Replace(first, `"rep_id":"R-`, `"rep_id":"\xffR-`, 1),
		strings.Replace(first, `"rep_id":"R-`, `"REP_ID":"R-`, 1),
		first[:len(first)-1]+`,"extra":1}`,
		first+" ",
		first[:len(first)-2]+`}`,
		strings.Replace(first, `"event":{`, `"event":null,"x":{`, 1),
		`{"credit_id":"a","rep_id":"R-1","share":"1","via":"rep","refs":{"rep":"","account":"","product":""},"event":null}`,
		`{"credit_id":"a","rep_id":"","share":"1","via":"rep","refs":{"rep":"","account":"","product":""},"event":{}}`,
		`{"credit_id":"a","rep_id":"R-1","share":"1","via":"rep","refs":{"rep":"","account":"","product":""},"event":{}}`,
		`{"credit_id":"a","rep_id":"R-1","share":"1","via":"rep","refs":{"rep":"","account":"","product":""},"event":{}}}`,
		`{}`, `[]`, ``, `{"credit_id":`)
}

// TestDecodeCreditAgrees: DecodeCredit accepts what link.DecodeCredit
// accepts and returns the same credit.
func TestDecodeCreditAgrees(t *testing.T) {
	fast := 0
	for _, s := range creditSeeds(t) {
		agree(t, []byte(s))
		if _, ok := decodeCreditFast([]byte(s)); ok {
			fast++
		}
	}
	if fast < 60 {
		t.Errorf("only %d records read by position: the linking stage's layout should be", fast)
	}
}

func agree(t *testing.T, b []byte) {
	t.Helper()
	got, gerr := DecodeCredit(b)
	want, werr := link.DecodeCredit(b)
	switch {
	case (gerr == nil) != (werr == nil):
		t.Fatalf("%q: DecodeCredit error %v, link.DecodeCredit error %v", b, gerr, werr)
	case gerr != nil:
		return
	}
	if g, w := creditString(got), creditString(want); g != w {
		t.Fatalf("%q:\n got %s\nwant %s", b, g, w)
	}
}

func creditString(c *link.Credit) string {
	return fmt.Sprintf("%s %s %s %v %s", c.RepID, c.Share, c.Via, c.Refs, c.Event.AppendJSON(nil))
}

func FuzzDecodeCredit(f *testing.F) {
	for _, s := range creditSeeds(f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { agree(t, b) })
}

// BenchmarkStageDecodeCredit reads records of sales.credited by position
// (DecodeCredit); BenchmarkDecodeCredit reads them with encoding/json.
func BenchmarkStageDecodeCredit(b *testing.B) {
	_, recs := benchInputs(b, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := DecodeCredit(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}
