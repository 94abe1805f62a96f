package pipeline

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Ticker is implemented by a Processor that also acts on the passing of
// time: it releases what it holds back, or expires what waited too long, on
// partitions that may receive no record for hours.
//
// The stage calls Tick for every partition it owns about every
// Config.TickInterval, from its processing goroutine, never concurrently
// with Process. A partition due for a tick while a batch holds its records,
// or any other partition's, is ticked inside that batch's transaction, after
// the batch's records. When no records arrive, the due partitions are ticked
// on their own, and a transaction is begun only if some Tick wrote state or
// emitted records. Either way Tick's writes and records commit with the
// transaction or not at all, exactly like those of Process, and the ticked
// partitions' committed offsets are committed again in it, so the group
// fences a tick of an instance that lost its partitions as it fences a
// batch.
//
// now is the stage's clock: wall-clock time, not event time. A partition is
// ticked once its state is restored; one that is assigned but receives no
// records is restored for its ticks as soon as the group has handed out its
// committed offsets (a partition the group never committed an offset for has
// no state and is not ticked until its first record). A panic in Tick aborts
// the transaction and stops the stage: Run returns an error.
type Ticker[S any] interface {
	Tick(c *Context[S], partition int32, now time.Time)
}

// DefaultTickInterval is Config.TickInterval's default.
const DefaultTickInterval = time.Second

// ticking is a stage's tick bookkeeping. Only the processing goroutine
// touches it.
type ticking[S any] struct {
	t        Ticker[S] // nil: the processor does not tick
	interval time.Duration
	last     map[int32]time.Time
	// While deferring, emitted records are kept in deferred rather than
	// produced: a tick round outside a batch begins a transaction only
	// if it has something to write.
	deferring bool
	deferred  []*kgo.Record
}

func (t *ticking[S]) init(proc Processor[S], interval time.Duration) {
	t.t, _ = proc.(Ticker[S])
	t.interval = interval
	t.last = make(map[int32]time.Time)
}

// due returns the partitions of parts whose last tick is at least an
// interval old (or that were never ticked), in order.
func (t *ticking[S]) due(parts map[int32]*partitionState[S], now time.Time) []int32 {
	var out []int32
	for p := range parts {
		if last, ok := t.last[p]; !ok || now.Sub(last) >= t.interval {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// pollContext bounds a poll by the next tick that falls due, so that an idle
// stage still ticks. The returned cancel must be called.
func (s *Stage[S]) pollContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.tick.t == nil {
		if s.cfg.Stateless {
			return ctx, func() {}
		}
		// A stateful stage still wakes up now and then, so that
		// tickIdle restores partitions that receive no records.
		return context.WithTimeout(ctx, s.tick.interval)
	}
	now := s.nowFunc()
	next := now.Add(s.tick.interval)
	for p := range s.parts {
		last, ok := s.tick.last[p]
		if !ok {
			next = now
			break
		}
		if at := last.Add(s.tick.interval); at.Before(next) {
			next = at
		}
	}
	// A poll given a context that has already ended returns at once
	// without the records it has buffered: give it at least a moment.
	return context.WithTimeout(ctx, max(next.Sub(now), time.Millisecond))
}

// callTick runs the processor's Tick, turning a panic into an error.
func (s *Stage[S]) callTick(c *Context[S], p int32, now time.Time) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("processor panicked in Tick", "partition", p, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("stage %s: tick of partition %d panicked: %v", s.cfg.Name, p, r)
		}
	}()
	c.part = s.parts[p]
	s.tick.t.Tick(c, p, now)
	return nil
}

