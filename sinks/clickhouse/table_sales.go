package clickhouse

import (
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fastjson"
)

// salesTable maps sales.clean (canonical events, canonical.Event's JSON)
// to table sales.
var salesTable = &Table{
	Kind: "sales.clean",
	Name: "sales",
	Columns: append([]string{
		"event_id", "source", "txn_id", "type", "ref_txn_id", "event_time",
		"rep_id", "account_id", "product_id", "quantity", "amount", "currency",
		"margin", "margin_currency", "split_rep_ids", "split_shares",
		"attribute_keys", "attribute_values",
	}, kafkaColumns...),
	NewRows: func() Rows { return &salesRows{in: interner{}} },
}

type salesRows struct {
	p     fastjson.Parser
	in    interner
	arena arena
	strs  slab[string]
	decs  slab[decimal.Decimal]

	eventID, source, txnID, typ, refTxnID []string
	eventTime                             []time.Time
	repID, accountID, productID           []string
	quantity                              []*decimal.Decimal
	amount                                []decimal.Decimal
	currency                              []string
	margin                                []*decimal.Decimal
	marginCurrency                        []string
	splitReps                             [][]string
	splitShares                           [][]decimal.Decimal
	attrKeys, attrValues                  [][]string
	kafka                                 kafkaCols
}

func (r *salesRows) Add(rec *kgo.Record) error {
	v, err := r.p.ParseBytes(rec.Value)
	if err != nil {
		return err
	}
	e, err := decodeEvent(v, r.in, &r.arena, &eventMem{&r.strs, &r.decs})
	if err != nil {
		return err
	}
	r.eventID = append(r.eventID, e.eventID)
	r.source = append(r.source, e.source)
	r.txnID = append(r.txnID, e.txnID)
	r.typ = append(r.typ, e.typ)
	r.refTxnID = append(r.refTxnID, e.refTxnID)
	r.eventTime = append(r.eventTime, e.eventTime)
	r.repID = append(r.repID, e.repID)
	r.accountID = append(r.accountID, e.accountID)
	r.productID = append(r.productID, e.productID)
	r.quantity = append(r.quantity, e.quantity)
	r.amount = append(r.amount, e.amount)
	r.currency = append(r.currency, e.currency)
	r.margin = append(r.margin, e.margin)
	r.marginCurrency = append(r.marginCurrency, e.marginCurrency)
	r.splitReps = append(r.splitReps, e.splitReps)
	r.splitShares = append(r.splitShares, e.splitShares)
	r.attrKeys = append(r.attrKeys, e.attrKeys)
	r.attrValues = append(r.attrValues, e.attrValues)
	r.kafka.add(rec)
	return nil
}

func (r *salesRows) Len() int { return len(r.eventID) }

func (r *salesRows) Columns() []any {
	return append([]any{
		r.eventID, r.source, r.txnID, r.typ, r.refTxnID, r.eventTime,
		r.repID, r.accountID, r.productID, r.quantity, r.amount, r.currency,
		r.margin, r.marginCurrency, r.splitReps, r.splitShares,
		r.attrKeys, r.attrValues,
	}, r.kafka.columns()...)
}

func (r *salesRows) Reset() {
	clear(r.quantity) // drop pointers, so the decimals can be collected
	clear(r.margin)
	clear(r.splitReps)
	clear(r.splitShares)
	clear(r.attrKeys)
	clear(r.attrValues)
	r.eventID, r.source, r.txnID, r.typ, r.refTxnID = r.eventID[:0], r.source[:0], r.txnID[:0], r.typ[:0], r.refTxnID[:0]
	r.eventTime = r.eventTime[:0]
	r.repID, r.accountID, r.productID = r.repID[:0], r.accountID[:0], r.productID[:0]
	r.quantity, r.amount, r.currency = r.quantity[:0], r.amount[:0], r.currency[:0]
	r.margin, r.marginCurrency = r.margin[:0], r.marginCurrency[:0]
	r.splitReps, r.splitShares = r.splitReps[:0], r.splitShares[:0]
	r.attrKeys, r.attrValues = r.attrKeys[:0], r.attrValues[:0]
	r.kafka.reset()
	r.arena.reset()
	r.strs.reset()
	r.decs.reset()
}
