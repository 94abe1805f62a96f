package clickhouse

import (
	"fmt"
	"reflect"
	"testing"

	chcol "github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/transforms/accrue"
)

// accrualsTypes are table accruals' column types on the server (0007 and
// 0009, LowCardinality rendered as the 18.16 server has it).
var accrualsTypes = []string{
	"String", "String", "UInt32", "String", "String", "String",
	"Decimal(38, 10)", "Decimal(38, 10)", "UInt8", "String", "String",
	"Array(String)", "Array(Nullable(Decimal(38, 18)))", "Array(Nullable(Decimal(38, 18)))", "Array(String)",
	"Array(UInt8)", "Array(String)", "Array(Decimal(38, 18))", "Array(String)",
	"String", "Int32", "Int64", "DateTime('UTC')",
}

// testColumn is a clickhouse-go column as a batch hands it out.
type testColumn struct{ chcol.Interface }

func (c testColumn) Append(v any) error { _, err := c.Interface.Append(v); return err }

// accrualRecords are n accrual records as the pipeline's feed makes them:
// seven in eight a rep's own commission (one band, a quarter of them two)
// and one in eight an override with the contributions of parts reports.
func accrualRecords(n, parts int) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	for i := range recs {
		a := sampleAccrual()
		a.ID = fmt.Sprintf("crm:T-%d:sale/R-1#ae/2026-11/R-%d", i, i%200)
		a.Trace = a.Trace[:1+i%4/3]
		if i%8 == 7 {
			a.Trace = a.Trace[:0]
			for j := range parts {
				a.Trace = append(a.Trace, accrue.Part{Kind: "override", Level: 1, FromRepID: fmt.Sprintf("R-%d", j),
					EventID: fmt.Sprintf("crm:T-%d:sale", i+j), Rate: decimal.NewNullDecimal(dec("0.02")),
					Amount: dec(fmt.Sprintf("%d.%06d", j, i%999983))})
			}
		}
		recs[i] = record("accruals", int64(i), a.AppendJSON(nil))
	}
	return recs
}

// TestAppendColumnAsWhole checks that appending an array column row by row
// gives clickhouse-go the same column as appending it whole.
func TestAppendColumnAsWhole(t *testing.T) {
	rows := accrualsTable.NewRows()
	for _, r := range accrualRecords(64, 5) {
		if err := rows.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	for i, col := range rows.Columns() {
		whole, _ := chcol.Type(accrualsTypes[i]).Column(accrualsTable.Columns[i], &chcol.ServerContext{})
		byRow, _ := chcol.Type(accrualsTypes[i]).Column(accrualsTable.Columns[i], &chcol.ServerContext{})
		if _, err := whole.Append(col); err != nil {
			t.Fatal(err)
		}
		if err := appendColumn(testColumn{byRow}, col); err != nil {
			t.Fatal(err)
		}
		if whole.Rows() != 64 || byRow.Rows() != 64 {
			t.Fatalf("%s: %d and %d rows", accrualsTable.Columns[i], whole.Rows(), byRow.Rows())
		}
		for r := range 64 {
			if w, g := fmt.Sprint(whole.Row(r, false)), fmt.Sprint(byRow.Row(r, false)); w != g {
				t.Fatalf("%s row %d: %s appended whole, %s by row", accrualsTable.Columns[i], r, w, g)
			}
		}
	}
}

// BenchmarkAccrualRowsAppend is the sink's work on accrual records without
// the server: decoding a batch of them into columns (decode), and handing
// those columns to clickhouse-go's column types, whole (append=whole) or
// array columns row by row (append=rows, what the sink does). Per record.
func BenchmarkAccrualRowsAppend(b *testing.B) {
	const n = 4096
	recs := accrualRecords(n, 12)
	rows := accrualsTable.NewRows()
	fill := func(b *testing.B) {
		rows.Reset()
		for _, r := range recs {
			if err := rows.Add(r); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fill(b)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
	})
	fill(b)
	for _, tc := range []struct {
		name string
		add  func(columnAppender, any) error
	}{
		{"whole", func(c columnAppender, v any) error { return c.Append(v) }},
		{"rows", appendColumn},
	} {
		b.Run("append="+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for i, col := range rows.Columns() {
					c, err := chcol.Type(accrualsTypes[i]).Column(accrualsTable.Columns[i], &chcol.ServerContext{})
					if err != nil {
						b.Fatal(err)
					}
					if err := tc.add(testColumn{c}, col); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
}

// FuzzAccrualRows feeds the accrual and attainment decoders any bytes:
// each record is a row in every column or in none, and a good record
// decodes to the same row in a batch of its own and after other records,
// whatever they were (the arena and slabs must not leak between rows).
func FuzzAccrualRows(f *testing.F) {
	a := sampleAccrual()
	f.Add(a.AppendJSON(nil))
	s := sampleSnapshot("R-1", 3, "1200.5", "60.03", true)
	f.Add(s.AppendJSON(nil))
	f.Add([]byte(`{"accrual_id":"x","program_id":"p","period":"2026-01","rep_id":"r","delta":"1","earned":"1","trace":[{"kind":"override","rate":"0.1","band_from":null,"amount":"1e400"}]}`))
	f.Add([]byte(`{"trace":[{"level":300}]}`))
	good := accrualRecords(8, 3)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, tb := range []*Table{accrualsTable, attainmentTable} {
			rows := tb.NewRows()
			alone := tb.NewRows()
			for _, r := range good {
				_ = rows.Add(r)
			}
			before := rows.Len()
			err := rows.Add(record("t", 1, b))
			want := before
			if err == nil {
				want++
				if alone.Add(record("t", 1, b)) != nil {
					t.Fatalf("%s: the record decoded after others but not alone", tb.Name)
				}
			}
			for i, col := range rows.Columns() {
				if lenOf(col) != want {
					t.Fatalf("%s: column %s has %d values after Add returned %v, want %d", tb.Name, tb.Columns[i], lenOf(col), err, want)
				}
			}
			if err != nil {
				continue
			}
			got, one := rows.Columns(), alone.Columns()
			for i := range got {
				if g, w := fmt.Sprint(rowOf(got[i], want-1)), fmt.Sprint(rowOf(one[i], 0)); g != w {
					t.Fatalf("%s: column %s is %s after other records, %s alone", tb.Name, tb.Columns[i], g, w)
				}
			}
		}
	})
}

// rowOf is value i of a column slice.
func rowOf(col any, i int) any {
	return reflect.ValueOf(col).Index(i).Interface()
}
