// Package link links clean canonical sale events to one view of the company
// (reference data as of the event's date) and credits them: one Credit per
// recipient, whose shares add up to exactly 1.
//
// Linker is the pure operator, with no Kafka: the linking stage runs it on
// every event, and `accrue simulate` runs the same code offline.
package link

import (
	"fmt"
	"time"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/shopspring/decimal"
)

// Reason codes of linking. An event missing reference data is parked by the
// stage until the data arrives or its deadline passes, then rejected with
// the reason; offline, it is rejected at once.
const (
	ReasonUnknownRep      = "unknown_rep"
	ReasonUnknownAccount  = "unknown_account"
	ReasonUnknownProduct  = "unknown_product"
	ReasonUnknownOriginal = "unknown_original"
	// ReasonSharesNotOne rejects an event whose credited shares would not
	// add up to exactly 1 (a conservation violation).
	ReasonSharesNotOne = "shares_not_one"
)

// How a recipient was found, carried on every Credit.
const (
	ViaRep          = "rep"           // the event's rep_id is an accrue rep
	ViaIdentity     = "identity"      // the event's rep_id is the source's key for a rep
	ViaAccountOwner = "account_owner" // no rep: the account's owner
	ViaOriginal     = "original"      // a return or cancel: its original's recipients
)

// Recipient is one rep credited with Share of an event.
type Recipient struct {
	RepID string
	Share decimal.Decimal
	// Via is how the rep was found (ViaRep, ViaIdentity, ...).
	Via string
	// RepSince is the ValidFrom of the rep's version in force.
	RepSince reference.Date
}

// Originals remembers the recipients of each sale so that its returns and
// cancel are credited to the same reps with the same shares. The stage keeps
// them in keyed state (sales are keyed by source:txn_id, and their returns
// by ref_txn_id, so they meet on one partition); offline, a map does.
type Originals interface {
	Recipients(source, txnID string) ([]Recipient, bool)
	Remember(source, txnID string, rs []Recipient, eventTime time.Time)
}

// Missing is reference data an event needs and the tables lack (yet).
type Missing struct {
	Reason string // ReasonUnknownRep, ReasonUnknownAccount, ReasonUnknownProduct, ReasonUnknownOriginal
	Field  string
	Msg    string
}

// Reject is the rejection of an event whose Missing data never came.
func (m *Missing) Reject() *pipeline.Reject {
	return &pipeline.Reject{Reason: m.Reason, Field: m.Field, Err: fmt.Errorf("%s", m.Msg)}
}

// Linker links events to the reference tables.
type Linker struct {
	Tables *reference.Tables
	// RequireProduct makes an event naming a product the tables lack
	// Missing (ReasonUnknownProduct). Off, such an event links with no
	// product attributes.
	RequireProduct bool
}

// Link resolves who is credited with e and as of which reference versions.
// On success it returns one Credit per recipient, shares adding up to
// exactly 1, and remembers a sale's recipients in orig. It returns Missing
// when reference data (or a return's original) is not known yet, and a
// Reject when the event can never be credited. Link does not modify e.
func (l *Linker) Link(e *canonical.Event, orig Originals) ([]Credit, *Missing, *pipeline.Reject) {
	day := reference.DateOf(e.EventTime)
	refs := Refs{Account: reference.Forever, Product: reference.Forever}
	if e.ProductID != "" {
		if p, ok := l.Tables.Product(e.ProductID, day); ok {
			refs.Product = p.ValidFrom
		} else if l.RequireProduct {
			return nil, &Missing{ReasonUnknownProduct, "product_id", fmt.Sprintf("product %q is not known on %s", e.ProductID, day)}, nil
		}
	}
	var (
		rs   []Recipient
		miss *Missing
	)
	switch {
	case e.Type == canonical.Return || e.Type == canonical.Cancel:
		known, ok := orig.Recipients(e.Source, e.RefTxnID)
		if !ok {
			return nil, &Missing{ReasonUnknownOriginal, "ref_txn_id", fmt.Sprintf("no sale %q of source %q was seen", e.RefTxnID, e.Source)}, nil
		}
		rs = make([]Recipient, len(known))
		for i, r := range known {
			rs[i] = r
			rs[i].Via = ViaOriginal
		}
	case len(e.Splits) > 0:
		rs = make([]Recipient, 0, len(e.Splits))
		for i, s := range e.Splits {
			r, m := l.rep(e.Source, s.RepID, day, fmt.Sprintf("splits[%d].rep_id", i))
			if m != nil {
				return nil, m, nil
			}
			r.Share = s.Share
			rs = addRecipient(rs, r)
		}
	case e.RepID != "":
		r, m := l.rep(e.Source, e.RepID, day, "rep_id")
		if m != nil {
			return nil, m, nil
		}
		r.Share = one
		rs = []Recipient{r}
	default:
		var r Recipient
		r, refs.Account, miss = l.owner(e.AccountID, day)
		if miss != nil {
			return nil, miss, nil
		}
		rs = []Recipient{r}
	}
	sum := decimal.Zero
	for _, r := range rs {
		sum = sum.Add(r.Share)
	}
	if !sum.Equal(one) {
		return nil, nil, &pipeline.Reject{Reason: ReasonSharesNotOne, Field: "splits",
			Err: fmt.Errorf("credited shares add up to %s, not exactly 1", sum)}
	}
	if e.Type == canonical.Sale {
		orig.Remember(e.Source, e.TxnID, rs, e.EventTime)
	}
	credits := make([]Credit, len(rs))
	for i, r := range rs {
		credits[i] = Credit{Event: e, RepID: r.RepID, Share: r.Share, Via: r.Via,
			Refs: Refs{Rep: r.RepSince, Account: refs.Account, Product: refs.Product}}
	}
	return credits, nil, nil
}

