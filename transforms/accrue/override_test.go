package accrue

import (
	"strings"
	"testing"
)

// TestSummedOverridesGiveTheSameStatements applies a year of a random
// company's override records two ways: one by one, as `accrue simulate`
// does, and summed in batches of 50 as the stage writes them (through
// their JSON, as the topic carries them). Every statement must come out
// the same, and the summed records must be fewer and carry every
// contribution.
func TestSummedOverridesGiveTheSameStatements(t *testing.T) {
	w := randomWorld(t, 7, 1200)
	one, err := New(w.programs, w.tables)
	if err != nil {
		t.Fatal(err)
	}
	summed, _ := New(w.programs, w.tables)
	s1, s2 := MemoryStore{}, MemoryStore{}
	var batch []OverrideCredit
	contributions, records := 0, 0
	flush := func() {
		for _, o := range SumOverrides(batch) {
			records++
			contributions += max(1, len(o.Sources))
			back, err := DecodeOverride(o.AppendJSON(nil))
			if err != nil {
				t.Fatalf("%s: %v", o.AppendJSON(nil), err)
			}
			if _, err := summed.ApplyOverride(s2, back); err != nil {
				t.Fatal(err)
			}
		}
		batch = batch[:0]
	}
	credits := w.credits()
	for i := range credits {
		out, err := one.ApplyCredit(s1, &credits[i])
		if err != nil {
			continue
		}
		for j := range out.Overrides {
			if _, err := one.ApplyOverride(s1, &out.Overrides[j]); err != nil {
				t.Fatal(err)
			}
		}
		out2, err := summed.ApplyCredit(s2, &credits[i])
		if err != nil {
			t.Fatalf("credit %s applied once, refused the second time: %v", credits[i].ID(), err)
		}
		batch = append(batch, out2.Overrides...)
		if i%50 == 49 {
			flush()
		}
	}
	flush()
	if contributions < 500 || records >= contributions/2 {
		t.Fatalf("%d override records for %d contributions: the world proves too little", records, contributions)
	}
	a, b := one.Statements(s1), summed.Statements(s2)
	if len(a) != len(b) {
		t.Fatalf("%d statements one by one, %d summed", len(a), len(b))
	}
	for i := range a {
		if x, y := string(a[i].AppendJSON(nil)), string(b[i].AppendJSON(nil)); x != y {
			t.Fatalf("statement differs:\n one by one %s\n summed     %s", x, y)
		}
	}
	t.Logf("%d contributions in %d records, %d statements", contributions, records, len(a))
}

func TestDecodeOverrideChecksItsSources(t *testing.T) {
	o := SumOverrides([]OverrideCredit{
		{ID: "e1/R-1/override/ae/1", ProgramID: "ae", ProgramVersion: 2, Period: "2026-11", ManagerID: "M-1", Level: 1,
			FromRepID: "R-1", Rate: d("0.01"), Amount: d("1.25"), EventID: "e1"},
		{ID: "e2/R-2/override/ae/1", ProgramID: "ae", ProgramVersion: 2, Period: "2026-11", ManagerID: "M-1", Level: 1,
			FromRepID: "R-2", Rate: d("0.01"), Amount: d("-0.5"), EventID: "e2"},
		{ID: "e2/R-2/override/ae/2", ProgramID: "ae", ProgramVersion: 2, Period: "2026-11", ManagerID: "D-1", Level: 2,
			FromRepID: "R-2", Rate: d("0.005"), Amount: d("-0.25"), EventID: "e2"},
	})
	if len(o) != 2 {
		t.Fatalf("%d records, want one per manager and level", len(o))
	}
	js := string(o[0].AppendJSON(nil))
	want := `{"override_id":"e1/R-1/override/ae/1","program_id":"ae","program_version":2,"period":"2026-11","manager_id":"M-1","level":1,` +
		`"from_rep_id":"","rate":"0.01","amount":"0.75","event_id":"e2","sources":[{"from_rep_id":"R-1","event_id":"e1","amount":"1.25"},` +
		`{"from_rep_id":"R-2","event_id":"e2","amount":"-0.5"}]}`
	if js != want {
		t.Fatalf("got  %s\nwant %s", js, want)
	}
	// The stage's reader takes the record by position; it must read what
	// encoding/json reads.
	fast, ok := decodeOverrideFast([]byte(js))
	slow, err := decodeOverrideJSON([]byte(js))
	if !ok || err != nil || string(fast.AppendJSON(nil)) != js || string(slow.AppendJSON(nil)) != js || len(fast.Sources) != 2 {
		t.Fatalf("fast %v (%v), json %v (%v)", fast, ok, slow, err)
	}
	for _, c := range []struct{ from, to, err string }{
		{`"amount":"0.75"`, `"amount":"0.76"`, "not the sum of its sources"},
		{`"from_rep_id":"",`, `"from_rep_id":"R-9",`, "beside sources"},
		{`{"from_rep_id":"R-1"`, `{"from_rep_id":""`, "sources[0].from_rep_id is missing"},
		{`"amount":"-0.5"`, `"amount":"x"`, "sources[1].amount"},
	} {
		_, err := DecodeOverride([]byte(strings.Replace(js, c.from, c.to, 1)))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s → %s: error %v, want %q", c.from, c.to, err, c.err)
		}
	}
}