// tickInBatch ticks, within the batch in hand, every owned partition that is
// due, and returns touched with the ticked partitions added, and the
// partitions ticked.
func (s *Stage[S]) tickInBatch(c *Context[S], touched []int32) ([]int32, []int32, error) {
	if s.tick.t == nil {
		return touched, nil, nil
	}
	now := s.nowFunc()
	due := s.tick.due(s.parts, now)
	if len(due) == 0 {
		return touched, nil, nil
	}
	committed := s.sess.Client().CommittedOffsets()
	var ticked []int32
	for _, p := range due {
		// As in tickIdle, a partition is ticked only where the
		// transaction commits its offsets: this batch's records
		// move them, or they are committed again (fenced).
		if !slices.Contains(touched, p) && !s.hasCommit(committed, p) {
			continue
		}
		s.tick.last[p] = now
		ticked = append(ticked, p)
		if err := s.callTick(c, p, now); err != nil {
			return touched, ticked, err
		}
		touched = appendUnique(touched, p)
	}
	return touched, ticked, nil
}

// tickIdle runs when a poll brought no records: it restores the state of
// assigned partitions that have had no records since they were assigned,
// ticks the partitions that are due, and commits what the ticks wrote in a
// transaction of their own.
func (s *Stage[S]) tickIdle(ctx context.Context) error {
	if s.cfg.Stateless {
		return nil
	}
	// Every stateful stage restores its idle partitions, ticker or not:
	// its state (and what it reports of it) covers every partition it
	// owns, not only those that happened to receive records.
	committed := s.sess.Client().CommittedOffsets()
	if err := s.restoreIdle(ctx, committed); err != nil {
		return err
	}
	if s.tick.t == nil {
		return nil
	}
	now := s.nowFunc()
	var due []int32
	for _, p := range s.tick.due(s.parts, now) {
		// Only a partition whose offsets can be committed again can be
		// fenced; one without any has no state yet.
		if s.hasCommit(committed, p) {
			due = append(due, p)
		}
	}
	if len(due) == 0 {
		return nil
	}
	c := &s.ctx
	clear(c.emitted)
	clear(c.rejects)
	s.tick.deferring = true
	var terr error
	for _, p := range due {
		s.tick.last[p] = now
		if terr = s.callTick(c, p, now); terr != nil {
			break
		}
	}
	if terr == nil {
		terr = s.flushAll(c, due)
	}
	s.tick.deferring = false
	recs := s.tick.deferred
	s.tick.deferred = nil
	changed := len(recs) > 0
	for _, p := range due {
		changed = changed || len(s.parts[p].staged) > 0
	}
	if terr != nil || !changed {
		for _, p := range due {
			if len(s.parts[p].staged) > 0 {
				s.parts[p].rollback()
			}
		}
		return terr
	}

	if err := s.sess.Begin(); err != nil {
		return fmt.Errorf("stage %s: begin transaction: %w", s.cfg.Name, err)
	}
	s.produceErr.Store(nil)
	for _, r := range recs {
		s.produce(r)
	}
	for _, p := range due {
		if s.cfg.Stateless {
			if len(s.parts[p].staged) > 0 {
				panic(fmt.Sprintf("pipeline: stage %s is stateless but its processor wrote state", s.cfg.Name))
			}
			continue
		}
		s.writeChangelog(c, p, s.parts[p])
	}
	endCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	try := kgo.TryCommit
	if perr := s.produceErr.Load(); perr != nil {
		s.log.Warn("producing failed; aborting the tick", "err", *perr)
		try = kgo.TryAbort
	}
	ok, err := s.sess.End(s.fenced(endCtx, due), try)
	for _, p := range due {
		if ps := s.parts[p]; ps != nil {
			if ok {
				ps.commit()
			} else {
				ps.rollback()
			}
		}
	}
	s.met.tickDone(ok, c.emitted, c.rejects)
	if ok {
		s.commits++
		s.met.stateSize(s.StateSize())
	} else {
		s.log.Info("tick transaction aborted; the partitions are ticked again", "partitions", due)
	}
	if err != nil {
		return fmt.Errorf("stage %s: end tick transaction: %w", s.cfg.Name, err)
	}
	return nil
}

func (s *Stage[S]) hasCommit(committed map[string]map[int32]kgo.EpochOffset, p int32) bool {
	for _, t := range s.cfg.Inputs {
		if _, ok := committed[t][p]; ok {
			return true
		}
	}
	return false
}

