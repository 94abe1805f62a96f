package accrue

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/shopspring/decimal"
)

// The pinned outputs: everything the engine computes for a year of a
// random company (randomWorld, with more programs and some amounts too
// large for an int64) is written out exactly, every decimal as its
// coefficient and exponent, and its digest is compared with
// testdata/pinned.txt, recorded once from the engine as it was before any
// of its arithmetic was made faster. A change that moves any figure, any
// scale, any id or the order of anything fails here with the input where
// it first shows.
//
// Rerecord (only for a change meant to move figures):
//
//	go test ./transforms/accrue -run TestPinnedOutputs -update-pinned
var updatePinned = flag.Bool("update-pinned", false, "rewrite testdata/pinned.txt from the engine as it is")

const pinnedFile = "testdata/pinned.txt"

// pinnedWorld is randomWorld with programs that reach what its own do not:
// expressions on the event, the rep and the product, rate spiffs, a
// two-level override chain with a level that pays nothing, a time zone
// that is not UTC, and amounts of 20 digits and more.
func pinnedWorld(t testing.TB) *world {
	w := randomWorld(t, 11, 1500)
	for i := range 40 {
		w.tables.Put(reference.Product{ProductID: fmt.Sprintf("P-%d", i), Category: []string{"software", "services", "hardware"}[i%3],
			Attributes: map[string]any{"price": float64(10 * i)}, ValidFrom: reference.Forever})
	}
	// Larger amounts than any int64 holds in cents, products, attributes.
	for i, e := range w.events {
		switch {
		case e.Type == canonical.Sale && i%89 == 0:
			e.Amount.Value = e.Amount.Value.Mul(decimal.New(1, 14)).Add(decimal.New(123456789, -9))
			if e.Margin != nil {
				e.Margin.Value = e.Margin.Value.Mul(decimal.New(1, 13))
			}
		case e.Type == canonical.Sale && i%7 == 0:
			e.ProductID = fmt.Sprintf("P-%d", i%45) // P-40 and up are unknown
		case e.Type == canonical.Sale && i%11 == 0:
			e.Attributes = map[string]string{"channel": []string{"online", "retail"}[i%2]}
		}
	}
	c := d("2500")
	filter := mustExpr(`amount > 50 and rep.role != "DIR" and (product_id == "" or product.category in ["software", "services"])`)
	full := plan(func(p *program.Program) {
		p.ID, p.Version = "full", 3
		p.Credit.Filter = filter
		p.Quota = &program.Quota{Default: nd("25000"), ByRole: map[string]decimal.Decimal{"SE": d("17500.50")}}
		p.Cap = &c
		p.Spiffs = []program.Spiff{
			{ID: "launch", Fixed: nd("50"), MaxPerPeriod: 3, When: mustExpr(`attributes["channel"] == "online"`)},
			{ID: "kicker", Rate: nd("0.015"), When: mustExpr(`currency == "EUR"`)},
			{ID: "big", Fixed: nd("12.345")},
			{ID: "premium", Fixed: nd("5"), When: mustExpr(`product_id != "" and product.price > 200`)},
		}
		p.Overrides = []program.Override{{Level: 1, Rate: d("0.01")}, {Level: 3, Rate: d("0.0025")}}
		p.Clawback = &program.Clawback{WindowDays: 45}
		p.Nudges = program.Nudges{AttainmentCrossed: []decimal.Decimal{d("1.0"), d("0.25"), d("0.75")}, NearNextTierWithin: nd("0.15")}
		p.Badges = []program.Badge{{ID: "first", Metric: program.MetricCount, AtLeast: d("1")},
			{ID: "half", Metric: program.MetricCount, AtLeast: d("0.5")},
			{ID: "club", Metric: program.MetricAttainment, AtLeast: d("1")},
			{ID: "m", Metric: program.MetricMeasure, AtLeast: d("30000")},
			{ID: "earner", Metric: program.MetricEarned, AtLeast: d("500.005")}}
	})
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tokyo := plan(func(p *program.Program) {
		p.ID, p.Currency, p.Location, p.TimezoneName, p.Period = "tokyo", "JPY", ny, "America/New_York", program.Quarter
		p.Tiers = program.Tiers{Basis: program.Attainment, Method: program.Retroactive, Bands: bands("0:0.01", "0.3:0.025", "0.9:0.04")}
		p.Quota = &program.Quota{Default: nd("9000000"), ByRep: map[string]decimal.Decimal{"R-2": d("5000000")}}
		p.Spiffs = []program.Spiff{{ID: "r", Rate: nd("0.001")}}
		p.Overrides = []program.Override{{Level: 2, Rate: d("0.004")}}
		p.Nudges = program.Nudges{AttainmentCrossed: []decimal.Decimal{d("0.3"), d("0.9")}, NearNextTierWithin: nd("0.05")}
	})
	w.programs = append(w.programs, full, tokyo)
	return w
}

