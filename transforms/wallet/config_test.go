package wallet

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestNewRefusesBadConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"short key", func(c *Config) { c.Key = c.Key[:16] }, "32 bytes"},
		{"no key id", func(c *Config) { c.KeyID = "" }, "key id"},
		{"unknown policy", func(c *Config) { c.Policies = map[string]Policy{"p": "weekly"} }, "policy"},
		{"fee in no currency", func(c *Config) { c.TransferFees = map[string]Fee{"XAU": {}} }, "XAU"},
		{"negative fee", func(c *Config) { c.TransferFees = map[string]Fee{"EUR": {Fixed: dec("-1")}} }, "≥ 0"},
		{"fee of everything", func(c *Config) { c.CatalogueFees = map[string]Fee{"EUR": {Percent: dec("100")}} }, "percent"},
	} {
		cfg := testConfig()
		c.mod(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error about %q", c.name, err, c.want)
		}
	}
}

func TestItemValidate(t *testing.T) {
	good := testConfig().Catalogue.(Items)["spa"]
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		mod  func(*Item)
	}{
		{"kind", func(it *Item) { it.Kind = "voucher" }},
		{"category", func(it *Item) { it.Category = "shopping" }},
		{"name", func(it *Item) { it.Name = "" }},
		{"countries", func(it *Item) { it.Countries = nil }},
		{"denominations", func(it *Item) { it.Denominations = nil }},
		{"face", func(it *Item) { it.Denominations = []Denomination{{Currency: "EUR", Face: dec("0")}} }},
		{"price", func(it *Item) {
			it.Denominations = []Denomination{{Currency: "EUR", Face: dec("10"), Prices: map[string]decimal.Decimal{"EUR": dec("9.999")}}}
		}},
	} {
		it := good
		c.mod(&it)
		if err := it.Validate(); err == nil {
			t.Errorf("%s: item accepted", c.name)
		}
	}
}
