package program_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/reference"
)

func ExampleParse() {
	doc := []byte(`id: se-bonus
version: 1
currency: EUR
period: quarter
effective_from: 2026-01-01
credit: {measure: margin}
tiers:
  basis: measure
  method: retroactive
  bands:
    - {from: "0", rate: "0.03"}
    - {from: "50000", rate: "0.05"}
`)
	p, err := program.Parse("se-bonus.yaml", doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Key(), p.Currency, p.Period, p.Tiers.Method, p.Tiers.Bands[1].From, p.Tiers.Bands[1].Rate)

	// A broken document: every problem, each at its line and column.
	_, err = program.Parse("broken.yaml", []byte(`id: se-bonus
version: 0
currency: EURO
period: quater
effective_from: 2026-01-01
credit: {measure: margin}
tiers: {basis: measure, method: retroactive, bands: [{from: "0", rate: "0.03"}, {from: "0", rate: "0.05"}]}
`))
	var ps program.Problems
	if errors.As(err, &ps) {
		fmt.Println(len(ps), "problems:")
		fmt.Println(err)
	}
	// Output:
	// se-bonus@1 EUR quarter retroactive 50000 0.05
	// 4 problems:
	// broken.yaml:2:10: version: want at least 1, got 0
	// broken.yaml:3:11: currency: "EURO" is not an active ISO 4217 currency code
	// broken.yaml:4:9: period: unknown period "quater"; did you mean "quarter"?
	// broken.yaml:7:88: tiers.bands[1].from: bands rise strictly: 0 does not rise above the previous band's 0
}

func ExampleCatalog() {
	plan := func(version int, from string) *program.Program {
		p, err := program.Parse("plan.yaml", []byte(fmt.Sprintf(`id: plan
version: %d
currency: USD
period: month
effective_from: %s
credit: {measure: amount}
tiers: {basis: measure, method: marginal, bands: [{from: "0", rate: "0.01"}]}
`, version, from)))
		if err != nil {
			panic(err)
		}
		return p
	}
	c := program.NewCatalog()
	for _, p := range []*program.Program{plan(1, "2026-01-01"), plan(2, "2026-07-01")} {
		// What `accrue program publish` writes, and what a stage reads
		// back from the programs topic.
		pb := program.NewPublication(p, time.Now())
		value, _ := pb.Value()
		if err := c.Apply(pb.Key(), value); err != nil {
			panic(err)
		}
	}
	for _, day := range []string{"2026-06-30", "2026-07-01"} {
		d, _ := reference.ParseDate(day)
		fmt.Println(day, c.InForce("plan", d).Key())
	}
	// Output:
	// 2026-06-30 plan@1
	// 2026-07-01 plan@2
}
