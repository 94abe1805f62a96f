// Package totals is a small keyed stage for demonstrations: it keeps, per
// rep, the number of sales and the amount sold in each currency, and emits
// the rep's updated totals after every sale.
//
// It is not the accrual stage: it applies no program, converts no currency
// and credits the whole amount of a sale to its rep_id. What it shows is the
// runtime around it: a typed state per key that survives restarts through
// its changelog, an output that moves in step with that state exactly once,
// and records that cannot be read going to the dead-letter topic with a
// stable reason code instead of stopping the partition.
package totals

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
)

// Totals is the state of one rep, and the value of every output record.
// A Totals is a value: Add returns a new one and leaves its receiver as it
// was, which the runtime relies on to drop the writes of an aborted batch.
type Totals struct {
	RepID string
	// Sales counts the sales credited to the rep.
	Sales int64
	// Amounts is the amount sold per currency (ISO 4217 code). It is shared
	// between copies of a Totals and must not be changed in place.
	Amounts map[string]decimal.Decimal
}

// Add returns t with the sale e counted in: its whole amount is credited to
// e.RepID (splits are not read).
func (t Totals) Add(e *canonical.Event) Totals {
	amounts := make(map[string]decimal.Decimal, len(t.Amounts)+1)
	maps.Copy(amounts, t.Amounts)
	amounts[e.Amount.Currency] = amounts[e.Amount.Currency].Add(e.Amount.Value)
	return Totals{RepID: e.RepID, Sales: t.Sales + 1, Amounts: amounts}
}

// wireTotals is the JSON of a Totals:
//
//	{"rep_id":"R-7","sales":12,"amounts":{"EUR":"10400.50","USD":"99.90"}}
//
// Amounts are decimal strings with the scale of the sales they add up
// ("10400.50", not "10400.5"), written independently of the decimal
// package's global formatting switches.
type wireTotals struct {
	RepID   string            `json:"rep_id"`
	Sales   int64             `json:"sales"`
	Amounts map[string]string `json:"amounts"`
}

// MarshalJSON implements json.Marshaler.
func (t Totals) MarshalJSON() ([]byte, error) {
	w := wireTotals{RepID: t.RepID, Sales: t.Sales, Amounts: make(map[string]string, len(t.Amounts))}
	for cur, v := range t.Amounts {
		w.Amounts[cur] = v.StringFixed(max(0, -v.Exponent()))
	}
	return json.Marshal(w)
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Totals) UnmarshalJSON(b []byte) error {
	var w wireTotals
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	amounts := make(map[string]decimal.Decimal, len(w.Amounts))
	for cur, v := range w.Amounts {
		d, err := decimal.NewFromString(v)
		if err != nil {
			return fmt.Errorf("totals: amount in %s: %w", cur, err)
		}
		amounts[cur] = d
	}
	*t = Totals{RepID: w.RepID, Sales: w.Sales, Amounts: amounts}
	return nil
}

// Codec stores a Totals in the changelog as its JSON.
type Codec struct{}

// Encode implements pipeline.Codec. A Totals always encodes; Encode panics
// only if that ceases to hold.
func (Codec) Encode(dst []byte, v Totals) []byte {
	b, err := v.MarshalJSON()
	if err != nil {
		panic(fmt.Sprintf("totals: encode state of %s: %v", v.RepID, err))
	}
	return append(dst, b...)
}

// Decode implements pipeline.Codec.
func (Codec) Decode(b []byte) (Totals, error) {
	var t Totals
	if err := t.UnmarshalJSON(b); err != nil {
		return Totals{}, fmt.Errorf("totals: decode state: %w", err)
	}
	return t, nil
}

// Processor credits each sale of its input to the sale's rep and emits the
// rep's new Totals (JSON, keyed by rep_id) to Output. A rep's totals live in
// the partition of its key, so the sales it credits must be keyed by rep_id.
type Processor struct {
	// Output is the topic of the updated totals ("rep.totals" in the demo).
	Output string
	// ByRep, when set, is the stage's repartition topic: one of its inputs,
	// co-partitioned with the others, which only the stage writes. A sale
	// read from any other input (sales.clean, keyed by source:txn_id) is
	// passed on to ByRep unchanged, keyed by its rep_id, in the same
	// transaction; it is credited when read back from ByRep. Without ByRep
	// every input must be keyed by rep_id.
	ByRep string
}

// Process implements pipeline.Processor. It refuses, with a
// *pipeline.Reject and without touching state or output, every record that
// Decode refuses and every record to credit whose key is not its rep_id.
func (p *Processor) Process(c *pipeline.Context[Totals], rec *kgo.Record) error {
	e, err := Decode(rec.Value)
	if err != nil {
		return err
	}
	if p.ByRep != "" && rec.Topic != p.ByRep {
		c.EmitRecord(&kgo.Record{Topic: p.ByRep, Key: []byte(e.RepID), Value: rec.Value, Headers: rec.Headers})
		return nil
	}
	if string(rec.Key) != e.RepID {
		return pipeline.Rejectf(ReasonKeyMismatch, "key", "key %q is not rep_id %q", rec.Key, e.RepID)
	}
	t, _ := c.Get(e.RepID)
	t = t.Add(&e)
	c.Put(e.RepID, t)
	c.Emit(p.Output, rec.Key, Codec{}.Encode(nil, t))
	return nil
}
