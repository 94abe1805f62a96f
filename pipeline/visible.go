package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Written notes the highest offset written to each partition, from produce
// promises. It is safe for concurrent use.
type Written struct {
	mu sync.Mutex
	m  map[int32]int64
}

// Note records r's offset; call it from a produce promise on success.
func (w *Written) Note(r *kgo.Record) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = make(map[int32]int64)
	}
	if o, ok := w.m[r.Partition]; !ok || r.Offset > o {
		w.m[r.Partition] = r.Offset
	}
}

// WaitVisible blocks until a read_committed reader of topic can see every
// record w noted. After a transaction commits, its markers reach the
// partitions a moment later and until then the last stable offset stays
// where it was, so a command that publishes and returns at once could leave
// a reader that starts right after (`accrue program list`, the next publish's
// conflict check) blind to what it wrote.
func (w *Written) WaitVisible(ctx context.Context, cl *kgo.Client, topic string) error {
	w.mu.Lock()
	want := make(map[int32]int64, len(w.m))
	for p, o := range w.m {
		want[p] = o
	}
	w.mu.Unlock()
	if len(want) == 0 {
		return nil
	}
	adm := kadm.NewClient(cl)
	for {
		ends, err := adm.ListCommittedOffsets(ctx, topic)
		if err == nil && ends.Error() == nil {
			done := true
			for p, o := range want {
				if e, ok := ends.Lookup(topic, p); !ok || e.Offset <= o {
					done = false
					break
				}
			}
			if done {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
