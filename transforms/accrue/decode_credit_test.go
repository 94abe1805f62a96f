package accrue

import (
	"reflect"
	"strings"
	"testing"

	"github.com/accrue/accrue/transforms/link"
)

// TestDecodeCreditExact: the stage's DecodeCredit returns exactly what
// link.DecodeCredit returns (reflect.DeepEqual: decimals with their
// exponents, times with their locations, nil and empty alike) for every
// credit of the pinned world (splits, margins, quantities, products,
// attributes, amounts of 20 digits and more), as written and with the
// changes that send it down encoding/json's path.
func TestDecodeCreditExact(t *testing.T) {
	w := pinnedWorld(t)
	credits := w.credits()
	if len(credits) < 2000 {
		t.Fatalf("%d credits", len(credits))
	}
	for i := range credits {
		b := string(credits[i].AppendJSON(nil))
		for _, v := range []string{b,
			strings.Replace(b, `"event":{`, `"event": {`, 1),
			strings.Replace(b, `"source":"erp"`, `"source":"e\u0072p"`, 1),
		} {
			got, gerr := DecodeCredit([]byte(v))
			want, werr := link.DecodeCredit([]byte(v))
			if gerr != nil || werr != nil {
				t.Fatalf("%s: %v, link.DecodeCredit: %v", v, gerr, werr)
			}
			if !reflect.DeepEqual(*got.Event, *want.Event) || got.RepID != want.RepID || got.Via != want.Via ||
				got.Refs != want.Refs || !reflect.DeepEqual(got.Share, want.Share) {
				t.Fatalf("%s:\n got %+v %+v\nwant %+v %+v", v, got, got.Event, want, want.Event)
			}
		}
	}
}
