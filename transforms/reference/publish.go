package reference

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
)

// Publish writes rows to topic, keyed by RecordKey with Encode's JSON as
// value, in one transaction: the rows become visible to read_committed
// readers (Global) all together, or, on any error, not at all. cl must be a
// transactional client (kgo.TransactionalID) that is not in a transaction;
// a second Publish through a client with the same transactional id fences
// the first, which then fails whole. progress, when set, is called from
// Publish's goroutine with the number of rows handed to the client so far.
// Publish blocks until the transaction has ended.
func Publish(ctx context.Context, cl *kgo.Client, topic string, rows []Row, progress func(done, total int)) error {
	recs := make([]*kgo.Record, len(rows))
	for i, r := range rows {
		v, err := Encode(r)
		if err != nil {
			return fmt.Errorf("publish to %s: nothing published: row %d (%s): %w", topic, i+1, RecordKey(r), err)
		}
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(RecordKey(r)), Value: v}
	}
	if err := pipeline.PublishTxn(ctx, cl, recs, progress); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}
