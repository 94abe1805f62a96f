package clickhouse

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fastjson"
)

// creditsTable maps sales.credited (link.Credit's JSON: one recipient's
// share of an event) to table credits.
var creditsTable = &Table{
	Kind: "sales.credited",
	Name: "credits",
	Columns: append([]string{
		"credit_id", "event_id", "rep_id", "share", "via", "rep_ref", "account_ref", "product_ref",
		"source", "txn_id", "type", "ref_txn_id", "event_time", "event_rep_id", "account_id", "product_id",
		"quantity", "amount", "currency", "margin", "margin_currency",
		"credited_amount", "credited_margin", "credited_quantity",
	}, kafkaColumns...),
	NewRows: func() Rows { return &creditRows{in: interner{}} },
}

type creditRows struct {
	p     fastjson.Parser
	in    interner
	arena arena
	strs  slab[string]
	decs  slab[decimal.Decimal]

	creditID, eventID, repID            []string
	share                               []decimal.Decimal
	via, repRef, accountRef, productRef []string
	source, txnID, typ, refTxnID        []string
	eventTime                           []time.Time
	eventRepID, accountID, productID    []string
	quantity                            []*decimal.Decimal
	amount                              []decimal.Decimal
	currency                            []string
	margin                              []*decimal.Decimal
	marginCurrency                      []string
	creditedAmount                      []decimal.Decimal
	creditedMargin, creditedQuantity    []*decimal.Decimal
	kafka                               kafkaCols
}

type credit struct {
	creditID, repID, via           string
	share                          decimal.Decimal
	repRef, accountRef, productRef string
	event                          event
	hasShare, hasEvent             bool
}

func (r *creditRows) decode(v *fastjson.Value) (credit, error) {
	var c credit
	o, err := v.Object()
	if err != nil {
		return c, errors.New("credit: want a JSON object")
	}
	var ferr error
	o.Visit(func(k []byte, v *fastjson.Value) {
		if ferr != nil {
			return
		}
		switch string(k) {
		case "credit_id":
			c.creditID, ferr = str(v, &r.arena)
		case "rep_id":
			c.repID, ferr = str(v, &r.arena)
		case "via":
			c.via, ferr = str(v, r.in)
		case "share":
			c.share, ferr = decimalField("share", v, shareScale, sharePrecision)
			c.hasShare = ferr == nil
		case "refs":
			c.repRef, ferr = str(get(v, "rep"), nil)
			if ferr == nil {
				c.accountRef, ferr = str(get(v, "account"), nil)
			}
			if ferr == nil {
				c.productRef, ferr = str(get(v, "product"), nil)
			}
		case "event":
			c.event, ferr = decodeEvent(v, r.in, &r.arena, &eventMem{&r.strs, &r.decs})
			c.hasEvent = ferr == nil
			if ferr != nil {
				ferr = fmt.Errorf("event.%w", ferr)
			}
			return
		}
		if ferr == errNotString {
			ferr = fmt.Errorf("%s: %w", k, ferr)
		}
	})
	switch {
	case ferr != nil:
		return c, ferr
	case c.repID == "":
		return c, errors.New("rep_id is missing")
	case !c.hasShare:
		return c, errors.New("share is missing")
	case !c.hasEvent:
		return c, errors.New("event is missing")
	case c.creditID == "":
		c.creditID = c.event.eventID + "/" + c.repID
	}
	return c, nil
}

// credited is x × share, to the column's scale (half-even beyond it).
func credited(field string, x, share decimal.Decimal) (decimal.Decimal, error) {
	d, err := fit(x.Mul(share).RoundBank(moneyScale), moneyScale, moneyPrecision)
	if err != nil {
		return d, fmt.Errorf("%s: %w", field, err)
	}
	return d, nil
}

func creditedPtr(field string, x *decimal.Decimal, share decimal.Decimal) (*decimal.Decimal, error) {
	if x == nil {
		return nil, nil
	}
	d, err := credited(field, *x, share)
	return &d, err
}

