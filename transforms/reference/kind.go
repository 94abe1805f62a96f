package reference

import (
	"fmt"
	"strings"
)

// Kind names one kind of reference data and its compacted topic.
type Kind string

// The kinds of reference data.
const (
	Reps       Kind = "reps"
	Products   Kind = "products"
	Accounts   Kind = "accounts"
	FX         Kind = "fx"
	Identities Kind = "identities"
)

// Kinds lists every kind, in the order a loader should publish them
// (reps before the identities and accounts that name them).
var Kinds = []Kind{Reps, Products, Accounts, FX, Identities}

// ParseKind parses a kind name ("reps", "products", "accounts", "fx",
// "identities").
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown kind %q (want one of reps, products, accounts, fx, identities)", s)
}

// Topic is the compacted topic that carries rows of kind k: "ref.reps".
func (k Kind) Topic() string { return "ref." + string(k) }

// KindOfTopic is the kind whose topic is name.
func KindOfTopic(name string) (Kind, bool) {
	k, ok := strings.CutPrefix(name, "ref.")
	if !ok {
		return "", false
	}
	kind, err := ParseKind(k)
	return kind, err == nil
}

// Row is one row of reference data, of any kind.
type Row interface {
	// Kind is the row's kind.
	Kind() Kind
	// ID is what the row describes: the rep, product or account id,
	// "FROM/TO" for a rate, "source/identity" for an identity.
	ID() string
	// Since is the first date the row is in force.
	Since() Date
	validate() error
}

// RecordKey is the topic key of a row version: ID, "@", ValidFrom. Keyed
// this way, compaction keeps every version of a history while a re-published
// row replaces only itself.
func RecordKey(r Row) string { return r.ID() + "@" + r.Since().String() }

// SplitKey parses a RecordKey into the row's ID and ValidFrom.
func SplitKey(key string) (id string, from Date, err error) {
	i := strings.LastIndexByte(key, '@')
	if i < 0 {
		return "", 0, fmt.Errorf("reference key %q: want ID@YYYY-MM-DD", key)
	}
	from, err = ParseDate(key[i+1:])
	if err != nil {
		return "", 0, fmt.Errorf("reference key %q: %w", key, err)
	}
	return key[:i], from, nil
}

func (r Rep) Kind() Kind  { return Reps }
func (r Rep) ID() string  { return r.RepID }
func (r Rep) Since() Date { return r.ValidFrom }

func (p Product) Kind() Kind  { return Products }
func (p Product) ID() string  { return p.ProductID }
func (p Product) Since() Date { return p.ValidFrom }

func (a Account) Kind() Kind  { return Accounts }
func (a Account) ID() string  { return a.AccountID }
func (a Account) Since() Date { return a.ValidFrom }

func (f FXRate) Kind() Kind  { return FX }
func (f FXRate) ID() string  { return f.From + "/" + f.To }
func (f FXRate) Since() Date { return f.ValidFrom }

func (i Identity) Kind() Kind  { return Identities }
func (i Identity) ID() string  { return i.Source + "/" + i.Key }
func (i Identity) Since() Date { return i.ValidFrom }
