// Package wallet is the money side of a rep after accrual: a double-entry
// ledger per rep, the rep's bank account and its penny-drop verification,
// and redemption requests (bank transfers and catalogue items) with their
// payout instructions and results. It is pure: no Kafka, no clock, no
// randomness, decimal arithmetic only. A wallet stage keyed by rep calls
// Wallet.Apply for each input record with the rep's State and writes the
// returned Output and the new State in its transaction.
//
// # Inputs
//
// Apply takes one Input:
//
//   - *Payable: an amount that became payable (payouts.payable, written by
//     the accrual stage), negative for a clawback;
//   - *PeriodClose: a program's period closed, for programs whose earnings
//     become payable on period close;
//   - *Register: the rep registers (or changes) a bank account;
//   - *BankResult and *Confirm: the bank's result of the penny drop and the
//     rep's confirmation of the amount;
//   - *Request: a redemption request (bank transfer or catalogue item);
//   - *PayoutResult: the payout service's result of an instruction;
//   - *Tick: the stage's clock, which expires stale penny drops.
//
// # Determinism and replay
//
// Every transaction of the ledger has an id derived from its cause (the
// accrual's idempotency key, the request's idempotency key, the payout
// result's id), and the State remembers what it applied: applying an input
// a second time returns the first outcome where there is one (a request's)
// and changes nothing. Apply never modifies the State it is given; it
// returns a new one, so a stage may keep the committed value while a batch
// is in flight.
//
// An input that cannot be applied at all (malformed, for another rep, for
// an unknown registration or payout) returns a *pipeline.Reject with a
// stable reason code and leaves the State as it was. A request that is
// well formed but cannot be granted is not an error: it yields an Outcome
// with status "refused" and a reason code, remembered under its
// idempotency key.
//
// # Bank account numbers
//
// A bank account number is only ever held sealed (AES-256-GCM under the
// key of Config.Key) in the State and in payout instructions. Everything
// else carries its mask ("****1234") and a keyed fingerprint (HMAC-SHA256)
// that tells a changed number from the same one. Errors never quote it.
//
// docs/wallet.md describes the accounts, the postings, the penny-drop
// states and the reason codes.
package wallet
