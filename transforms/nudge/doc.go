// Package nudge is what happens downstream of the accrual stage to reach
// people: leaderboard nudges, and the delivery of every nudge and award as
// a message event for the notification services.
//
// The leaderboard is two stages (docs/nudges.md):
//
//	attainment (key: rep) ─► [leaderboard-rekey, stateless] ─► leaderboard.by-program (key: program|period)
//	leaderboard.by-program ─► [leaderboard, keyed by program|period] ─► nudges (key: rep)
//
// Rekey copies each statement snapshot to a topic keyed by its program and
// period, so that one partition, and one instance, sees the whole
// leaderboard of a program and period; Leaderboard keeps it in keyed state
// (one key per rep on the board, so a rank change writes one changelog
// record, not the board) and an order-statistic tree in memory, and emits
// leaderboard_top_n and leaderboard_overtaken nudges with deterministic
// ids.
//
// Delivery (Deliver) consumes the nudges and awards topics, keyed by rep,
// renders each into a message from templates (Templates), throttles per rep
// (at most N a day, quiet hours deferred in keyed state and released by
// ticks), issues certificates for the badges that ask for one, and emits a
// message event to messages, or to messages.suppressed with the reason.
package nudge
