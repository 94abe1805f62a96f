package accrue

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestOverrideJSON(t *testing.T) {
	o := OverrideCredit{ID: "erp:S1:sale/R-1/override/ae/1", ProgramID: "ae", ProgramVersion: 3, Period: "2026-11",
		ManagerID: "M-1", Level: 1, FromRepID: "R-1", Rate: d("0.010"), Amount: d("-12.345678901234567890"), EventID: "erp:S1:sale"}
	b := o.AppendJSON(nil)
	want := `{"override_id":"erp:S1:sale/R-1/override/ae/1","program_id":"ae","program_version":3,"period":"2026-11",` +
		`"manager_id":"M-1","level":1,"from_rep_id":"R-1","rate":"0.010","amount":"-12.345678901234567890","event_id":"erp:S1:sale"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	back, err := DecodeOverride(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(back.AppendJSON(nil)) != want {
		t.Fatalf("round trip: %s", back.AppendJSON(nil))
	}
	for _, bad := range []string{
		`{`, `{"program_id":"ae","manager_id":"M","period":"2026-11","rate":"1","amount":"1"}`,
		`{"override_id":"x","manager_id":"M","period":"2026-11","rate":"1","amount":"1"}`,
		`{"override_id":"x","program_id":"ae","period":"2026-11","rate":"1","amount":"1"}`,
		`{"override_id":"x","program_id":"ae","manager_id":"M","rate":"1","amount":"1"}`,
		`{"override_id":"x","program_id":"ae","manager_id":"M","period":"2026-11","rate":"1e3","amount":"1"}`,
		`{"override_id":"x","program_id":"ae","manager_id":"M","period":"2026-11","rate":"1","amount":1}`,
	} {
		if _, err := DecodeOverride([]byte(bad)); err == nil {
			t.Errorf("DecodeOverride(%s) accepted", bad)
		}
	}
}

func FuzzDecodeOverride(f *testing.F) {
	f.Add([]byte(`{"override_id":"a","program_id":"ae","program_version":1,"period":"2026-11","manager_id":"M-1","level":1,"from_rep_id":"R-1","rate":"0.01","amount":"10","event_id":"e"}`))
	f.Add([]byte(`{"override_id":"a","program_id":"ae","program_version":1,"period":"2026-11","manager_id":"M-1","level":1,"from_rep_id":"","rate":"0.01","amount":"10","event_id":"e","sources":[{"from_rep_id":"R-1","event_id":"d","amount":"4"},{"from_rep_id":"R-2","event_id":"e","amount":"6"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := DecodeOverride(b)
		if err != nil {
			return
		}
		again, err := DecodeOverride(o.AppendJSON(nil))
		if err != nil {
			t.Fatalf("re-reading %s: %v", o.AppendJSON(nil), err)
		}
		if string(again.AppendJSON(nil)) != string(o.AppendJSON(nil)) {
			t.Fatalf("not stable: %s vs %s", again.AppendJSON(nil), o.AppendJSON(nil))
		}
	})
}

func codecSamples() []State {
	sale := &SaleState{RepID: "R-1", Source: "erp", TxnID: "S1", EventID: "erp:S1:sale",
		EventTime: time.Date(2026, 11, 3, 10, 0, 0, 123456789, time.UTC), Share: num("0.6"), Amount: num("1250.00"),
		Currency: "EUR", Returned: num("0"), Programs: []SaleProgram{{ProgramID: "ae", Version: 3, Period: "2026-11",
			WindowDays: -1, Rate: num("0.0066666666666667"), Contribution: num("5.000000000000025"), Reversed: num("0"),
			Returned: num("0"), Spiffs: []Amount{{ID: "launch", Amount: num("60")}},
			Overrides: []Manager{{RepID: "M-1", Level: 1, Rate: num("0.01")}}},
			{ProgramID: "gm", Version: 1, Period: "2026-Q4", WindowDays: 90, Rate: num("1"),
				Contribution: num("-123456789012345678901234.5678901234567890"), Reversed: num("-999999999999999999"),
				Returned: num("1000000000000000000"), Overrides: []Manager{{RepID: "M-1", Level: 1, Rate: num("0.01")},
					{RepID: "D-\"é", Level: 2, Rate: num("5E+3")}}}}}
	per := &PeriodState{ProgramID: "ae", Period: "2026-11", RepID: "R-1", Measure: num("5.000000000000025"),
		Count: num("0.6"), Override: num("0"), Earned: num("0.10"), Version: 4, Crossed: []string{"0.5"}, Badges: []string{"first"}}
	return []State{{Sale: sale}, {Period: per},
		{Sale: &SaleState{RepID: "R", Cancelled: true}},
		{Period: &PeriodState{Measure: num("-0.000"), Spiffs: []Amount{{ID: "", Amount: Num{}}}, Version: -1}}}
}

// TestCodec: every value comes back exactly, decimals with their
// exponents.
func TestCodec(t *testing.T) {
	for _, v := range codecSamples() {
		b := Codec{}.Encode([]byte("x"), v)
		if b[0] != 'x' {
			t.Fatal("Encode does not append")
		}
		back, err := Codec{}.Decode(b[1:])
		if err != nil {
			t.Fatal(err)
		}
		if got, want := dumpState(back), dumpState(v); got != want {
			t.Errorf("round trip:\n got %s\nwant %s", got, want)
		}
		if string(Codec{}.Encode(nil, back)) != string(b[1:]) {
			t.Errorf("encoded again: %q, first %q", Codec{}.Encode(nil, back), b[1:])
		}
		for n := range len(b) - 1 {
			if _, err := (Codec{}).Decode(b[1 : 1+n]); err == nil {
				t.Errorf("%q, cut to %d bytes: accepted", b[1:], n)
			}
		}
	}
	for _, bad := range []string{``, `{}`, `{"period":{},"sale":{}}`, `[`, "P", "Q\x00", "P\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"} {
		if _, err := (Codec{}).Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
}

// TestCodecReadsJSON: values the changelog holds from before the binary
// encoding (encoding/json of State) still read.
func TestCodecReadsJSON(t *testing.T) {
	for _, v := range codecSamples() {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Codec{}.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := json.Marshal(back)
		if string(again) != string(b) {
			t.Errorf("JSON read back as %s, was %s", again, b)
		}
	}
}

// TestCodecWorld: every state a year of the pinned world leaves comes
// back exactly.
func TestCodecWorld(t *testing.T) {
	w := pinnedWorld(t)
	e, err := New(w.programs, w.tables)
	if err != nil {
		t.Fatal(err)
	}
	s := MemoryStore{}
	credits := w.credits()
	for i := range credits {
		out, err := e.ApplyCredit(s, &credits[i])
		if err != nil {
			continue
		}
		for j := range out.Overrides {
			if _, err := e.ApplyOverride(s, &out.Overrides[j]); err != nil {
				t.Fatal(err)
			}
		}
	}
	for k, v := range s {
		back, err := Codec{}.Decode(Codec{}.Encode(nil, v))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if got, want := dumpState(back), dumpState(v); got != want {
			t.Fatalf("%s:\n got %s\nwant %s", k, got, want)
		}
	}
}

func dumpState(v State) string {
	var b strings.Builder
	dumpValue(&b, reflect.ValueOf(v))
	return b.String()
}

func FuzzCodec(f *testing.F) {
	for _, v := range codecSamples() {
		f.Add(Codec{}.Encode(nil, v))
		b, _ := json.Marshal(v)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Codec{}.Decode(b)
		if err != nil {
			return
		}
		enc := Codec{}.Encode(nil, v)
		again, err := Codec{}.Decode(enc)
		if err != nil {
			t.Fatalf("%q read as %s, whose encoding %q does not read: %v", b, dumpState(v), enc, err)
		}
		if dumpState(again) != dumpState(v) {
			t.Fatalf("%q: %s, then %s", b, dumpState(v), dumpState(again))
		}
		if enc2 := (Codec{}).Encode(nil, again); string(enc2) != string(enc) {
			t.Fatalf("%q encodes as %q, then %q", b, enc, enc2)
		}
	})
}

func TestJSONStrings(t *testing.T) {
	a := Award{Badge: "q\"uo\\ta\n\x01é", ProgramID: "ae", Period: "2026-11", RepID: "R-1", EventID: "e\xff"}
	got := string(a.AppendJSON(nil))
	want := `{"badge":"q\"uo\\ta\n\u0001é","program_id":"ae","period":"2026-11","rep_id":"R-1","event_id":"e\ufffd"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if !strings.HasPrefix(got, `{"badge"`) {
		t.Error(got)
	}
}

// appendStringByByte is appendString as first written, one byte at a time.
func appendStringByByte(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "erp:SO-1001:sale/R-17#ae/2026-11/R-17", "a\"b\\c\nd\x01é\xff\u2028", "12345678\x1f", "1234567\x7f\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendString(nil, s)), string(appendStringByByte(nil, s)); got != want {
			t.Fatalf("%q: %s, want %s", s, got, want)
		}
	})
}

func TestPlain8(t *testing.T) {
	for c := range 256 {
		for pos := range 8 {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			x := uint64(0)
			for i := range 8 {
				x |= uint64(b[i]) << (8 * i)
			}
			needs := c < 0x20 || c == '"' || c == '\\' || c >= 0x80
			if needs && plain8(x) {
				t.Fatalf("byte %#x at %d: reported plain", c, pos)
			}
			if !needs && !plain8(x) {
				t.Fatalf("byte %#x at %d: reported not plain", c, pos)
			}
		}
	}
}

// overrideSeeds are override records as the engine writes them, and
// others that only encoding/json reads right.
func overrideSeeds() []string {
	o := OverrideCredit{ID: "erp:S1:sale/R-1/override/ae/1", ProgramID: "ae", ProgramVersion: 3, Period: "2026-11",
		ManagerID: "M-1", Level: 1, FromRepID: "R-1", Rate: d("0.010"), Amount: d("-12.345678901234567890"), EventID: "erp:S1:sale"}
	first := string(o.AppendJSON(nil))
	summed := SumOverrides([]OverrideCredit{o, {ID: "b", ProgramID: "ae", ProgramVersion: 3, Period: "2026-11",
		ManagerID: "M-1", Level: 1, FromRepID: "R-2", Rate: d("0.010"), Amount: d("2.5"), EventID: "erp:S2:sale"}})
	sums := string(summed[0].AppendJSON(nil))
	return []string{first, sums,
		strings.Replace(sums, `"amount":"2.5"`, `"amount":"2.50"`, 1),
		strings.Replace(sums, `"from_rep_id":"",`, `"from_rep_id":"R-1",`, 1),
		strings.Replace(sums, `"sources":[`, `"sources":[],"x":[`, 1),
		strings.Replace(sums, `},{`, `} , {`, 1),
		strings.Replace(first, `"level":1`, `"level":-0`, 1),
		strings.Replace(first, `"level":1`, `"level":01`, 1),
		strings.Replace(first, `"level":1`, `"level":1.0`, 1),
		strings.Replace(first, `"level":1`, `"level":1e0`, 1),
		strings.Replace(first, `"level":1`, `"level":99999999999999999999`, 1),
		strings.Replace(first, `"level":1`, `"level":"1"`, 1),
		strings.Replace(first, `"M-1"`, `"M\u002d1"`, 1),
		strings.Replace(first, `"M-1"`, "\"M-\xff\"", 1),
		strings.Replace(first, `"manager_id"`, `"MANAGER_ID"`, 1),
		strings.Replace(first, `"manager_id":"M-1"`, `"manager_id":""`, 1),
		strings.Replace(first, `"rate":"0.010"`, `"rate":"1e3"`, 1),
		strings.Replace(first, `,"event_id"`, ` ,"event_id"`, 1),
		first + " ", first + "x", first[:len(first)-1] + `,"level":2}`,
	}
}

// TestDecodeOverrideAgrees: the record read by position is the record
// encoding/json reads, and what one refuses the other refuses.
func TestDecodeOverrideAgrees(t *testing.T) {
	fast := 0
	for _, s := range overrideSeeds() {
		agreeOverride(t, []byte(s))
		if _, ok := decodeOverrideFast([]byte(s)); ok {
			fast++
		}
	}
	if fast < 2 {
		t.Errorf("%d records read by position: the engine's layout should be", fast)
	}
}

func agreeOverride(t *testing.T, b []byte) {
	t.Helper()
	got, gerr := DecodeOverride(b)
	want, werr := decodeOverrideJSON(b)
	switch {
	case (gerr == nil) != (werr == nil):
		t.Fatalf("%q: error %v, encoding/json's %v", b, gerr, werr)
	case gerr != nil:
		if gerr.Error() != werr.Error() {
			t.Fatalf("%q: error %v, encoding/json's %v", b, gerr, werr)
		}
		return
	}
	var g, w strings.Builder
	dumpValue(&g, reflect.ValueOf(*got))
	dumpValue(&w, reflect.ValueOf(*want))
	if g.String() != w.String() {
		t.Fatalf("%q:\n got %s\nwant %s", b, g.String(), w.String())
	}
}

func FuzzDecodeOverrideAgrees(f *testing.F) {
	for _, s := range overrideSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { agreeOverride(t, b) })
}
