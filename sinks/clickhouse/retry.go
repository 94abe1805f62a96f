package clickhouse

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// retryableCodes are the ClickHouse exception codes after which the same
// insert may succeed later: the server is busy, short of memory or parts,
// losing its coordination, or the network between failed. Every other
// exception (unknown table or column, type mismatch, syntax, access) stays
// wrong however often it is sent.
var retryableCodes = map[int32]string{
	3:    "UNEXPECTED_END_OF_FILE",
	32:   "ATTEMPT_TO_READ_AFTER_EOF",
	159:  "TIMEOUT_EXCEEDED",
	201:  "QUOTA_EXCEEDED",
	202:  "TOO_MANY_SIMULTANEOUS_QUERIES",
	203:  "NO_FREE_CONNECTION",
	209:  "SOCKET_TIMEOUT",
	210:  "NETWORK_ERROR",
	236:  "ABORTED",
	241:  "MEMORY_LIMIT_EXCEEDED",
	242:  "TABLE_IS_READ_ONLY",
	252:  "TOO_MANY_PARTS",
	285:  "TOO_FEW_LIVE_REPLICAS",
	319:  "UNKNOWN_STATUS_OF_INSERT",
	394:  "QUERY_WAS_CANCELLED",
	425:  "SYSTEM_ERROR",
	439:  "CANNOT_SCHEDULE_TASK",
	999:  "KEEPER_EXCEPTION",
	1000: "POCO_EXCEPTION",
}

// Retryable reports whether an insert that failed with err may succeed if
// sent again: the retryable server exceptions (by code, through
// errors.As *proto.Exception), and the failures of reaching the server at
// all (refused, reset, closed, timed out). A cancelled context is not
// retryable: the caller is stopping.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var ex *proto.Exception
	if errors.As(err, &ex) {
		_, ok := retryableCodes[ex.Code]
		return ok
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne),
		errors.Is(err, context.DeadlineExceeded), // the attempt's own deadline
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, chgo.ErrAcquireConnTimeout):
		return true
	}
	return false
}

// backoff is an exponential delay with jitter between attempts.
type backoff struct {
	min, max time.Duration
	attempt  int
}

// next returns the delay before the next attempt: min, doubling each
// time up to max, each drawn between half and all of that.
func (b *backoff) next() time.Duration {
	d := b.min << min(b.attempt, 30)
	if d > b.max || d <= 0 {
		d = b.max
	}
	b.attempt++
	return d/2 + rand.N(d/2+1)
}

func (b *backoff) reset() { b.attempt = 0 }

// sleep waits d or until ctx ends; it reports whether the wait was whole.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
