package accrue

import "github.com/accrue/accrue/transforms/accrue/program"

// CatalogPrograms lists every version a catalog holds, in id and version
// order, for New. An Engine holds no state of its own, so the accrual stage
// builds a new one whenever its catalog changes (a program published or
// withdrawn) and goes on with the same Store.
func CatalogPrograms(c *program.Catalog) []*program.Program {
	var out []*program.Program
	for _, id := range c.IDs() {
		for _, v := range c.Versions(id) {
			out = append(out, v.Program)
		}
	}
	return out
}
