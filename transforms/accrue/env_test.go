package accrue

import (
	"reflect"
	"testing"

	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
)

// TestEnvMatchesNewEnv: the environment the engine builds, with its shared
// row maps, is program.NewEnv's for every credit of the pinned world, also
// after the rows change.
func TestEnvMatchesNewEnv(t *testing.T) {
	w := pinnedWorld(t)
	e, err := New(w.programs, w.tables)
	if err != nil {
		t.Fatal(err)
	}
	credits := w.credits()
	check := func() {
		t.Helper()
		for i := range credits {
			c := &credits[i]
			day := reference.DateOf(c.Event.EventTime)
			if got, want := e.env(c, day), newEnv(w.tables, c, day); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s:\n got %+v\nwant %+v", c.ID(), got, want)
			}
		}
	}
	check()
	w.tables.Put(reference.Product{ProductID: "P-3", Category: "moved", ValidFrom: reference.Forever})
	w.tables.Put(reference.Rep{RepID: "R-4", Role: "SE", Team: "new", ValidFrom: reference.Forever})
	w.tables.Put(reference.Identity{Source: "erp", Key: "R-5", RepID: "R-6", ValidFrom: reference.Forever})
	check()
}

// newEnv is the environment as program.NewEnv builds it.
func newEnv(tb *reference.Tables, c *link.Credit, day reference.Date) *program.Env {
	ev := c.Event
	key := ev.RepID
	if key == "" && len(ev.Splits) > 0 {
		key = ev.Splits[0].RepID
	}
	var rep *reference.Rep
	if key != "" {
		id := key
		if ident, ok := tb.Identity(ev.Source, key, day); ok {
			id = ident.RepID
		}
		if r, ok := tb.Rep(id, day); ok {
			rep = &r
		}
	} else if r, ok := tb.Rep(c.RepID, day); ok {
		rep = &r
	}
	var prod *reference.Product
	if ev.ProductID != "" {
		if p, ok := tb.Product(ev.ProductID, day); ok {
			prod = &p
		}
	}
	return program.NewEnv(ev, rep, prod)
}
