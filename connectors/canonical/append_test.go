package canonical

import (
	"fmt"
	"testing"
)

// Attributes are written in key order, on the stack or past it.
func TestAppendJSONAttributeOrder(t *testing.T) {
	for _, n := range []int{0, 1, 3, 8, 9, 20} {
		e := valid()
		e.Attributes = map[string]string{}
		for i := range n {
			e.Attributes[fmt.Sprintf("k%02d", (i*7)%n)] = fmt.Sprintf("v<%d>", i)
		}
		ref, err := referenceJSON(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(e.AppendJSON(nil)); got != string(ref) {
			t.Errorf("%d attributes:\n got %s\nwant %s", n, got, ref)
		}
	}
}
