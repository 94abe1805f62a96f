package pipeline

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A partition assigned to an instance must be restored from the changelog
// even when the instance never saw it revoked: franz-go's transactional
// session reports one revocation between two ends of a transaction and
// swallows the rest, so an instance could be given back a partition whose
// state it kept from before another owner changed it (see drop).
func TestAssignedPartitionsAreRestored(t *testing.T) {
	s, err := NewStage[int64](Config{Name: "count", Brokers: []string{"127.0.0.1:1"}, Inputs: []string{"in"}},
		Int64Codec{}, ProcessorFunc[int64](func(*Context[int64], *kgo.Record) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []int32{0, 1, 2} {
		s.parts[p] = newPartitionState[int64]()
		s.parts[p].committed["k"] = int64(p)
	}
	// Partitions 0 and 1 were taken unseen and come back (with 3, new).
	s.onAssigned(nil, nil, map[string][]int32{"in": {0, 1, 3}})
	s.applyDrops()
	for _, p := range []int32{0, 1, 3} {
		if _, ok := s.parts[p]; ok {
			t.Errorf("partition %d kept its state across an assignment; it must be restored", p)
		}
	}
	if st, ok := s.parts[2]; !ok || st.committed["k"] != 2 {
		t.Errorf("partition 2, not in the assignment's changes, lost its state")
	}
}
