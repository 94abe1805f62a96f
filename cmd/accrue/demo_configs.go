package main

import (
	"fmt"

	"github.com/accrue/accrue/connectors/mapping"
	"github.com/accrue/accrue/connectors/synth"
	"github.com/accrue/accrue/transforms/ingest"
	"github.com/accrue/accrue/transforms/sanitize"
)

// demoDefectReasons is the reason the ingest stage gives each of synth's
// defects (the mapping's reason codes).
var demoDefectReasons = map[synth.Defect]string{
	synth.DefectMalformedJSON: mapping.ReasonMalformedJSON,
	synth.DefectMissingRepID:  mapping.ReasonMissingField,
	synth.DefectInvalidAmount: mapping.ReasonInvalidField,
}

// demoRawTopic is the upstream topic of one of synth's sources: each
// system writes to a topic of its own, as a mapping config names one
// source.
func demoRawTopic(source string) string { return "raw." + source }

// demoMapping is the mapping config of a synth source: its records are
// already canonical JSON, so every field maps to itself. %s is the source.
const demoMapping = `# %[1]s: synth's canonical JSON, one object a record.
source: %[1]s
format: json
time:
  layout: rfc3339
type:
  field: type
  map: {sale: sale}
fields:
  event_id: event_id
  txn_id: txn_id
  event_time: event_time
  rep_id: rep_id
  account_id: account_id
  product_id: product_id
  quantity: quantity
  amount:
    value: amount.value
    currency: amount.currency
`

// demoGate is the gatekeepers of the demo. It bounds no event time: synth's
// sales run ahead of the clock.
const demoGate = `defaults:
  required: [rep_id]
  currencies: iso4217
  amount: {min: "0", max: "1000000"}
  normalize: {trim: true, upper: [amount.currency]}
  dedupe: {window: 24h}
sources:
  pos-apac: {currencies: [JPY, SGD]}
`

// demoPipelines builds the ingest pipelines of the sources, by raw topic,
// and the gate (whose Deduper the dedupe stage uses).
func demoPipelines(sources []string) (map[string]*ingest.Pipeline, *sanitize.Gate, error) {
	gcfg, err := sanitize.ParseConfig([]byte(demoGate))
	if err != nil {
		return nil, nil, fmt.Errorf("demo gate: %w", err)
	}
	gate, err := sanitize.Compile(gcfg)
	if err != nil {
		return nil, nil, fmt.Errorf("demo gate: %w", err)
	}
	out := make(map[string]*ingest.Pipeline, len(sources))
	for _, src := range sources {
		name := "demo/" + src + ".yaml"
		cfg, err := mapping.Parse(fmt.Appendf(nil, demoMapping, src), name)
		if err != nil {
			return nil, nil, err
		}
		m, err := mapping.New(cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		out[demoRawTopic(src)] = &ingest.Pipeline{Mapper: m, Gate: gate}
	}
	return out, gate, nil
}

// demoProgram is the program the demo publishes to the programs topic for
// its accrual stage: every AE earns on every credited sale, in USD (the
// reference FX rates convert the other currencies), monthly, in marginal
// bands of attainment of one default quota.
const demoProgram = `id: demo-commission
version: 1
name: Demo AE commission
currency: USD
timezone: UTC
period: month
effective_from: 2026-01-01
participants:
  roles: [AE]
credit:
  measure: amount
quota:
  default: "250000"
tiers:
  basis: attainment
  method: marginal
  bands:
    - {from: "0",   rate: "0.02"}
    - {from: "0.5", rate: "0.04"}
    - {from: "1.0", rate: "0.07"}
`
