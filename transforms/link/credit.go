package link

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/shopspring/decimal"
)

// Refs names the reference versions a credit was linked with, by their
// ValidFrom (Forever where none was used), so that a statement can be
// explained later.
type Refs struct {
	Rep     reference.Date
	Account reference.Date
	Product reference.Date
}

// Credit is one recipient's share of an event: one record of
// sales.credited, keyed by RepID.
type Credit struct {
	Event *canonical.Event
	RepID string
	Share decimal.Decimal
	Via   string
	Refs  Refs
}

// ID is the credit's deterministic id: the event's id, "/", the recipient.
func (c *Credit) ID() string { return EventID(c.Event) + "/" + c.RepID }

// EventID is e's id, or its default "source:txn_id:type".
func EventID(e *canonical.Event) string {
	if e.EventID != "" {
		return e.EventID
	}
	return canonical.DefaultEventID(e.Source, e.TxnID, e.Type)
}

// AppendJSON appends the credit as sales.credited carries it:
//
//	{"credit_id":"crm:O-1:sale/R-17","rep_id":"R-17","share":"0.6","via":"identity",
//	 "refs":{"rep":"2026-01-01","account":"","product":"2026-03-01"},"event":{...}}
func (c *Credit) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"credit_id":`...)
	dst = strconv.AppendQuote(dst, c.ID())
	dst = append(dst, `,"rep_id":`...)
	dst = strconv.AppendQuote(dst, c.RepID)
	dst = append(dst, `,"share":"`...)
	dst = append(dst, canonical.DecimalString(c.Share)...)
	dst = append(dst, `","via":"`...)
	dst = append(dst, c.Via...)
	dst = append(dst, `","refs":{"rep":"`...)
	dst = append(dst, c.Refs.Rep.String()...)
	dst = append(dst, `","account":"`...)
	dst = append(dst, c.Refs.Account.String()...)
	dst = append(dst, `","product":"`...)
	dst = append(dst, c.Refs.Product.String()...)
	dst = append(dst, `"},"event":`...)
	dst = c.Event.AppendJSON(dst)
	return append(dst, '}')
}

type wireCredit struct {
	RepID string          `json:"rep_id"`
	Share string          `json:"share"`
	Via   string          `json:"via"`
	Refs  wireRefs        `json:"refs"`
	Event canonical.Event `json:"event"`
}

type wireRefs struct {
	Rep     reference.Date `json:"rep"`
	Account reference.Date `json:"account"`
	Product reference.Date `json:"product"`
}

// DecodeCredit reads a credit written by AppendJSON.
func DecodeCredit(b []byte) (*Credit, error) {
	w := wireCredit{Refs: wireRefs{reference.Forever, reference.Forever, reference.Forever}}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("credit: %w", err)
	}
	if w.RepID == "" {
		return nil, fmt.Errorf("credit: rep_id is missing")
	}
	share, err := canonical.ParseDecimal(w.Share)
	if err != nil || !share.IsPositive() {
		return nil, fmt.Errorf("credit: share %q is not a positive decimal", w.Share)
	}
	e := w.Event
	return &Credit{Event: &e, RepID: w.RepID, Share: share, Via: w.Via,
		Refs: Refs{Rep: w.Refs.Rep, Account: w.Refs.Account, Product: w.Refs.Product}}, nil
}

// Rep is the version of the credited rep the credit was linked with (role,
// team, manager as of the event), looked up in t.
func (c *Credit) Rep(t *reference.Tables) (reference.Rep, bool) {
	r, ok := t.Rep(c.RepID, c.Refs.Rep)
	return r, ok && r.ValidFrom == c.Refs.Rep
}

// Rate is the rate in force on the event's date (UTC) that converts the
// event's currency into to (reference.Tables.Rate).
func (c *Credit) Rate(t *reference.Tables, to string) (decimal.Decimal, bool) {
	return t.Rate(c.Event.Amount.Currency, to, reference.DateOf(c.Event.EventTime))
}
