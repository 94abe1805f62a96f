package payoutfile

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"testing"

	"github.com/xuri/excelize/v2"
)

// The CSV has one row per rep and currency, and its amounts add up, per
// currency, to the payable records.
func TestCSVAddsUp(t *testing.T) {
	f := newFixture(2, 2000)
	var buf bytes.Buffer
	if err := WriteCSV(&buf, f.period, f.totals(t).Lines()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if mustJSON(rows[0]) != mustJSON(CSVHeader) {
		t.Fatalf("header %v", rows[0])
	}
	got := map[string]int64{}
	perCcy := map[string]int64{}
	for _, r := range rows[1:] {
		if r[0] != f.period {
			t.Errorf("row %v: period %s", r, r[0])
		}
		k := r[1] + "|" + r[2]
		if _, dup := got[k]; dup {
			t.Errorf("rep %s twice", k)
		}
		got[k] = toMinor(t, r[3], r[2])
		perCcy[r[2]] += got[k]
	}
	if mustJSON(got) != mustJSON(f.want) {
		t.Errorf("rows differ from the records' sums:\n got %v\nwant %v", got, f.want)
	}
	if mustJSON(perCcy) != mustJSON(f.perCcy) {
		t.Errorf("sums per currency %v, want %v", perCcy, f.perCcy)
	}
}

// The workbook, read back with excelize, holds every line as a number cell
// whose exact text adds up to the records, and the totals sheet agrees.
func TestXLSXReadsBackAndAddsUp(t *testing.T) {
	f := newFixture(3, 2000)
	var buf bytes.Buffer
	if err := WriteXLSX(&buf, f.period, f.totals(t).Lines()); err != nil {
		t.Fatal(err)
	}
	x, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got := x.GetSheetList(); mustJSON(got) != mustJSON([]string{SheetPayouts, SheetTotals}) {
		t.Fatalf("sheets %v", got)
	}
	rows, err := x.GetRows(SheetPayouts, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	if mustJSON(rows[0]) != `["period","rep_id","currency","amount"]` {
		t.Fatalf("header %v", rows[0])
	}
	got := map[string]int64{}
	for i, r := range rows[1:] {
		ref := "D" + strconv.Itoa(i+2)
		typ, err := x.GetCellType(SheetPayouts, ref)
		if err != nil {
			t.Fatal(err)
		}
		if typ != excelize.CellTypeUnset && typ != excelize.CellTypeNumber {
			t.Fatalf("%s is of type %v, want a number", ref, typ)
		}
		got[r[1]+"|"+r[2]] = toMinor(t, r[3], r[2])
	}
	if mustJSON(got) != mustJSON(f.want) {
		t.Errorf("rows differ from the records' sums:\n got %v\nwant %v", got, f.want)
	}
	// Shown with the currency's minor unit: JPY without decimals.
	for i, r := range rows[1:] {
		shown, _ := x.GetCellValue(SheetPayouts, "D"+strconv.Itoa(i+2))
		if r[2] == "JPY" && bytes.ContainsRune([]byte(shown), '.') || r[2] != "JPY" && !bytes.ContainsRune([]byte(shown), '.') {
			t.Errorf("%s amount %s shown as %q", r[2], r[3], shown)
			break
		}
	}
	totals, err := x.GetRows(SheetTotals, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	perCcy := map[string]int64{}
	for _, r := range totals[1:] {
		perCcy[r[0]] = toMinor(t, r[2], r[0])
	}
	if mustJSON(perCcy) != mustJSON(f.perCcy) {
		t.Errorf("totals sheet %v, want %v", perCcy, f.perCcy)
	}
	panes, err := x.GetPanes(SheetPayouts)
	if err != nil || !panes.Freeze || panes.YSplit != 1 {
		t.Errorf("header row not frozen: %+v %v", panes, err)
	}
}
