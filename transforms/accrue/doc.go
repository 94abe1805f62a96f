// Package accrue is the calculation of PROGRAMS.md §4: from each recipient's
// credit of a sale, return, cancel or adjustment to the rep's measure,
// commission, spiffs, cap, overrides, accrual deltas, nudges and badges,
// under a set of incentive programs. It is pure: no Kafka, no clock, decimal
// arithmetic only. The accrual stage runs it on sales.credited, and
// `accrue simulate` runs the very same code offline (Simulation), so a plan
// tried offline pays what it pays live.
//
// # Inputs and state
//
// Engine.Apply takes one Input against a Store and returns an Output:
//
//   - a *link.Credit: one recipient's share of an event, as sales.credited
//     carries it, keyed by the recipient;
//   - an *OverrideCredit: an override a manager earns on a report's
//     contribution, computed on the report's partition and addressed to
//     the manager (TopicOverrides, keyed by manager).
//
// Every state key belongs to one rep, so a stage keyed by rep holds all of
// a rep's state on the rep's partition:
//
//   - PeriodKey(program, period, rep) → PeriodState: the exact period
//     measure, count, spiff totals, overrides earned, the last reported
//     earned (deltas are measured from it), the snapshot version and what
//     has fired (thresholds, next-tier bands, badges);
//   - SaleKey(rep, source, txn_id) → SaleState: what the rep got from a
//     sale, per program (contribution, period, FX rate, spiffs, the
//     managers who earn on it), and what came back so far, so that returns
//     and cancels reverse exactly that, in the sale's period.
//
// A rejected input (a *pipeline.Reject error with a stable reason code)
// leaves the store untouched and produces nothing.
//
// # Outputs
//
// Per applied input, in order: Accrual deltas (round(new) − round(old) of the
// reported earned, with a trace of the bands, spiffs and overrides that
// moved), Snapshots (the statement, versioned per program, period and
// rep), Nudges, Awards, and the OverrideCredits to hand on. Each has a
// deterministic id derived from its inputs and a JSON encoding
// (AppendJSON) in the field order the contract documents.
//
// Choices the contract leaves open are written down in docs/accrual.md.
package accrue
