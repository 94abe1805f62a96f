package ingest

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/connectors/canonical"
)

func TestIdentityReadsWhatDedupeNeeds(t *testing.T) {
	at := time.Date(2026, 11, 3, 10, 15, 0, 123, time.UTC)
	e := canonical.Event{Source: "erp-eu", TxnID: "SO-1", Type: canonical.Cancel, RefTxnID: "SO-0", EventTime: at,
		RepID: "R-1", Amount: canonical.Money{Value: decimal.RequireFromString("1.00"), Currency: "EUR"}}
	got, err := identity(e.AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.Key() != e.Key() || !got.EventTime.Equal(at) || got.Source != "erp-eu" {
		t.Errorf("identity %+v, want the key %s at %s", got, e.Key(), at)
	}
	for _, bad := range []string{
		``, `[]`, `{"source":"a","txn_id":"1","type":"sale"}`,
		`{"source":"a","txn_id":"1","type":"refund","event_time":"2026-11-03T10:15:00Z"}`,
		`{"source":"a","txn_id":1,"type":"sale","event_time":"2026-11-03T10:15:00Z"}`,
		`{"source":"","txn_id":"1","type":"sale","event_time":"2026-11-03T10:15:00Z"}`,
		`{"source":"a","txn_id":"1","type":"sale","event_time":"yesterday"}`,
	} {
		if _, err := identity([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
