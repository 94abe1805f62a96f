package accrue

import (
	"slices"
	"testing"

	"github.com/accrue/accrue/transforms/accrue/program"
)

func TestCatalogPrograms(t *testing.T) {
	c := program.NewCatalog()
	for _, p := range []*program.Program{
		plan(func(p *program.Program) { p.Version, p.EffectiveFrom = 2, date("2026-07-01") }),
		plan(),
		plan(func(p *program.Program) { p.ID = "a" }),
	} {
		p.Digest = p.Key()
		if err := c.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	for _, p := range CatalogPrograms(c) {
		keys = append(keys, p.Key())
	}
	if want := []string{"a@1", "ae@1", "ae@2"}; !slices.Equal(keys, want) {
		t.Fatalf("got %v, want %v", keys, want)
	}
	if _, err := New(CatalogPrograms(c), nil); err != nil {
		t.Fatal(err)
	}
}