// restoreIdle restores the state of every partition whose committed offsets
// the group has handed to this instance but that is not restored yet
// (it has had no records since it was assigned). The client fetched those
// offsets with RequireStable, so the previous owner's last transaction is
// finished and the changelog read now covers it.
func (s *Stage[S]) restoreIdle(ctx context.Context, committed map[string]map[int32]kgo.EpochOffset) error {
	var missing []int32
	s.dropMu.Lock()
	for _, t := range s.cfg.Inputs {
		for p := range committed[t] {
			if _, ok := s.parts[p]; ok {
				continue
			}
			if _, gone := s.dropped[p]; !gone {
				missing = appendUnique(missing, p)
			}
		}
	}
	s.dropMu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return s.restoreParts(ctx, missing)
}

// fenced returns ctx carrying a hook that adds the committed offsets of the
// input partitions parts to the transaction's offset commit, where the batch
// did not already move them. A transaction that wrote state for a partition
// thereby always commits that partition's offsets: the group refuses the
// commit of an instance that has lost the partition (ILLEGAL_GENERATION,
// and the transaction aborts), and a new owner's stable offset fetch waits
// for the transaction to end before it restores the partition's state.
func (s *Stage[S]) fenced(ctx context.Context, parts []int32) context.Context {
	if len(parts) == 0 {
		return ctx
	}
	type offset struct {
		topic string
		part  int32
		at    kgo.EpochOffset
	}
	committed := s.sess.Client().CommittedOffsets()
	var add []offset
	for _, t := range s.cfg.Inputs {
		for _, p := range parts {
			if eo, ok := committed[t][p]; ok {
				add = append(add, offset{t, p, eo})
			}
		}
	}
	if len(add) == 0 {
		return ctx
	}
	return kgo.PreTxnCommitFnContext(ctx, func(req *kmsg.TxnOffsetCommitRequest) error {
	next:
		for _, a := range add {
			ti := -1
			for i := range req.Topics {
				if req.Topics[i].Topic == a.topic {
					ti = i
					break
				}
			}
			if ti < 0 {
				t := kmsg.NewTxnOffsetCommitRequestTopic()
				t.Topic = a.topic
				req.Topics = append(req.Topics, t)
				ti = len(req.Topics) - 1
			}
			t := &req.Topics[ti]
			for _, p := range t.Partitions {
				if p.Partition == a.part {
					continue next
				}
			}
			p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			p.Partition = a.part
			p.Offset = a.at.Offset
			p.LeaderEpoch = a.at.Epoch
			p.Metadata = &req.MemberID
			t.Partitions = append(t.Partitions, p)
		}
		return nil
	})
}

// tickDone records a tick round's transaction: its outcome and what it
// emitted, without counting it as a batch of records.
func (s *stageMetrics) tickDone(committed bool, out, rejects map[string]int) {
	if s.m == nil {
		return
	}
	if !committed {
		s.aborted.Inc()
		return
	}
	s.committed.Inc()
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, n := range out {
		child(s.out, t, func() prometheus.Counter { return s.m.recordsOut.WithLabelValues(s.stage, t) }).Add(float64(n))
	}
	for r, n := range rejects {
		child(s.rejects, r, func() prometheus.Counter { return s.m.rejects.WithLabelValues(s.stage, r) }).Add(float64(n))
	}
}

// stateEpochs numbers partition states and their rollbacks; see
// Context.StateEpoch.
var stateEpochs atomic.Uint64

// StateEpoch identifies the partition's state as the processor sees it. It
// changes whenever that state is replaced by one rebuilt from the changelog
// (the partition was assigned, or assigned again) and whenever a
// transaction's staged writes are rolled back. A processor that keeps an
// in-memory index of its state per partition rebuilds the index (Scan) when
// the epoch differs from the one it built it under.
func (c *Context[S]) StateEpoch() uint64 { return c.part.epoch }