var one = decimal.NewFromInt(1)

// rep resolves the key a source uses for a rep: through the identity map
// first, else as an accrue rep id. The rep must be in force on day.
func (l *Linker) rep(source, key string, day reference.Date, field string) (Recipient, *Missing) {
	id, via := key, ViaRep
	if ident, ok := l.Tables.Identity(source, key, day); ok {
		id, via = ident.RepID, ViaIdentity
	}
	rep, ok := l.Tables.Rep(id, day)
	if !ok {
		msg := fmt.Sprintf("rep %q is not known on %s", key, day)
		if via == ViaIdentity {
			msg = fmt.Sprintf("%s %q is rep %q, who is not known on %s", source, key, id, day)
		}
		return Recipient{}, &Missing{ReasonUnknownRep, field, msg}
	}
	return Recipient{RepID: id, Via: via, RepSince: rep.ValidFrom}, nil
}

// owner is the rep who owns an account on day.
func (l *Linker) owner(accountID string, day reference.Date) (Recipient, reference.Date, *Missing) {
	a, ok := l.Tables.Account(accountID, day)
	if !ok {
		return Recipient{}, 0, &Missing{ReasonUnknownAccount, "account_id", fmt.Sprintf("account %q is not known on %s", accountID, day)}
	}
	if a.OwnerRepID == "" {
		return Recipient{}, 0, &Missing{ReasonUnknownRep, "account_id", fmt.Sprintf("account %q has no owner on %s", accountID, day)}
	}
	rep, ok := l.Tables.Rep(a.OwnerRepID, day)
	if !ok {
		return Recipient{}, 0, &Missing{ReasonUnknownRep, "account_id", fmt.Sprintf("the owner of account %q, rep %q, is not known on %s", accountID, a.OwnerRepID, day)}
	}
	return Recipient{RepID: a.OwnerRepID, Share: one, Via: ViaAccountOwner, RepSince: rep.ValidFrom}, a.ValidFrom, nil
}

// addRecipient adds r, merging it into an earlier recipient that is the
// same rep (two split keys of one source can name one rep).
func addRecipient(rs []Recipient, r Recipient) []Recipient {
	for i := range rs {
		if rs[i].RepID == r.RepID {
			rs[i].Share = rs[i].Share.Add(r.Share)
			return rs
		}
	}
	return append(rs, r)
}

// MemoryOriginals is Originals in a map, for offline runs and tests.
type MemoryOriginals map[string][]Recipient

// Recipients implements Originals.
func (m MemoryOriginals) Recipients(source, txnID string) ([]Recipient, bool) {
	rs, ok := m[source+":"+txnID]
	return rs, ok
}

// Remember implements Originals.
func (m MemoryOriginals) Remember(source, txnID string, rs []Recipient, _ time.Time) {
	m[source+":"+txnID] = rs
}
