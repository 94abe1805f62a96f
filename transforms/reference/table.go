package reference

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/shopspring/decimal"
)

// History is the versions of one kind of row by ID, with as-of lookups. It
// is safe for concurrent use.
type History[T Row] struct {
	mu       sync.RWMutex
	rows     map[string][]T // by ID, sorted by Since
	versions int            // rows, all IDs
	changes  atomic.Uint64
}

// Put adds row, replacing the version with the same ID and ValidFrom.
func (h *History[T]) Put(row T) {
	if fx, ok := any(&row).(*FXRate); ok && fx.inverse.IsZero() && fx.Rate.IsPositive() {
		fx.inverse = fx.Inverse()
	}
	id, since := row.ID(), row.Since()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rows == nil {
		h.rows = make(map[string][]T)
	}
	h.changes.Add(1)
	vs := h.rows[id]
	i := sort.Search(len(vs), func(i int) bool { return vs[i].Since() >= since })
	if i < len(vs) && vs[i].Since() == since {
		vs[i] = row
		return
	}
	vs = append(vs, row)
	copy(vs[i+1:], vs[i:])
	vs[i] = row
	h.rows[id] = vs
	h.versions++
}

// Delete removes the version of id that starts on since, if there is one.
func (h *History[T]) Delete(id string, since Date) {
	h.mu.Lock()
	defer h.mu.Unlock()
	vs := h.rows[id]
	for i, v := range vs {
		if v.Since() == since {
			vs = append(vs[:i], vs[i+1:]...)
			h.versions--
			h.changes.Add(1)
			break
		}
	}
	if len(vs) == 0 {
		delete(h.rows, id)
	} else {
		h.rows[id] = vs
	}
}

// AsOf returns the version of id in force on day: the one with the latest
// ValidFrom on or before it. It is false when id has no version by then.
func (h *History[T]) AsOf(id string, day Date) (T, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	vs := h.rows[id]
	// The first version after day, then the one before it.
	i := len(vs)
	if i > 8 {
		i = sort.Search(len(vs), func(i int) bool { return vs[i].Since() > day })
	} else {
		for i > 0 && vs[i-1].Since() > day {
			i--
		}
	}
	if i == 0 {
		var zero T
		return zero, false
	}
	return vs[i-1], true
}

// Known reports whether id has any version, in force or still to come.
func (h *History[T]) Known(id string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.rows[id]) > 0
}

// Len is the number of IDs.
func (h *History[T]) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.rows)
}

// Rows is the number of versions, all IDs.
func (h *History[T]) Rows() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.versions
}

// Changes counts the Puts and effective Deletes so far: a reader that
// remembers it learns cheaply whether anything changed since.
func (h *History[T]) Changes() uint64 { return h.changes.Load() }

// Versions returns a copy of every version of id, oldest first.
func (h *History[T]) Versions(id string) []T {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return append([]T(nil), h.rows[id]...)
}

// Tables is every kind of reference data, as the linking and accrual stages
// read it. The zero Tables is empty and ready; it is safe for concurrent
// use.
type Tables struct {
	Reps       History[Rep]
	Products   History[Product]
	Accounts   History[Account]
	FX         History[FXRate]
	Identities History[Identity]
}

// Version changes whenever a row of any kind is added, replaced or removed
// (it counts those changes). The linking stage retries the events it parked
// when it changes.
func (t *Tables) Version() uint64 {
	return t.Reps.Changes() + t.Products.Changes() + t.Accounts.Changes() + t.FX.Changes() + t.Identities.Changes()
}

// Rows is the number of row versions of kind.
func (t *Tables) Rows(kind Kind) int {
	switch kind {
	case Reps:
		return t.Reps.Rows()
	case Products:
		return t.Products.Rows()
	case Accounts:
		return t.Accounts.Rows()
	case FX:
		return t.FX.Rows()
	case Identities:
		return t.Identities.Rows()
	}
	return 0
}

// Put adds a row of any kind.
func (t *Tables) Put(r Row) {
	switch r := r.(type) {
	case Rep:
		t.Reps.Put(r)
	case Product:
		t.Products.Put(r)
	case Account:
		t.Accounts.Put(r)
	case FXRate:
		t.FX.Put(r)
	case Identity:
		t.Identities.Put(r)
	}
}

// Delete removes the version of id in kind that starts on since.
func (t *Tables) Delete(kind Kind, id string, since Date) {
	switch kind {
	case Reps:
		t.Reps.Delete(id, since)
	case Products:
		t.Products.Delete(id, since)
	case Accounts:
		t.Accounts.Delete(id, since)
	case FX:
		t.FX.Delete(id, since)
	case Identities:
		t.Identities.Delete(id, since)
	}
}

// Apply applies one record of a ref.* topic: a row, or a tombstone (nil
// value) that removes the version the key names.
func (t *Tables) Apply(kind Kind, key, value []byte) error {
	if value == nil {
		id, since, err := SplitKey(string(key))
		if err != nil {
			return err
		}
		t.Delete(kind, id, since)
		return nil
	}
	r, err := DecodeRow(kind, value)
	if err != nil {
		return err
	}
	t.Put(r)
	return nil
}

// Rep is the version of rep id in force on day.
func (t *Tables) Rep(id string, day Date) (Rep, bool) { return t.Reps.AsOf(id, day) }

// Product is the version of product id in force on day.
func (t *Tables) Product(id string, day Date) (Product, bool) { return t.Products.AsOf(id, day) }

// Account is the version of account id in force on day.
func (t *Tables) Account(id string, day Date) (Account, bool) { return t.Accounts.AsOf(id, day) }

// Identity is the rep that source knows as key, on day.
func (t *Tables) Identity(source, key string, day Date) (Identity, bool) {
	return t.Identities.AsOf(source+"/"+key, day)
}

// InversePlaces is the number of decimal places of an inverted rate
// (PROGRAMS.md §2): 1/rate, half-even.
const InversePlaces = 16

// Rate is the rate that converts from into to on day: 1 for the same
// currency; the from→to rate in force, if there is one; else the inverse of
// the to→from rate in force, to 16 decimal places, half-even. It is false
// when neither is in force.
func (t *Tables) Rate(from, to string, day Date) (decimal.Decimal, bool) {
	if from == to {
		return decimal.NewFromInt(1), true
	}
	if r, ok := t.FX.AsOf(from+"/"+to, day); ok {
		return r.Rate, true
	}
	if r, ok := t.FX.AsOf(to+"/"+from, day); ok {
		return r.Inverse(), true
	}
	return decimal.Decimal{}, false
}
