// Package pipeline is accrue's stage runtime: the part that makes every
// stage exactly once.
//
// A Stage joins a consumer group on its input topics with read_committed
// isolation, hands each polled batch to a typed Processor that owns keyed
// state, and writes the processor's output records, the state's changelog and
// the consumed offsets in one Kafka transaction (kgo.GroupTransactSession).
// Either all of a batch's effects become visible or none do, so a crash at any
// instant, a rebalance or a broker restart loses nothing and counts nothing
// twice.
//
// State is kept per input partition, in memory, and is backed by a compacted
// changelog topic with the same partition count as the inputs (partition p of
// the changelog holds the state of input partition p). When a partition is
// assigned, its state is rebuilt from the changelog, up to the last stable
// offset, before any of its records is processed. A processor's writes during
// a batch are staged: they reach the committed state only when the batch's
// transaction commits, and are dropped when it aborts, at which point the
// consumer is rewound to the committed offsets and the batch is processed
// again. The changelog carries one record per key changed in a batch (the
// last value), not one per update.
//
// A record that a processor cannot handle (it returns an error, or panics) is
// written to the stage's dead-letter topic in the same transaction, with its
// original key, value and headers, plus headers that give the reason code,
// the field, the message and the source topic, partition and offset (see
// DeadLetterHeaders). It never stops the partition.
//
// A Processor that also implements Ticker is ticked for every partition it
// owns about every Config.TickInterval, with or without records, so that it
// can release or expire what it holds in state on partitions that have gone
// quiet; a tick's writes and records commit like a batch's (see Ticker).
//
// Shutdown order (Stage.Run, when its context is cancelled):
//  1. the batch in hand is finished and its transaction ended, under a
//     fresh deadline (Config.ShutdownTimeout), so no open transaction is
//     left behind to block the partitions' next owner;
//  2. polling stops and the session leaves the group (Close), which hands
//     the partitions to the remaining instances at once instead of after the
//     session timeout;
//  3. Run returns; the caller then stops the admin server (Admin.Shutdown).
package pipeline
