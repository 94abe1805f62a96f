package nudge

import (
	"math/rand"
	"sort"
	"strconv"
	"testing"

	"github.com/shopspring/decimal"
)

// The treap agrees with a sorted slice through random inserts, deletes,
// ranks and selects, ties included.
func TestTreeAgreesWithSortedSlice(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var tr tree
	var ref []standing
	sortRef := func() { sort.Slice(ref, func(i, j int) bool { return ahead(&ref[i], &ref[j]) }) }
	for i := 0; i < 5000; i++ {
		if len(ref) > 0 && rng.Intn(3) == 0 {
			k := rng.Intn(len(ref))
			tr.Delete(ref[k])
			ref = append(ref[:k], ref[k+1:]...)
		} else {
			s := standing{score: decimal.NewFromInt(int64(rng.Intn(50))), seq: int64(rng.Intn(20)), rep: "R-" + strconv.Itoa(i)}
			tr.Insert(s)
			ref = append(ref, s)
			sortRef()
		}
		if tr.Len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", i, tr.Len(), len(ref))
		}
		if len(ref) == 0 {
			continue
		}
		k := rng.Intn(len(ref))
		if got := tr.Rank(&ref[k]); got != k+1 {
			t.Fatalf("step %d: rank of %v = %d, want %d", i, ref[k], got, k+1)
		}
		if got := tr.At(k + 1); got.rep != ref[k].rep {
			t.Fatalf("step %d: at %d = %s, want %s", i, k+1, got.rep, ref[k].rep)
		}
	}
}

func BenchmarkTreeUpdate(b *testing.B) {
	var tr tree
	const n = 100000
	ss := make([]standing, n)
	for i := range ss {
		ss[i] = standing{score: decimal.NewFromInt(int64(i * 7 % 100003)), seq: int64(i), rep: "R-" + strconv.Itoa(i)}
		tr.Insert(ss[i])
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % n
		tr.Delete(ss[k])
		ss[k].score = ss[k].score.Add(decimal.NewFromInt(50))
		ss[k].seq = int64(n + i)
		tr.Insert(ss[k])
		_ = tr.Rank(&ss[k])
	}
}
