package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// restoreNew rebuilds the state of every partition in fetches that this
// instance has not restored since it was assigned.
//
// It runs after the group has handed out the partitions and their committed
// offsets, and RequireStableFetchOffsets makes that hand-out wait for any
// transaction of the previous owner to finish. That finish is its marker in
// the offsets topic; the coordinator writes the markers of the changelog's
// partitions apart, and under load later. So the restore first waits until
// no transaction is open on the partitions it restores (stableEnds): then
// the changelog's last stable offset covers exactly the transactions whose
// input offsets are committed, and state and position recover together.
func (s *Stage[S]) restoreNew(ctx context.Context, fetches kgo.Fetches) error {
	var missing []int32
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if _, ok := s.parts[fp.Partition]; !ok && len(fp.Records) > 0 {
			missing = appendUnique(missing, fp.Partition)
		}
	})
	if len(missing) == 0 {
		return nil
	}
	return s.restoreParts(ctx, missing)
}

// restoreParts rebuilds the state of partitions from the changelog.
func (s *Stage[S]) restoreParts(ctx context.Context, missing []int32) error {
	if s.cfg.Stateless {
		for _, p := range missing {
			s.parts[p] = newPartitionState[S]()
		}
		return nil
	}
	s.ready.Store(false)
	start := time.Now()
	logged := false
	waiting := func(d time.Duration) {
		if d > 2*time.Second && !logged {
			logged = true
			s.log.Info("waiting for a transaction open on the changelog to end before restoring", "partitions", missing)
		}
	}
	states, n, err := restorePartitions(ctx, s.admin, s.cfg.ClientOpts, s.cfg.Brokers, s.cfg.Changelog, missing, s.codec, waiting)
	if err != nil {
		return fmt.Errorf("stage %s: restore state of partitions %v: %w", s.cfg.Name, missing, err)
	}
	for p, st := range states {
		s.parts[p] = st
	}
	s.met.restoreDone(n, time.Since(start).Seconds())
	s.met.stateSize(s.StateSize())
	s.log.Info("state restored", "partitions", missing, "changelog_records", n, "keys", s.StateSize(),
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// restorePartitions reads the changelog partitions from their start up to
// their last stable offset (read_committed), once no transaction is open on
// them, and folds them into state. waiting, when set, is called with the
// time waited so far while a transaction is open.
func restorePartitions[S any](ctx context.Context, admin *kgo.Client, extra []kgo.Opt, brokers []string,
	changelog string, partitions []int32, codec Codec[S], waiting func(time.Duration)) (map[int32]*partitionState[S], int, error) {

	adm := kadm.NewClient(admin)
	ends, err := stableEnds(ctx, adm, changelog, partitions, waiting)
	if err != nil {
		return nil, 0, err
	}
	starts, err := adm.ListStartOffsets(ctx, changelog)
	if err != nil {
		return nil, 0, fmt.Errorf("list start offsets: %w", err)
	}

	states := make(map[int32]*partitionState[S], len(partitions))
	// want maps a partition to the last offset to read; a partition
	// leaves it once that offset is seen.
	want := make(map[int32]int64)
	assign := make(map[int32]kgo.Offset)
	for _, p := range partitions {
		states[p] = newPartitionState[S]()
		end, ok := ends.Lookup(changelog, p)
		if !ok || end.Err != nil {
			return nil, 0, fmt.Errorf("no end offset for %s/%d: %v", changelog, p, end.Err)
		}
		st, _ := starts.Lookup(changelog, p)
		if end.Offset > st.Offset {
			want[p] = end.Offset - 1
			assign[p] = kgo.NewOffset().At(st.Offset)
		}
	}
	if len(want) == 0 {
		return states, 0, nil
	}

	opts := append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, extra...)
	opts = append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{changelog: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers are kept so that a changelog ending in a
		// marker (it always does) shows its last offset.
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(64<<20),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, 0, err
	}
	defer cl.Close()

	n := 0
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("fetch %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return nil, 0, ferr
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			last, ok := want[fp.Partition]
			if !ok {
				return
			}
			st := states[fp.Partition]
			for _, r := range fp.Records {
				if r.Offset > last {
					break
				}
				if !r.Attrs.IsControl() {
					n++
					if r.Value == nil {
						delete(st.committed, string(r.Key))
					} else if v, derr := codec.Decode(r.Value); derr != nil {
						ferr = fmt.Errorf("decode %s/%d@%d: %w", fp.Topic, fp.Partition, r.Offset, derr)
						return
					} else {
						st.committed[string(r.Key)] = v
					}
				}
				if r.Offset == last {
					delete(want, fp.Partition)
					break
				}
			}
			if len(fp.Records) > 0 && fp.Records[len(fp.Records)-1].Offset >= last {
				delete(want, fp.Partition)
			}
		})
		if ferr != nil {
			return nil, 0, ferr
		}
	}
	return states, n, nil
}

// stableEnds are the last stable offsets of the changelog's partitions at a
// moment when each equals its partition's high watermark: no transaction
// is open on them. Only a partition's owner writes it, so what is open is
// the previous owner's last transaction, whose markers are on their way,
// or a frozen instance's, which the coordinator aborts after its timeout.
func stableEnds(ctx context.Context, adm *kadm.Client, changelog string, partitions []int32, waiting func(time.Duration)) (kadm.ListedOffsets, error) {
	start := time.Now()
	for {
		stable, err := adm.ListCommittedOffsets(ctx, changelog)
		if err != nil {
			return nil, fmt.Errorf("list end offsets: %w", err)
		}
		high, err := adm.ListEndOffsets(ctx, changelog)
		if err != nil {
			return nil, fmt.Errorf("list high watermarks: %w", err)
		}
		open := false
		for _, p := range partitions {
			l, lok := stable.Lookup(changelog, p)
			h, hok := high.Lookup(changelog, p)
			if lok && hok && l.Err == nil && h.Err == nil && l.Offset < h.Offset {
				open = true
			}
		}
		if !open {
			return stable, nil
		}
		if waiting != nil {
			waiting(time.Since(start))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
