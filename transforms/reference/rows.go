package reference

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/accrue/accrue/transforms/currency"
	"github.com/shopspring/decimal"
)

// Rep is one version of a sales rep: who they are, their role, team and
// manager, and the currency they are paid in, from ValidFrom on.
type Rep struct {
	RepID     string `json:"rep_id"`
	Name      string `json:"name,omitempty"`
	Email     string `json:"email,omitempty"`
	Role      string `json:"role,omitempty"`
	Team      string `json:"team,omitempty"`
	ManagerID string `json:"manager_id,omitempty"`
	Currency  string `json:"currency,omitempty"`
	ValidFrom Date   `json:"valid_from,omitzero"`
}

// Fields is the rep as the map that program expressions see (`rep.role`).
func (r Rep) Fields() map[string]any {
	return map[string]any{
		"rep_id": r.RepID, "name": r.Name, "email": r.Email, "role": r.Role,
		"team": r.Team, "manager_id": r.ManagerID, "currency": r.Currency,
		"valid_from": r.ValidFrom.String(),
	}
}

func (r Rep) validate() error {
	switch {
	case r.RepID == "":
		return &FieldError{Field: "rep_id", Msg: "required"}
	case r.ManagerID == r.RepID:
		return &FieldError{Field: "manager_id", Msg: "a rep cannot manage themselves"}
	case r.Currency != "" && !knownCurrency(r.Currency):
		return &FieldError{Field: "currency", Msg: fmt.Sprintf("%q is not an ISO 4217 currency", r.Currency)}
	}
	return nil
}

// Product is one version of a product: its id, category and any other
// attributes the source of product data carries.
type Product struct {
	ProductID string
	Category  string
	// Attributes holds every other field of the row: strings, booleans
	// and numbers (float64, for comparisons in expressions only).
	Attributes map[string]any
	ValidFrom  Date
}

// Fields is the product as the map that program expressions see
// (`product.category`): its attributes plus product_id and category.
func (p Product) Fields() map[string]any {
	m := make(map[string]any, len(p.Attributes)+2)
	maps.Copy(m, p.Attributes)
	m["product_id"] = p.ProductID
	m["category"] = p.Category
	return m
}

// MarshalJSON writes the product as one flat object.
func (p Product) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(p.Attributes)+3)
	maps.Copy(m, p.Attributes)
	m["product_id"] = p.ProductID
	if p.Category != "" {
		m["category"] = p.Category
	}
	if p.ValidFrom != Forever {
		m["valid_from"] = p.ValidFrom.String()
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads one flat object: product_id, category, valid_from,
// and every other field into Attributes.
func (p *Product) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*p = Product{ValidFrom: Forever}
	var err error
	if p.ProductID, err = stringField(m, "product_id"); err != nil {
		return err
	}
	if p.Category, err = stringField(m, "category"); err != nil {
		return err
	}
	vf, err := stringField(m, "valid_from")
	if err != nil {
		return err
	}
	if p.ValidFrom, err = ParseDate(vf); err != nil {
		return &FieldError{Field: "valid_from", Msg: err.Error()}
	}
	delete(m, "product_id")
	delete(m, "category")
	delete(m, "valid_from")
	for k, v := range m {
		switch v.(type) {
		case string, bool, float64, nil:
		default:
			return &FieldError{Field: k, Msg: "attributes must be strings, numbers or booleans"}
		}
	}
	if len(m) > 0 {
		p.Attributes = m
	}
	return nil
}

func stringField(m map[string]any, k string) (string, error) {
	v, ok := m[k]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", &FieldError{Field: k, Msg: "must be a string"}
	}
	return s, nil
}

func (p Product) validate() error {
	if p.ProductID == "" {
		return &FieldError{Field: "product_id", Msg: "required"}
	}
	return nil
}

// Account is one version of a customer account and the rep who owns it:
// a sale that names no rep is credited to its account's owner.
type Account struct {
	AccountID  string `json:"account_id"`
	Name       string `json:"name,omitempty"`
	OwnerRepID string `json:"owner_rep_id,omitempty"`
	ValidFrom  Date   `json:"valid_from,omitzero"`
}

func (a Account) validate() error {
	if a.AccountID == "" {
		return &FieldError{Field: "account_id", Msg: "required"}
	}
	return nil
}

// FXRate converts one unit of From into Rate units of To, from ValidFrom on.
type FXRate struct {
	From      string          `json:"from"`
	To        string          `json:"to"`
	Rate      decimal.Decimal `json:"rate"`
	ValidFrom Date            `json:"valid_from,omitzero"`

	// inverse is 1/Rate to InversePlaces, computed once when the row
	// enters a History (Tables.Rate would otherwise divide per lookup).
	inverse decimal.Decimal
}

// Inverse is 1/Rate, to InversePlaces decimal places, half-even.
func (f FXRate) Inverse() decimal.Decimal {
	if !f.inverse.IsZero() {
		return f.inverse
	}
	return currency.DivHalfEven(decimal.NewFromInt(1), f.Rate, InversePlaces)
}

func (f FXRate) validate() error {
	switch {
	case !knownCurrency(f.From):
		return &FieldError{Field: "from", Msg: fmt.Sprintf("%q is not an ISO 4217 currency", f.From)}
	case !knownCurrency(f.To):
		return &FieldError{Field: "to", Msg: fmt.Sprintf("%q is not an ISO 4217 currency", f.To)}
	case f.From == f.To:
		return &FieldError{Field: "to", Msg: "a rate needs two different currencies"}
	case !f.Rate.IsPositive():
		return &FieldError{Field: "rate", Msg: "must be a positive decimal"}
	}
	return nil
}

// Identity maps the key a source uses for a rep (a CRM user's email, an
// ERP employee code, a POS cashier id) to the rep's RepID.
type Identity struct {
	Source    string `json:"source"`
	Key       string `json:"identity"`
	RepID     string `json:"rep_id"`
	ValidFrom Date   `json:"valid_from,omitzero"`
}

func (i Identity) validate() error {
	switch {
	case i.Source == "":
		return &FieldError{Field: "source", Msg: "required"}
	case i.Key == "":
		return &FieldError{Field: "identity", Msg: "required"}
	case i.RepID == "":
		return &FieldError{Field: "rep_id", Msg: "required"}
	}
	return nil
}

func knownCurrency(code string) bool {
	_, ok := currency.Lookup(code)
	return ok
}

// FieldError is a row that breaks the contract of its kind, naming the
// field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// decodeStrict decodes one JSON object into v, refusing unknown fields.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value")
	}
	return nil
}

// Encode is the JSON object of a row, as files and topics carry it.
func Encode(r Row) ([]byte, error) { return json.Marshal(r) }
