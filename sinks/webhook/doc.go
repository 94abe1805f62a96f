// Package webhook is the outgoing webhook sink: it consumes payout events
// (payouts.payable, payouts.instructions) and POSTs them as JSON to a
// receiver, signed, with idempotency keys, committing Kafka offsets only
// after the receiver acknowledged.
//
// Each request carries
//
//	Content-Type: application/json
//	Idempotency-Key: <the event's idempotency_key, or topic/partition/offset>
//	Accrue-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
//	Accrue-Topic: <topic>               (one event per request)
//	Accrue-Event-Count: <n>
//
// and its body is the event as it is on the topic, or, with batches, an
// envelope {"events":[{"topic":…,"idempotency_key":…,"data":<event>},…]}.
// The receiver recomputes the signature over the timestamp, a dot and the
// raw body with each of its secrets, compares in constant time and refuses
// a timestamp too far from its clock (Verify does all of it). Several v1
// values appear while secrets rotate, one per secret.
//
// Delivery is at least once: a request that timed out may have been
// processed, and a sink stopped after a request and before its commit sends
// it again on restart. A repeat always carries the same idempotency key and
// body, so a receiver that remembers keys applies each event once.
//
// Answers: 2xx acknowledges. 408, 429, 5xx, timeouts and connection errors
// are retried with exponential backoff and jitter (Retry-After is honoured
// up to the longest backoff), for ever unless Config.MaxAttempts is set.
// Any other status refuses the events for good: they go to the dead-letter
// topic (reason receiver_refused) with the status, and the sink goes on.
// A record that is not JSON goes there too (invalid_json), unsent.
package webhook
