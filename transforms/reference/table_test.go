package reference

import (
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

// TestAsOfManyVersions checks the binary search of long histories (a rate
// a day) against a plain scan, on and between every version's date.
func TestAsOfManyVersions(t *testing.T) {
	var h History[FXRate]
	rng := rand.New(rand.NewPCG(3, 4))
	start := day("2026-01-01")
	var dates []Date
	for d := start; d < start+400; d += Date(1 + rng.IntN(3)) {
		dates = append(dates, d)
	}
	rng.Shuffle(len(dates), func(i, j int) { dates[i], dates[j] = dates[j], dates[i] })
	for _, d := range dates {
		h.Put(FXRate{From: "EUR", To: "USD", Rate: decimal.NewFromInt(int64(d)), ValidFrom: d})
	}
	vs := h.Versions("EUR/USD")
	for d := start - 2; d < start+405; d++ {
		var want *FXRate
		for i := range vs {
			if vs[i].ValidFrom <= d {
				want = &vs[i]
			}
		}
		got, ok := h.AsOf("EUR/USD", d)
		if ok != (want != nil) || (ok && got.ValidFrom != want.ValidFrom) {
			t.Fatalf("on %s: got %v %s, want %v", d, ok, got.ValidFrom, want)
		}
	}
	if h.Rows() != len(dates) {
		t.Errorf("rows %d, want %d", h.Rows(), len(dates))
	}
}

// The inverse of a rate is the same whether it was computed when the row
// was stored or on demand.
func TestInverseComputedOnPut(t *testing.T) {
	r := FXRate{From: "USD", To: "JPY", Rate: decimal.RequireFromString("151.37"), ValidFrom: Forever}
	var h History[FXRate]
	h.Put(r)
	stored, _ := h.AsOf("USD/JPY", day("2026-01-01"))
	if !stored.Inverse().Equal(r.Inverse()) || stored.Inverse().String() != "0.0066063288630508" {
		t.Errorf("inverse %s, on demand %s", stored.Inverse(), r.Inverse())
	}
}
