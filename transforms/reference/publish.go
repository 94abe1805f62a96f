package reference

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

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
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("publish to %s: begin transaction: %w", topic, err)
	}
	var failed atomic.Pointer[error]
	var written pipeline.Written
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
			return
		}
		written.Note(r)
	}
	var encErr error
	for i, r := range rows {
		v, err := Encode(r)
		if err != nil {
			encErr = fmt.Errorf("row %d (%s): %w", i+1, RecordKey(r), err)
			break
		}
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(RecordKey(r)), Value: v}, promise)
		if progress != nil && (i%256 == 255 || i == len(rows)-1) {
			progress(i+1, len(rows))
		}
	}
	flushErr := cl.Flush(ctx)
	var prodErr error
	if p := failed.Load(); p != nil {
		prodErr = *p
	}
	if err := errors.Join(encErr, flushErr, prodErr); err != nil {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		abortErr := errors.Join(cl.AbortBufferedRecords(actx), cl.EndTransaction(actx, kgo.TryAbort))
		return fmt.Errorf("publish to %s: nothing published: %w", topic, errors.Join(err, abortErr))
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("publish to %s: commit: %w", topic, err)
	}
	// Return only once readers (Global, the next load) see the rows.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := written.WaitVisible(wctx, cl, topic); err != nil {
		return fmt.Errorf("publish to %s: committed, but not yet readable: %w", topic, err)
	}
	return nil
}
