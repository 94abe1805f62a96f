package mapping_test

import (
	"fmt"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/connectors/mapping"
)

func ExampleMapper_Map() {
	cfg, err := mapping.Parse([]byte(`
source: crm-na
format: json
type:
  field: stage
  map: {closed_won: sale}
  ignore: [closed_lost]
fields:
  txn_id: id
  event_time: closed_at
  rep_id: owner.id
  amount: {value: amount, currency: currency}
`), "crm.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := mapping.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	payload := []byte(`{"id": "OPP-1", "stage": "closed_won", "closed_at": "2026-11-03T10:15:00Z", "owner": {"id": "R-17"}, "amount": 1250.00, "currency": "USD"}
{"id": "OPP-2", "stage": "closed_lost"}
{"id": "OPP-3", "stage": "closed_won", "closed_at": "2026-11-04T09:00:00Z", "amount": "99.00", "currency": "USD"}
`)
	m.Map(payload, func(o mapping.Outcome) {
		switch {
		case o.Event != nil:
			fmt.Printf("line %d: %s %s %s\n", o.Line, o.Event.EventID, canonical.DecimalString(o.Event.Amount.Value), o.Event.Amount.Currency)
		case o.Skip != "":
			fmt.Printf("line %d: skip %s\n", o.Line, o.Skip)
		default:
			fmt.Printf("line %d: reject %v\n", o.Line, o.Reject)
		}
	})
	// Output:
	// line 1: crm-na:OPP-1:sale 1250.00 USD
	// line 2: skip ignored_type
	// line 3: reject missing_field: field rep_id: source field "owner.id" is absent or empty
}

func ExampleParse_problems() {
	_, err := mapping.Parse([]byte(`source: crm-na
format: json
type: {value: sold}
fields:
  txn_id: id
  rep: owner
  amount.value: amount
`), "crm.yaml")
	fmt.Println(err)
	// Output:
	// crm.yaml: 5 problems:
	//   crm.yaml:3:8: type.value: "sold" is not one of sale, return, cancel, adjustment
	//   crm.yaml:4:1: fields: event_time is not mapped
	//   crm.yaml:4:1: fields: rep_id is not mapped (nor given in defaults or constants, nor splits)
	//   crm.yaml:4:1: fields: amount.currency is not mapped (nor given in defaults or constants)
	//   crm.yaml:6:3: fields.rep: unknown canonical field "rep" (want one of event_id, txn_id, ref_txn_id, event_time, rep_id, account_id, product_id, quantity, amount.value, amount.currency, margin.value, margin.currency, or attributes.<name>)
}
