package payoutfile

import (
	"encoding/csv"
	"io"
)

// CSVHeader is the first row WriteCSV writes.
var CSVHeader = []string{"period", "rep_id", "currency", "amount"}

// WriteCSV writes one row per line after CSVHeader: the period, the rep,
// the currency and the net amount with its currency's minor unit (a
// negative net is written as it is: the rep owes it). Nothing else is in
// the file, so every row is data; the sums per currency are ByCurrency.
func WriteCSV(w io.Writer, period string, lines []Line) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, l := range lines {
		if err := cw.Write([]string{period, l.RepID, l.Currency, format(l.Amount, l.Currency)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
