package reference

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func day(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestDate(t *testing.T) {
	for _, s := range []string{"1970-01-01", "1969-12-31", "2026-11-27", "2000-02-29"} {
		if got := day(s).String(); got != s {
			t.Errorf("round trip %s: %s", s, got)
		}
	}
	if d := DateOf(time.Date(2026, 3, 1, 23, 59, 59, 0, time.FixedZone("x", -5*3600))); d.String() != "2026-03-02" {
		t.Errorf("DateOf is the UTC date: got %s", d)
	}
	if d := DateOf(time.Date(1969, 12, 31, 12, 0, 0, 0, time.UTC)); d.String() != "1969-12-31" {
		t.Errorf("before the epoch: got %s", d)
	}
	if _, err := ParseDate("2026-13-01"); err == nil {
		t.Error("month 13 parsed")
	}
}

// A rep who changes team and manager mid-month is seen under the old
// manager before the change and the new one from its date on.
func TestRepAsOf(t *testing.T) {
	var tb Tables
	bad, err := tb.Load(Reps, strings.NewReader(`
{"rep_id":"R-1","name":"Ann","role":"AE","team":"north","manager_id":"M-1","currency":"EUR","valid_from":"2026-01-01"}
{"rep_id":"R-1","name":"Ann","role":"AE","team":"south","manager_id":"M-2","currency":"EUR","valid_from":"2026-11-15"}
{"rep_id":"M-1","role":"Manager"}
`), JSONL)
	if err != nil || len(bad) > 0 {
		t.Fatal(err, bad)
	}
	for _, c := range []struct {
		at            string
		team, manager string
		ok            bool
	}{
		{"2025-12-31T23:59:59Z", "", "", false},
		{"2026-01-01T00:00:00Z", "north", "M-1", true},
		{"2026-11-14T23:59:59Z", "north", "M-1", true},
		{"2026-11-15T00:00:00Z", "south", "M-2", true},
		{"2026-11-14T23:30:00-02:00", "south", "M-2", true}, // 01:30 UTC on the 15th
		{"2027-06-01T00:00:00Z", "south", "M-2", true},
	} {
		at, _ := time.Parse(time.RFC3339, c.at)
		r, ok := tb.Rep("R-1", DateOf(at))
		if ok != c.ok || r.Team != c.team || r.ManagerID != c.manager {
			t.Errorf("at %s: got %v %q %q, want %v %q %q", c.at, ok, r.Team, r.ManagerID, c.ok, c.team, c.manager)
		}
	}
	if r, ok := tb.Rep("M-1", day("1900-01-01")); !ok || r.Role != "Manager" {
		t.Errorf("a row without valid_from is in force from the beginning: %v %+v", ok, r)
	}
}

// An FX rate that changes at midnight UTC applies from that date; the
// inverse is used where only the other direction exists, to 16 places.
func TestRateAsOf(t *testing.T) {
	var tb Tables
	bad, err := tb.Load(FX, strings.NewReader("from,to,rate,valid_from\nEUR,USD,1.08,2026-11-01\nEUR,USD,1.10,2026-11-16\nUSD,JPY,150,2026-01-01\n"), CSV)
	if err != nil || len(bad) > 0 {
		t.Fatal(err, bad)
	}
	for _, c := range []struct {
		from, to, at, want string
	}{
		{"EUR", "USD", "2026-11-15", "1.08"},
		{"EUR", "USD", "2026-11-16", "1.10"},
		{"USD", "EUR", "2026-11-15", "0.9259259259259259"}, // 1/1.08
		{"USD", "EUR", "2026-11-16", "0.9090909090909091"}, // 1/1.10
		{"JPY", "USD", "2026-06-01", "0.0066666666666667"},
		{"USD", "USD", "1990-01-01", "1"},
	} {
		got, ok := tb.Rate(c.from, c.to, day(c.at))
		if !ok || !got.Equal(decimal.RequireFromString(c.want)) {
			t.Errorf("%s→%s on %s: %v %s, want %s", c.from, c.to, c.at, ok, got, c.want)
		}
	}
	if _, ok := tb.Rate("EUR", "USD", day("2026-10-31")); ok {
		t.Error("a rate before its first valid_from")
	}
	if _, ok := tb.Rate("EUR", "GBP", day("2026-11-20")); ok {
		t.Error("a rate that does not exist")
	}
}

func TestReadReportsEveryBadRow(t *testing.T) {
	input := `{"rep_id":"R-1","role":"AE"}
{"rep_id":"","role":"AE"}
not json
{"rep_id":"R-2","colour":"red"}
{"rep_id":"R-3","currency":"XXY"}
{"rep_id":"R-4","manager_id":"R-4"}
{"rep_id":"R-5","valid_from":"2026-02-30"}

{"rep_id":"R-6"}
`
	var good []int
	var bad []*LineError
	err := Read(Reps, strings.NewReader(input), JSONL, func(line int, _ Row) error {
		good = append(good, line)
		return nil
	}, func(e *LineError) { bad = append(bad, e) })
	if err != nil {
		t.Fatal(err)
	}
	if len(good) != 2 || good[0] != 1 || good[1] != 9 {
		t.Errorf("good lines %v, want [1 9]", good)
	}
	wantLines := []int{2, 3, 4, 5, 6, 7}
	wantFields := []string{"rep_id", "", "colour", "currency", "manager_id", ""}
	if len(bad) != len(wantLines) {
		t.Fatalf("bad rows %v, want lines %v", bad, wantLines)
	}
	for i, e := range bad {
		if e.Line != wantLines[i] {
			t.Errorf("bad row %d at line %d, want %d (%v)", i, e.Line, wantLines[i], e)
		}
		var fe *FieldError
		if wantFields[i] != "" && (!errors.As(e, &fe) || fe.Field != wantFields[i]) {
			t.Errorf("line %d: %v, want field %s", e.Line, e, wantFields[i])
		}
	}
}

func TestCSVLinesAndProducts(t *testing.T) {
	input := "\ufeffproduct_id,category,list_price\nP-1,software,100\n\"P-2\",\"hardware\nrack\",5\nP-3,services\n,services,1\n"
	var tb Tables
	bad, err := tb.Load(Products, strings.NewReader(input), CSV)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 2 || bad[0].Line != 5 || bad[1].Line != 6 {
		t.Fatalf("bad rows %v, want lines 5 (short row) and 6 (no id)", bad)
	}
	p, ok := tb.Product("P-2", day("2026-01-01"))
	if !ok || p.Category != "hardware\nrack" || p.Attributes["list_price"] != "5" {
		t.Errorf("P-2: %v %+v", ok, p)
	}
	f := p.Fields()
	if f["category"] != "hardware\nrack" || f["product_id"] != "P-2" {
		t.Errorf("fields %v", f)
	}
}

func TestApplyRecordsAndTombstones(t *testing.T) {
	var tb Tables
	rows := []Row{
		Rep{RepID: "R-1", Team: "a", ValidFrom: day("2026-01-01")},
		Rep{RepID: "R-1", Team: "b", ValidFrom: day("2026-06-01")},
		Product{ProductID: "P-1", Category: "software", Attributes: map[string]any{"tier": "gold", "weight": 2.5}, ValidFrom: Forever},
		Identity{Source: "crm", Key: "ann@example.com", RepID: "R-1", ValidFrom: Forever},
		Account{AccountID: "A-1", OwnerRepID: "R-1", ValidFrom: day("2026-03-01")},
		FXRate{From: "EUR", To: "USD", Rate: decimal.RequireFromString("1.08"), ValidFrom: day("2026-01-01")},
	}
	for _, r := range rows {
		b, err := Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := tb.Apply(r.Kind(), []byte(RecordKey(r)), b); err != nil {
			t.Fatalf("%s %s: %v", r.Kind(), b, err)
		}
	}
	if r, _ := tb.Rep("R-1", day("2026-07-01")); r.Team != "b" {
		t.Errorf("R-1 in July: %+v", r)
	}
	if p, _ := tb.Product("P-1", day("2026-07-01")); p.Attributes["weight"] != 2.5 || p.Category != "software" {
		t.Errorf("P-1: %+v", p)
	}
	if id, ok := tb.Identity("crm", "ann@example.com", day("2020-01-01")); !ok || id.RepID != "R-1" {
		t.Errorf("identity: %v %+v", ok, id)
	}
	if a, ok := tb.Account("A-1", day("2026-03-01")); !ok || a.OwnerRepID != "R-1" {
		t.Errorf("account: %v %+v", ok, a)
	}
	// Re-publishing a version replaces it; a tombstone removes only it.
	if err := tb.Apply(Reps, []byte("R-1@2026-06-01"), []byte(`{"rep_id":"R-1","team":"c","valid_from":"2026-06-01"}`)); err != nil {
		t.Fatal(err)
	}
	if r, _ := tb.Rep("R-1", day("2026-07-01")); r.Team != "c" || len(tb.Reps.Versions("R-1")) != 2 {
		t.Errorf("replaced version: %+v, %d versions", r, len(tb.Reps.Versions("R-1")))
	}
	if err := tb.Apply(Reps, []byte("R-1@2026-06-01"), nil); err != nil {
		t.Fatal(err)
	}
	if r, _ := tb.Rep("R-1", day("2026-07-01")); r.Team != "a" {
		t.Errorf("after the tombstone, the older version is in force again: %+v", r)
	}
	if err := tb.Apply(Reps, []byte("R-1"), nil); err == nil {
		t.Error("a tombstone with a key that names no date")
	}
	if err := tb.Apply(FX, []byte("EUR/USD@2026-01-01"), []byte(`{"from":"EUR","to":"USD","rate":"-1"}`)); err == nil {
		t.Error("a negative rate was applied")
	}
}

func BenchmarkRepAsOf(b *testing.B) {
	var tb Tables
	for i := range 10000 {
		id := "R-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + decimal.NewFromInt(int64(i)).String()
		tb.Reps.Put(Rep{RepID: id, ValidFrom: day("2026-01-01")})
		tb.Reps.Put(Rep{RepID: id, ValidFrom: day("2026-06-01")})
	}
	d := day("2026-07-01")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := tb.Rep("R-a0", d); !ok {
			b.Fatal("R-a0 not found")
		}
	}
}
