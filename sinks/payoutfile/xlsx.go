package payoutfile

import (
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/accrue/accrue/transforms/currency"
)

// Sheet names of the workbook WriteXLSX writes.
const (
	SheetPayouts = "Payouts"
	SheetTotals  = "Totals"
)

// WriteXLSX writes a workbook with two sheets: SheetPayouts, one row per
// line (period, rep_id, currency, amount) under a bold, frozen header row
// with a filter, and SheetTotals, one row per currency (currency, reps,
// amount). Amounts are number cells holding the exact decimal text (never
// a float64 on the way), shown with their currency's minor unit and
// thousands separators.
func WriteXLSX(w io.Writer, period string, lines []Line) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", SheetPayouts); err != nil {
		return err
	}
	if _, err := f.NewSheet(SheetTotals); err != nil {
		return err
	}
	x := &xlsxWriter{f: f, styles: map[int32]int{}}
	var err error
	if x.header, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}}}); err != nil {
		return err
	}
	x.row(SheetPayouts, 1, []string{"period", "rep_id", "currency", "amount"}, x.header)
	for i, l := range lines {
		r := i + 2
		x.row(SheetPayouts, r, []string{period, l.RepID, l.Currency}, 0)
		x.amount(SheetPayouts, fmt.Sprintf("D%d", r), l.Amount.String(), l.Currency)
	}
	x.row(SheetTotals, 1, []string{"currency", "reps", "amount"}, x.header)
	for i, t := range ByCurrency(lines) {
		r := i + 2
		x.row(SheetTotals, r, []string{t.Currency}, 0)
		x.set(func() error { return f.SetCellInt(SheetTotals, fmt.Sprintf("B%d", r), int64(t.Reps)) })
		x.amount(SheetTotals, fmt.Sprintf("C%d", r), t.Amount.String(), t.Currency)
	}
	if x.err != nil {
		return x.err
	}
	for sheet, widths := range map[string][]float64{SheetPayouts: {10, 24, 10, 18}, SheetTotals: {10, 8, 18}} {
		for i, wd := range widths {
			col, _ := excelize.ColumnNumberToName(i + 1)
			x.set(func() error { return f.SetColWidth(sheet, col, col, wd) })
		}
		x.set(func() error {
			return f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
		})
	}
	if len(lines) > 0 {
		x.set(func() error { return f.AutoFilter(SheetPayouts, fmt.Sprintf("A1:D%d", len(lines)+1), nil) })
	}
	x.set(func() error {
		return f.SetDocProps(&excelize.DocProperties{Title: "Payouts " + period, Creator: "accrue"})
	})
	if x.err != nil {
		return x.err
	}
	_, err = f.WriteTo(w)
	return err
}

// xlsxWriter keeps the first error of a run of cell writes.
type xlsxWriter struct {
	f      *excelize.File
	header int
	styles map[int32]int // number style per minor unit
	err    error
}

func (x *xlsxWriter) set(fn func() error) {
	if x.err == nil {
		x.err = fn()
	}
}

func (x *xlsxWriter) row(sheet string, r int, cells []string, style int) {
	for i, v := range cells {
		ref, _ := excelize.CoordinatesToCellName(i+1, r)
		x.set(func() error { return x.f.SetCellStr(sheet, ref, v) })
		if style != 0 {
			x.set(func() error { return x.f.SetCellStyle(sheet, ref, ref, style) })
		}
	}
}

// amount writes the decimal text as a number cell, formatted with the
// currency's minor unit.
func (x *xlsxWriter) amount(sheet, ref, value, code string) {
	n, _ := currency.MinorUnits(code)
	st, ok := x.styles[n]
	if !ok {
		fmtCode := "#,##0"
		if n > 0 {
			fmtCode += "." + strings.Repeat("0", int(n))
		}
		x.set(func() (err error) {
			st, err = x.f.NewStyle(&excelize.Style{CustomNumFmt: &fmtCode})
			return err
		})
		x.styles[n] = st
	}
	x.set(func() error { return x.f.SetCellDefault(sheet, ref, value) })
	x.set(func() error { return x.f.SetCellStyle(sheet, ref, ref, st) })
}
