package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// PublishTxn writes recs through cl in one transaction: read_committed
// readers see all of them or, on any error, none. cl must be a
// transactional client (kgo.TransactionalID) that is not in a transaction;
// a second publisher with the same transactional id fences the first, which
// then fails whole. progress, when set, is called from PublishTxn's
// goroutine with the number of records handed to the client so far.
// PublishTxn returns once the records are readable (Written.WaitVisible, up
// to 30s), so that whoever runs next (a stage's reference tables, the next
// load) sees them.
func PublishTxn(ctx context.Context, cl *kgo.Client, recs []*kgo.Record, progress func(done, total int)) error {
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	var failed atomic.Pointer[error]
	written := map[string]*Written{} // by topic, filled before any promise runs
	for _, r := range recs {
		if written[r.Topic] == nil {
			written[r.Topic] = &Written{}
		}
	}
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
			return
		}
		written[r.Topic].Note(r)
	}
	for i, r := range recs {
		cl.Produce(ctx, r, promise)
		if progress != nil && (i%256 == 255 || i == len(recs)-1) {
			progress(i+1, len(recs))
		}
	}
	err := cl.Flush(ctx)
	if p := failed.Load(); p != nil {
		err = errors.Join(err, *p)
	}
	if err != nil {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		abortErr := errors.Join(cl.AbortBufferedRecords(actx), cl.EndTransaction(actx, kgo.TryAbort))
		return fmt.Errorf("nothing published: %w", errors.Join(err, abortErr))
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for t, w := range written {
		if err := w.WaitVisible(wctx, cl, t); err != nil {
			return fmt.Errorf("committed, but not yet readable: %w", err)
		}
	}
	return nil
}
