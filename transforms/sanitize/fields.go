package sanitize

import (
	"sort"
	"strings"

	"github.com/accrue/accrue/connectors/canonical"
)

// A field of the canonical event, by its JSON path, as config names it.
type field struct {
	// present reports whether the event has the field (required).
	present func(e *canonical.Event) bool
	// str points at the field's string, for normalization; nil for
	// fields that are not strings. splits.rep_id is handled apart.
	str func(e *canonical.Event) *string
}

var fields = map[string]field{
	"event_id":   strField(func(e *canonical.Event) *string { return &e.EventID }),
	"source":     strField(func(e *canonical.Event) *string { return &e.Source }),
	"txn_id":     strField(func(e *canonical.Event) *string { return &e.TxnID }),
	"type":       {present: func(e *canonical.Event) bool { return e.Type != "" }},
	"ref_txn_id": strField(func(e *canonical.Event) *string { return &e.RefTxnID }),
	"event_time": {present: func(e *canonical.Event) bool { return !e.EventTime.IsZero() }},
	"rep_id":     strField(func(e *canonical.Event) *string { return &e.RepID }),
	"account_id": strField(func(e *canonical.Event) *string { return &e.AccountID }),
	"product_id": strField(func(e *canonical.Event) *string { return &e.ProductID }),
	"quantity":   {present: func(e *canonical.Event) bool { return e.Quantity.Valid }},
	// A decoded event always has an amount value (the wire form refuses
	// one without); the name is accepted so that configs can say so.
	"amount.value":    {present: func(*canonical.Event) bool { return true }},
	"amount.currency": strField(func(e *canonical.Event) *string { return &e.Amount.Currency }),
	"margin":          {present: func(e *canonical.Event) bool { return e.Margin != nil }},
	"margin.value":    {present: func(e *canonical.Event) bool { return e.Margin != nil }},
	"margin.currency": {
		present: func(e *canonical.Event) bool { return e.Margin != nil && e.Margin.Currency != "" },
		str: func(e *canonical.Event) *string {
			if e.Margin == nil {
				return nil
			}
			return &e.Margin.Currency
		},
	},
	"splits": {present: func(e *canonical.Event) bool { return len(e.Splits) > 0 }},
	// splits.rep_id normalizes every split's rep.
	"splits.rep_id": {present: func(e *canonical.Event) bool { return len(e.Splits) > 0 }},
	"attributes":    {present: func(e *canonical.Event) bool { return len(e.Attributes) > 0 }},
}

func strField(p func(e *canonical.Event) *string) field {
	return field{present: func(e *canonical.Event) bool { return *p(e) != "" }, str: p}
}

// attributePrefix names one attribute in Required: "attributes.channel".
const attributePrefix = "attributes."

// Fields returns the field names that Policy.Required accepts (besides
// "attributes.<name>", which requires one attribute to be non-empty), and
// the subset that Normalize.Upper and Lower accept.
func Fields() (required, normalizable []string) {
	for name, f := range fields {
		required = append(required, name)
		if f.str != nil || name == "splits.rep_id" {
			normalizable = append(normalizable, name)
		}
	}
	sort.Strings(required)
	sort.Strings(normalizable)
	return required, normalizable
}

// requiredCheck returns the presence test of a Required entry.
func requiredCheck(name string) (func(*canonical.Event) bool, bool) {
	if attr, ok := strings.CutPrefix(name, attributePrefix); ok && attr != "" {
		return func(e *canonical.Event) bool { return e.Attributes[attr] != "" }, true
	}
	f, ok := fields[name]
	return f.present, ok
}

// normOp is one normalization, resolved when the policy is compiled: fn
// applied to the string field str points at, or to every split's rep.
type normOp struct {
	str    func(*canonical.Event) *string
	splits bool
	fn     func(string) string
}

func newNormOp(name string, fn func(string) string) normOp {
	if name == "splits.rep_id" {
		return normOp{splits: true, fn: fn}
	}
	return normOp{str: fields[name].str, fn: fn}
}

func (op normOp) apply(e *canonical.Event) {
	if op.splits {
		for i := range e.Splits {
			e.Splits[i].RepID = op.fn(e.Splits[i].RepID)
		}
		return
	}
	if p := op.str(e); p != nil {
		*p = op.fn(*p)
	}
}

// normOps resolves a policy's normalization, in the order of the package
// documentation: trim, then upper, then lower case.
func normOps(trim bool, upper, lower []string) []normOp {
	var ops []normOp
	if trim {
		for _, f := range trimmed {
			ops = append(ops, newNormOp(f, strings.TrimSpace))
		}
	}
	for _, f := range upper {
		ops = append(ops, newNormOp(f, strings.ToUpper))
	}
	for _, f := range lower {
		ops = append(ops, newNormOp(f, strings.ToLower))
	}
	return ops
}

// trimmed lists what Normalize.Trim trims.
var trimmed = []string{
	"event_id", "source", "txn_id", "ref_txn_id", "rep_id", "account_id", "product_id",
	"amount.currency", "margin.currency", "splits.rep_id",
}
