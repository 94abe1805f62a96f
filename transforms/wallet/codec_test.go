package wallet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// richState is a wallet with every part filled: balances, accruals, a
// closed period, requests in each status and a verified account.
func richState(t testing.TB) (*Wallet, *State, []Output) {
	w := newWallet(t)
	s := verified(t, w, "1000.00")
	at := t0.Add(5*time.Hour + 123456789*time.Nanosecond)
	s, outs := run(t, w, s,
		payable("q1", "quarterly", "2026-Q4", "-12.34"),
		payable("q2", "quarterly", "2027-Q1", "56.78"),
		&PeriodClose{RepID: testRep, ProgramID: "quarterly", Period: "2026-Q4", At: at},
		transfer("t1", "100.00"), transfer("t2", "200.00"), transfer("t3", "10000.00"),
		&Request{Key: "c1", RepID: testRep, Type: RequestCatalogue, ItemID: "spa", Face: dec("80"), FaceCurrency: "EUR", Currency: "EUR", Country: "DE", At: at},
		&PayoutResult{ID: "r1", RepID: testRep, IdempotencyKey: "t1", Status: ResultPaid, At: at},
		&PayoutResult{ID: "r2", RepID: testRep, IdempotencyKey: "t2", Status: ResultFailed, Reason: "beneficiary_bank_down", At: at},
		&PayoutResult{ID: "r3", RepID: testRep, IdempotencyKey: "t1", Status: ResultPaid, At: at},
	)
	return w, s, outs
}

func TestCodecRoundTrip(t *testing.T) {
	_, s, _ := richState(t)
	s.Ledger["huge"] = decimal.RequireFromString("-123456789012345678901234567890.123456789")
	s.Ledger["small"] = decimal.New(-7, -30)
	enc := Codec{}.Encode(nil, s)
	back, err := Codec{}.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dump(back), dump(s); got != want {
		t.Fatalf("round trip differs:\n got %s\nwant %s", got, want)
	}
	if !back.Ledger["huge"].Equal(s.Ledger["huge"]) || back.Account.ExpiresAt != s.Account.ExpiresAt {
		t.Fatal("values changed")
	}
	if len(enc) > 2048 {
		t.Fatalf("encoding takes %d bytes", len(enc))
	}
	// Map order does not change the bytes.
	for range 20 {
		if !bytes.Equal(Codec{}.Encode(nil, s.Clone()), enc) {
			t.Fatal("encoding not deterministic")
		}
	}
	empty := &State{RepID: testRep}
	if back, err := (Codec{}).Decode(Codec{}.Encode(nil, empty)); err != nil || dump(back) != dump(empty) {
		t.Fatalf("empty state: %+v, %v", back, err)
	}
}

func TestCodecRefusesDamage(t *testing.T) {
	_, s, _ := richState(t)
	enc := Codec{}.Encode(nil, s)
	for i := range len(enc) {
		if _, err := (Codec{}).Decode(enc[:i]); err == nil {
			t.Fatalf("decoded a value cut at byte %d of %d", i, len(enc))
		}
	}
	if _, err := (Codec{}).Decode(append(enc, 0)); err == nil {
		t.Fatal("decoded trailing bytes")
	}
}

func FuzzCodecDecode(f *testing.F) {
	_, s, _ := richState(f)
	f.Add(Codec{}.Encode(nil, s))
	f.Add(Codec{}.Encode(nil, &State{RepID: "R"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Codec{}.Decode(b)
		if err != nil {
			return
		}
		enc := Codec{}.Encode(nil, s)
		again, err := Codec{}.Decode(enc)
		if err != nil || !bytes.Equal(Codec{}.Encode(nil, again), enc) {
			t.Fatalf("re-encoding is not stable: %v", err)
		}
	})
}

// TestNoNumberInTheClear looks for the account number, as registered and
// normalised, in the encoded state, in the JSON of every output, in
// printed values and in error texts of a whole flow.
func TestNoNumberInTheClear(t *testing.T) {
	w, s, outs := richState(t)
	changed, more := run(t, w, s, register("reg-2", "DE02 1203 0000 0000 2020 51"))
	outs = append(outs, more...)
	_, bad, err := w.Apply(changed, register("reg-2", "DE02 1203 0000 0000 2020 52"))
	if err == nil {
		t.Fatal("reused registration accepted")
	}
	forbidden := []string{testNumber, "DE02120300000000202051", "DE02 1203 0000 0000 2020 51", "0532013000", "0000202051"}
	var all bytes.Buffer
	all.Write(Codec{}.Encode(nil, s))
	all.Write(Codec{}.Encode(nil, changed))
	all.WriteString(err.Error())
	all.WriteString(strings.Join([]string{sprint(s), sprint(changed), sprint(bad)}, "\n"))
	items := 0
	for _, o := range outs {
		for _, v := range []any{o.Transactions, o.Outcomes, o.Instructions, o.PennyDrops, o.AccountEvents} {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			all.Write(b)
			all.WriteString(sprint(v))
		}
		items += len(o.Instructions) + len(o.PennyDrops) + len(o.AccountEvents)
	}
	text := all.String()
	for _, f := range forbidden {
		if strings.Contains(text, f) {
			t.Errorf("%q appears in the clear", f)
		}
	}
	// The search looked where the account is described.
	if items < 5 || !strings.Contains(text, `"account_mask":"****3000"`) || !strings.Contains(text, `"account_mask":"****2051"`) ||
		!strings.Contains(text, `"sealed_account":"`) {
		t.Fatalf("the outputs searched do not describe the accounts (%d items)", items)
	}
}

func sprint(v any) string {
	b, _ := json.Marshal(v)
	return string(b) + fmt.Sprintf("%+v", v)
}

// dump writes v with every field, map keys in order, decimals as
// coefficient and exponent (so "10.50" and "10.5" differ) and times with
// their location: two values with the same dump hold the same data.
func dump(v any) string {
	var b strings.Builder
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch x := v.Interface().(type) {
		case decimal.Decimal:
			fmt.Fprintf(&b, "%se%d", x.Coefficient(), x.Exponent())
			return
		case time.Time:
			fmt.Fprintf(&b, "%s@%s", x.Format(time.RFC3339Nano), x.Location())
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				b.WriteString("nil")
				return
			}
			walk(v.Elem())
		case reflect.Struct:
			b.WriteString("{")
			for i := range v.NumField() {
				fmt.Fprintf(&b, "%s:", v.Type().Field(i).Name)
				walk(v.Field(i))
				b.WriteString(" ")
			}
			b.WriteString("}")
		case reflect.Map:
			keys := v.MapKeys()
			slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
			b.WriteString("map[")
			for _, k := range keys {
				fmt.Fprintf(&b, "%s:", k)
				walk(v.MapIndex(k))
				b.WriteString(" ")
			}
			b.WriteString("]")
		case reflect.Slice:
			fmt.Fprintf(&b, "[%d:", v.Len())
			for i := range v.Len() {
				walk(v.Index(i))
				b.WriteString(" ")
			}
			b.WriteString("]")
		default:
			fmt.Fprintf(&b, "%v", v.Interface())
		}
	}
	walk(reflect.ValueOf(v))
	return b.String()
}
