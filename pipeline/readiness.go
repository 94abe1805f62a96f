package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
)

// Readiness is the state of something that follows topics before it can
// serve (reference tables, the program catalog, the wallet's tables): ready
// once it holds what its topics held when it started, failed when its run
// ended first. Keep one and answer Ready (a ReadyCheck) and
// WaitReady from it. Make it with NewReadiness.
type Readiness struct {
	ready   atomic.Bool
	once    sync.Once
	readyCh chan struct{}
	failed  chan struct{}
	runErr  error
}

// NewReadiness returns a Readiness neither ready nor failed.
func NewReadiness() *Readiness {
	return &Readiness{readyCh: make(chan struct{}), failed: make(chan struct{})}
}

// Ready reports whether MarkReady was called. Safe to call concurrently; a
// ReadyCheck.
func (r *Readiness) Ready() bool { return r.ready.Load() }

// WaitReady blocks until ready (nil), ctx ends (its error) or the run
// failed before that (its error).
func (r *Readiness) WaitReady(ctx context.Context) error {
	select {
	case <-r.readyCh:
		return nil
	case <-r.failed:
		return r.runErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MarkReady makes it ready and runs then, the first time only.
func (r *Readiness) MarkReady(then func()) {
	r.once.Do(func() {
		r.ready.Store(true)
		close(r.readyCh)
		if then != nil {
			then()
		}
	})
}

// Fail records that the run ended with err before or after being ready;
// waiters not yet served get err. Call it once, from the run.
func (r *Readiness) Fail(err error) {
	r.runErr = err
	close(r.failed)
}