func (r *creditRows) Add(rec *kgo.Record) error {
	v, err := r.p.ParseBytes(rec.Value)
	if err != nil {
		return err
	}
	c, err := r.decode(v)
	if err != nil {
		return err
	}
	e := &c.event
	ca, err := credited("credited_amount", e.amount, c.share)
	if err != nil {
		return err
	}
	cm, err := creditedPtr("credited_margin", e.margin, c.share)
	if err != nil {
		return err
	}
	cq, err := creditedPtr("credited_quantity", e.quantity, c.share)
	if err != nil {
		return err
	}
	r.creditID = append(r.creditID, c.creditID)
	r.eventID = append(r.eventID, e.eventID)
	r.repID = append(r.repID, c.repID)
	r.share = append(r.share, c.share)
	r.via = append(r.via, c.via)
	r.repRef = append(r.repRef, c.repRef)
	r.accountRef = append(r.accountRef, c.accountRef)
	r.productRef = append(r.productRef, c.productRef)
	r.source = append(r.source, e.source)
	r.txnID = append(r.txnID, e.txnID)
	r.typ = append(r.typ, e.typ)
	r.refTxnID = append(r.refTxnID, e.refTxnID)
	r.eventTime = append(r.eventTime, e.eventTime)
	r.eventRepID = append(r.eventRepID, e.repID)
	r.accountID = append(r.accountID, e.accountID)
	r.productID = append(r.productID, e.productID)
	r.quantity = append(r.quantity, e.quantity)
	r.amount = append(r.amount, e.amount)
	r.currency = append(r.currency, e.currency)
	r.margin = append(r.margin, e.margin)
	r.marginCurrency = append(r.marginCurrency, e.marginCurrency)
	r.creditedAmount = append(r.creditedAmount, ca)
	r.creditedMargin = append(r.creditedMargin, cm)
	r.creditedQuantity = append(r.creditedQuantity, cq)
	r.kafka.add(rec)
	return nil
}

func (r *creditRows) Len() int { return len(r.creditID) }

func (r *creditRows) Columns() []any {
	return append([]any{
		r.creditID, r.eventID, r.repID, r.share, r.via, r.repRef, r.accountRef, r.productRef,
		r.source, r.txnID, r.typ, r.refTxnID, r.eventTime, r.eventRepID, r.accountID, r.productID,
		r.quantity, r.amount, r.currency, r.margin, r.marginCurrency,
		r.creditedAmount, r.creditedMargin, r.creditedQuantity,
	}, r.kafka.columns()...)
}

func (r *creditRows) Reset() {
	clear(r.quantity)
	clear(r.margin)
	clear(r.creditedMargin)
	clear(r.creditedQuantity)
	r.creditID, r.eventID, r.repID, r.share = r.creditID[:0], r.eventID[:0], r.repID[:0], r.share[:0]
	r.via, r.repRef, r.accountRef, r.productRef = r.via[:0], r.repRef[:0], r.accountRef[:0], r.productRef[:0]
	r.source, r.txnID, r.typ, r.refTxnID = r.source[:0], r.txnID[:0], r.typ[:0], r.refTxnID[:0]
	r.eventTime = r.eventTime[:0]
	r.eventRepID, r.accountID, r.productID = r.eventRepID[:0], r.accountID[:0], r.productID[:0]
	r.quantity, r.amount, r.currency = r.quantity[:0], r.amount[:0], r.currency[:0]
	r.margin, r.marginCurrency = r.margin[:0], r.marginCurrency[:0]
	r.creditedAmount, r.creditedMargin, r.creditedQuantity = r.creditedAmount[:0], r.creditedMargin[:0], r.creditedQuantity[:0]
	r.kafka.reset()
	r.arena.reset()
	r.strs.reset()
	r.decs.reset()
}
