package wallet

import (
	"fmt"
	"slices"

	"github.com/accrue/accrue/transforms/currency"
	"github.com/shopspring/decimal"
)

// Item kinds.
const (
	ItemGiftCard   = "gift_card"
	ItemExperience = "experience"
)

// Categories of catalogue items.
const (
	CategoryAdventure  = "adventure"
	CategoryHobbies    = "hobbies_and_activities"
	CategoryFineDining = "fine_dining"
	CategoryWellness   = "wellness"
	CategoryGetaways   = "getaways"
)

// Categories lists every category, in the order the catalogue shows them.
var Categories = []string{CategoryAdventure, CategoryHobbies, CategoryFineDining, CategoryWellness, CategoryGetaways}

// Item is a catalogue entry: a gift card (Name is the brand) or an
// experience (Name is the experience).
type Item struct {
	ID       string
	Kind     string // ItemGiftCard or ItemExperience
	Name     string
	Category string
	// Countries where the item can be redeemed (ISO 3166-1 alpha-2).
	Countries []string
	// Denominations are the face values offered, each with its price in
	// the wallet currencies it can be bought with.
	Denominations []Denomination
	// Withdrawn items stay in the catalogue but cannot be requested.
	Withdrawn bool
}

// Denomination is one face value of an item and its price by wallet
// currency.
type Denomination struct {
	Currency string
	Face     decimal.Decimal
	Prices   map[string]decimal.Decimal
}

// Validate reports the first problem of it, or nil.
func (it *Item) Validate() error {
	switch {
	case it.ID == "":
		return fmt.Errorf("catalogue item without id")
	case it.Kind != ItemGiftCard && it.Kind != ItemExperience:
		return fmt.Errorf("item %s: kind %q is neither %s nor %s", it.ID, it.Kind, ItemGiftCard, ItemExperience)
	case it.Name == "":
		return fmt.Errorf("item %s: no brand or experience name", it.ID)
	case !slices.Contains(Categories, it.Category):
		return fmt.Errorf("item %s: unknown category %q", it.ID, it.Category)
	case len(it.Countries) == 0:
		return fmt.Errorf("item %s: no country", it.ID)
	case len(it.Denominations) == 0:
		return fmt.Errorf("item %s: no denomination", it.ID)
	}
	for _, d := range it.Denominations {
		if _, ok := currency.MinorUnits(d.Currency); !ok || d.Face.Sign() <= 0 {
			return fmt.Errorf("item %s: denomination %s %s is not a positive amount of a currency", it.ID, d.Face, d.Currency)
		}
		for cur, p := range d.Prices {
			if _, ok := currency.MinorUnits(cur); !ok || p.Sign() <= 0 || !currency.Round(p, cur).Equal(p) {
				return fmt.Errorf("item %s: price %s %s is not a positive amount in whole minor units", it.ID, p, cur)
			}
		}
	}
	return nil
}

// denomination returns the price in cur of it's denomination face/faceCur.
func (it *Item) price(face decimal.Decimal, faceCur, cur string) (decimal.Decimal, bool) {
	for _, d := range it.Denominations {
		if d.Currency == faceCur && d.Face.Equal(face) {
			p, ok := d.Prices[cur]
			return p, ok
		}
	}
	return decimal.Decimal{}, false
}

// Catalogue answers what items exist. The stage backs it with a table that
// follows the catalogue's compacted topic.
type Catalogue interface {
	Item(id string) (Item, bool)
}

// Items is a Catalogue held in a map, by item id.
type Items map[string]Item

// Item implements Catalogue.
func (c Items) Item(id string) (Item, bool) {
	it, ok := c[id]
	return it, ok
}
