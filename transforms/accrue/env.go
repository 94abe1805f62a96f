package accrue

import (
	"sync"

	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
)

// env is what the programs' expressions see of a credit's event
// (program.NewEnv): the rep row in force for the event's rep_id (through
// the source's identities), else for the first split rep, else for the
// recipient, and the product row.
//
// The rows' maps are made once per row version and shared by every event
// that sees it (expressions only read them), rather than twice per event.
func (e *Engine) env(c *link.Credit, day reference.Date) *program.Env {
	ev := c.Event
	key := ev.RepID
	if key == "" && len(ev.Splits) > 0 {
		key = ev.Splits[0].RepID
	}
	v := &program.Env{
		Type: string(ev.Type), Source: ev.Source, TxnID: ev.TxnID, RepID: ev.RepID,
		AccountID: ev.AccountID, ProductID: ev.ProductID,
		Amount: ev.Amount.Value.InexactFloat64(), Currency: ev.Amount.Currency,
		Attributes: ev.Attributes, Rep: noFields, Product: noFields,
	}
	if v.Attributes == nil {
		v.Attributes = noAttributes
	}
	if ev.Quantity.Valid {
		v.Quantity = ev.Quantity.Decimal.InexactFloat64()
	}
	if key != "" {
		id := key
		if e.tables.Identities.Len() > 0 {
			if ident, ok := e.tables.Identity(ev.Source, key, day); ok {
				id = ident.RepID
			}
		}
		if r, ok := e.tables.Rep(id, day); ok {
			v.Rep = e.fields.rep(&r)
		}
	} else if r, ok := e.tables.Rep(c.RepID, day); ok {
		v.Rep = e.fields.rep(&r)
	}
	if ev.ProductID != "" {
		changes := e.tables.Products.Changes()
		if p, ok := e.tables.Product(ev.ProductID, day); ok {
			v.Product = e.fields.product(&p, changes)
		}
	}
	return v
}

// noFields and noAttributes are what an expression sees for a missing
// row or attributes: empty, shared, never written.
var (
	noFields     = map[string]any{}
	noAttributes = map[string]string{}
)

// rowFields keeps the maps expressions see of reference rows, by row
// version. Safe for concurrent use.
type rowFields struct {
	mu       sync.RWMutex
	reps     map[rowKey]repFields
	products map[rowKey]productFields
}

type rowKey struct {
	id   string
	from reference.Date
}

type repFields struct {
	row    reference.Rep // the row the map was made of
	fields map[string]any
}

type productFields struct {
	changes uint64 // Products.Changes() before the row was read
	fields  map[string]any
}

// rep is r.Fields(), made once for each version of the row.
func (c *rowFields) rep(r *reference.Rep) map[string]any {
	k := rowKey{r.RepID, r.ValidFrom}
	c.mu.RLock()
	f, ok := c.reps[k]
	c.mu.RUnlock()
	if ok && f.row == *r {
		return f.fields
	}
	f = repFields{row: *r, fields: r.Fields()}
	c.mu.Lock()
	if c.reps == nil {
		c.reps = map[rowKey]repFields{}
	}
	c.reps[k] = f
	c.mu.Unlock()
	return f.fields
}

// product is p.Fields(), made once for each version of the row: products
// carry attribute maps, so a version is told by the product table's
// change count, read before p was.
func (c *rowFields) product(p *reference.Product, changes uint64) map[string]any {
	k := rowKey{p.ProductID, p.ValidFrom}
	c.mu.RLock()
	f, ok := c.products[k]
	c.mu.RUnlock()
	if ok && f.changes == changes {
		return f.fields
	}
	f = productFields{changes: changes, fields: p.Fields()}
	c.mu.Lock()
	if c.products == nil {
		c.products = map[rowKey]productFields{}
	}
	c.products[k] = f
	c.mu.Unlock()
	return f.fields
}
