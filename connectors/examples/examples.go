// Package examples holds the worked source mappings and gatekeepers of this
// folder as files compiled into the binary, so that code outside the tests
// (the benchmarks' feed generator, a demo) maps records with exactly the
// configs the documentation shows.
package examples

import "embed"

// FS holds the example mapping configs (*.yaml) and the example gatekeepers
// (gatekeepers/gate.yaml), by their names in this folder.
//
//go:embed *.yaml gatekeepers/gate.yaml
var FS embed.FS

// The example configs, by file name in FS.
const (
	CRM  = "crm-opportunities.yaml"
	ERP  = "erp-orders-debezium.yaml"
	POS  = "pos-export.yaml"
	Shop = "shop-webhook.yaml"
	Gate = "gatekeepers/gate.yaml"
)