func TestPinnedOutputs(t *testing.T) {
	w := pinnedWorld(t)
	e, err := New(w.programs, w.tables)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var texts []string // what each line digests, to show a difference
	add := func(label, text string) {
		sum := sha256.Sum256([]byte(text))
		lines = append(lines, label+" "+hex.EncodeToString(sum[:12]))
		texts = append(texts, text)
	}
	s := MemoryStore{}
	credits := w.credits()
	for i := range credits {
		var b strings.Builder
		out, err := e.ApplyCredit(s, &credits[i])
		if err != nil {
			fmt.Fprintf(&b, "reject %s\n", err)
		} else {
			writeOutput(&b, &out)
			for j := range out.Overrides {
				o, err := e.ApplyOverride(s, &out.Overrides[j])
				if err != nil {
					t.Fatal(err)
				}
				writeOutput(&b, &o)
			}
		}
		add(fmt.Sprintf("credit %d %s", i, credits[i].ID()), b.String())
		if i%250 == 249 {
			add(fmt.Sprintf("state %d", i), dumpStore(s))
		}
	}
	add("state end", dumpStore(s))
	var b strings.Builder
	for _, st := range e.Statements(s) {
		b.Write(st.AppendJSON(nil))
		b.WriteByte('\n')
		dumpValue(&b, reflect.ValueOf(st))
		b.WriteByte('\n')
	}
	add("statements", b.String())
	n := e.Sweep(s, time.Date(2027, 9, 1, 0, 0, 0, 0, time.UTC), 300*24*time.Hour)
	add(fmt.Sprintf("swept %d", n), dumpStore(s))

	if *updatePinned {
		if err := os.WriteFile(pinnedFile, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(pinnedFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		want = append(want, sc.Text())
	}
	if len(credits) < 2000 {
		t.Fatalf("only %d credits: the world proves too little", len(credits))
	}
	for i := range max(len(lines), len(want)) {
		switch {
		case i >= len(want):
			t.Fatalf("line %d is new: %s", i+1, lines[i])
		case i >= len(lines):
			t.Fatalf("line %d is gone: %s", i+1, want[i])
		case lines[i] != want[i]:
			t.Fatalf("line %d differs:\n got %s\nwant %s\nwhat it digests now:\n%s", i+1, lines[i], want[i], texts[i])
		}
	}
}

// writeOutput writes every record of out as JSON and exactly.
func writeOutput(b *strings.Builder, out *Output) {
	for i := range out.Accruals {
		b.Write(out.Accruals[i].AppendJSON(nil))
		b.WriteByte('\n')
	}
	for i := range out.Snapshots {
		b.Write(out.Snapshots[i].AppendJSON(nil))
		fmt.Fprintf(b, " %s\n", out.Snapshots[i].ID())
	}
	for i := range out.Nudges {
		b.Write(out.Nudges[i].AppendJSON(nil))
		fmt.Fprintf(b, " %s\n", out.Nudges[i].ID())
	}
	for i := range out.Awards {
		b.Write(out.Awards[i].AppendJSON(nil))
		fmt.Fprintf(b, " %s\n", out.Awards[i].ID())
	}
	for i := range out.Overrides {
		b.Write(out.Overrides[i].AppendJSON(nil))
		b.WriteByte('\n')
	}
	dumpValue(b, reflect.ValueOf(*out))
	b.WriteByte('\n')
}

func dumpStore(s MemoryStore) string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(' ')
		dumpValue(&b, reflect.ValueOf(s[k]))
		b.WriteByte('\n')
	}
	return b.String()
}

var (
	decimalType     = reflect.TypeOf(decimal.Decimal{})
	nullDecimalType = reflect.TypeOf(decimal.NullDecimal{})
	numType         = reflect.TypeOf(Num{})
	timeType        = reflect.TypeOf(time.Time{})
)

// dumpValue writes v with every decimal as coefficient "e" exponent, so
// that a figure written with another scale is a difference too. A nil
// slice and an empty one read alike (neither JSON nor the Codec tells
// them apart).
func dumpValue(b *strings.Builder, v reflect.Value) {
	switch v.Type() {
	case decimalType:
		d := v.Interface().(decimal.Decimal)
		fmt.Fprintf(b, "%se%d", d.Coefficient(), d.Exponent())
		return
	case numType:
		dumpValue(b, reflect.ValueOf(v.Interface().(Num).Decimal()))
		return
	case nullDecimalType:
		n := v.Interface().(decimal.NullDecimal)
		if !n.Valid {
			b.WriteString("null")
			return
		}
		dumpValue(b, reflect.ValueOf(n.Decimal))
		return
	case timeType:
		tm := v.Interface().(time.Time)
		fmt.Fprintf(b, "%s@%s", tm.Format(time.RFC3339Nano), tm.Location())
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		b.WriteByte('&')
		dumpValue(b, v.Elem())
	case reflect.Struct:
		b.WriteByte('{')
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue // the engine's own, not a figure
			}
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(v.Type().Field(i).Name)
			b.WriteByte(':')
			dumpValue(b, v.Field(i))
		}
		b.WriteByte('}')
	case reflect.Slice:
		b.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				b.WriteByte(' ')
			}
			dumpValue(b, v.Index(i))
		}
		b.WriteByte(']')
	case reflect.String:
		fmt.Fprintf(b, "%q", v.String())
	default:
		fmt.Fprint(b, v.Interface())
	}
}
