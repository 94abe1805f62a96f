package mapping

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// scanCfg maps nested keys, a type, a default, a constant and attributes,
// with no array index and no splits: records go the one-pass way.
const scanCfg = `source: web
format: json
type:
  field: status
  map: {won: sale, void: cancel, back: return, fix: adjustment}
  ignore: [lost]
fields:
  txn_id: id
  ref_txn_id: orig.id
  event_time: at
  rep_id: owner.id
  account_id: owner.acct
  product_id: item.sku
  quantity: item.qty
  amount: {value: amt, currency: cur}
  margin: {value: mgn.value, currency: mgn.cur}
  attributes: {channel: ch, region: owner.geo.region, same: id}
defaults: {amount.currency: usd}
constants: {attributes.src: test}
`

// slowTwin is m compiled again without the one-pass reader.
func slowTwin(t testing.TB, doc string) (fast, slow *Mapper) {
	t.Helper()
	fast, slow = mustMapper(t, doc), mustMapper(t, doc)
	if fast.trie == nil {
		t.Fatal("the config does not take the one-pass way")
	}
	slow.trie = nil
	return fast, slow
}

// describe renders outcomes for comparison: place, bytes, and the event's
// wire form or the skip or reject with its message.
func describe(m *Mapper, payload []byte) []string { return describeWith(m, nil, payload) }

// describeWith is describe through MapReuse when r is not nil.
func describeWith(m *Mapper, r *Reuse, payload []byte) []string {
	var out []string
	m.mapPayload(r, payload, func(o Outcome) {
		s := fmt.Sprintf("line %d offset %d raw %q: ", o.Line, o.Offset, o.Raw)
		switch {
		case o.Event != nil:
			b, _ := o.Event.MarshalJSON()
			s += string(b)
		case o.Skip != "":
			s += "skip " + o.Skip
		default:
			s += fmt.Sprintf("reject %s %s %v", o.Reject.Reason, o.Reject.Field, o.Reject.Err)
		}
		out = append(out, s)
	})
	return out
}

func sameOutcomes(t *testing.T, fast, slow *Mapper, payload []byte) {
	t.Helper()
	f, s := describe(fast, payload), describe(slow, payload)
	if strings.Join(f, "\n") != strings.Join(s, "\n") {
		t.Fatalf("the one-pass reader differs on %q:\n one pass: %s\n fastjson: %s", payload, strings.Join(f, "\n   "), strings.Join(s, "\n   "))
	}
	sameReused(t, fast, payload, f)
}

// sameReused checks that MapReuse, twice over one Reuse, renders what Map
// rendered (want).
func sameReused(t testing.TB, m *Mapper, payload []byte, want []string) {
	t.Helper()
	var r Reuse
	for range 2 {
		if got := describeWith(m, &r, payload); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("MapReuse differs from Map on %q:\n reuse: %s\n   map: %s", payload, strings.Join(got, "\n   "), strings.Join(want, "\n   "))
		}
	}
}

var scanSeeds = []string{
	`{"id":"T1","status":"won","at":"2026-11-03T10:15:00Z","owner":{"id":"R-1","acct":"A","geo":{"region":"eu"}},"amt":"10.50","cur":"eur","ch":" web ","item":{"sku":"S","qty":2}}`,
	`{"id":"T1","status":"won","at":"2026-11-03T10:15:00Z","owner":{"id":"R-1"},"amt":10.5,"mgn":{"value":"1.00","cur":"EUR"}}`,
	`{"id":"T1","id":"T2","status":"won","at":"2026-11-03T10:15:00Z","owner":{"id":"R-1"},"owner":{"id":"R-2"},"amt":"1"}`,
	`{"i\u0064":"T1","status":"won","at":"2026-11-03T10:15:00Z","owner":{"id":"R-1"},"amt":"1"}`,
	`{"id":"T\"1","status":"won","at":"2026-11-03T10:15:00Z","owner":{"id":"R-1"},"amt":"1","note":"a\\\"b\\"}`,
	`{"id":"T1","status":"back","orig":{"id":"T0"},"at":"2026-11-03T10:15:00Z","owner":{"id":["R-1"]},"amt":"1"}`,
	`{"id":"T1","status":"won","at":"2026-11-03T10:15:00Z","owner":"R-1","amt":"1"}`,
	`{"id":"T1","status":"won","at":"2026-11-03T10:15:00Z","owner":{"id":"R-1"},"amt":{"v":1}}`,
	`{"id":"T1","status":"won","at":"2026-11-03T10:15:00Z","owner":{"id":"R-1"},"amt":"1","x":[1,{"a":[]},"s",true,false,null,-1.5e+3]}`,
	`{"id":"T1","status":"won","at":"2026-11-03T10:15:00Z","owner":{"id":"R-1"},"amt":NaN}`,
	`{"id":"T1","status":"won","at":"2026-11-03T10:15:00Z","owner":{"id":"R-1"},"amt":-}`,
	`{"id":"T1","status":"won","at":"2026-11-03T10:15:00Z","owner":{"id":"R-1"},"amt":1-2}`,
	`{"id":true,"status":"won","at":null,"owner":{"id":false},"amt":"1"}`,
	`{"id":"T1","status":"lost"}`,
	`{"id":"T1","status":"won" "at":"x"}`,
	`{"id":"T1",}`,
	`{"id":"T1"} x`,
	`{"id":"T1"`,
	`{}`,
	" \n\t{ \"id\" : \"T1\" , \"status\" : \"won\" , \"at\" : \"2026-11-03T10:15:00Z\" , \"owner\" : { \"id\" : \"R\" } , \"amt\" : \"1\" } \n",
	strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70),
	`{"id":"T1","status":"won","at":"2026-11-03T10:15:00Z","owner":{"id":"R-1"},"amt":"1","cur":"\u00e9ur"}` + "\n" + `{"id":"T2","status":"won"}`,
	`[{"id":"T1","status":"won","at":"2026-11-03T10:15:00Z","owner":{"id":"R-1"},"amt":"1"}, {"id":"T2"}]`,
	"{\"id\":\"T\x01\xff\",\"status\":\"won\",\"at\":\"2026-11-03T10:15:00Z\",\"owner\":{\"id\":\"R-1\"},\"amt\":\"1\"}",
	`{"id":"T1","status":"won","at":"2026-11-03T10:15:00Z","owner":{"id":"R-1"},"amt":"1","ch":tru}`,
	`{"":1,"id":"T1","status":"won","at":"2026-11-03T10:15:00Z","owner":{"":{},"id":"R-1"},"amt":"1"}`,
	`{"id":"` + strings.Repeat("long ", 20) + `","status":"won","at":"2026-11-03T10:15:00Z","owner":{"id":"R-1"},"amt":"1","note":"` + strings.Repeat("x", 40) + `\"` + `"}`,
}

func TestScanMatchesFastjson(t *testing.T) {
	fast, slow := slowTwin(t, scanCfg)
	for _, s := range scanSeeds {
		sameOutcomes(t, fast, slow, []byte(s))
	}
	crmFast := loadExample(t, "crm-opportunities")
	crmSlow := loadExample(t, "crm-opportunities")
	crmSlow.trie = nil
	b, err := os.ReadFile(filepath.Join(examplesDir, "crm-opportunities.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	sameOutcomes(t, crmFast, crmSlow, b)
}

// The records of the examples and the benchmarks take the one-pass way;
// escapes, mapped objects, NaN and a mapped key given twice do not.
func TestScanTakesCommonRecords(t *testing.T) {
	m := loadExample(t, "crm-opportunities")
	b, err := os.ReadFile(filepath.Join(examplesDir, "crm-opportunities.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	sc := m.trie.pool.Get().(*jsonScan)
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		_, err := parseObject(parsers.Get(), []byte(line))
		if ok := sc.scan([]byte(line)); ok != (err == nil) {
			t.Errorf("line %d: one pass %v, fastjson error %v", i+1, ok, err)
		}
	}
	fast, _ := slowTwin(t, scanCfg)
	sc = fast.trie.pool.Get().(*jsonScan)
	for i, want := range []bool{true, true, false, false, false, false, true, false, true, false, false, true, true, true} {
		if got := sc.scan([]byte(scanSeeds[i])); got != want {
			t.Errorf("seed %d: one pass %v, want %v", i, got, want)
		}
	}
	if mustMapper(t, jsonCfg).trie != nil {
		t.Error("a path with an array index takes the one-pass way")
	}
}

func FuzzScan(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	addSeeds(f, "crm-opportunities.ndjson")
	fast, slow := slowTwin(f, scanCfg)
	f.Fuzz(func(t *testing.T, payload []byte) {
		sameOutcomes(t, fast, slow, payload)
	})
}

// stringEnd reads eight bytes at a time; it must find what a byte loop
// finds: the closing quote, or -1 at a control character (escaped or not)
// or the end.
func TestStringEnd(t *testing.T) {
	naive := func(b []byte, i int) (int, bool) {
		escaped := false
		for j := i; j < len(b); j++ {
			switch {
			case b[j] < 0x20:
				return -1, false
			case b[j] == '\\':
				escaped = true
				if j++; j < len(b) && b[j] < 0x20 {
					return -1, false
				}
			case b[j] == '"':
				return j, escaped
			}
		}
		return -1, false
	}
	r := rand.New(rand.NewPCG(7, 8))
	alphabet := []byte{'"', '\\', 'a', ' ', 0x00, 0x0a, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x80, 0xa2, 0xdc, 0xff}
	for range 200000 {
		b := make([]byte, r.IntN(40))
		for k := range b {
			b[k] = alphabet[r.IntN(len(alphabet))]
		}
		i := 0
		if len(b) > 0 {
			i = r.IntN(len(b))
		}
		wantEnd, wantEsc := naive(b, i)
		end, esc := stringEnd(b, i)
		if end != wantEnd || end >= 0 && esc != wantEsc {
			t.Fatalf("stringEnd(%q, %d) = %d, %v; want %d, %v", b, i, end, esc, wantEnd, wantEsc)
		}
	}
}

// Every format maps the same through MapReuse as through Map.
func TestMapReuseMatchesMap(t *testing.T) {
	for name, file := range map[string]string{"crm-opportunities": "crm-opportunities.ndjson", "erp-orders-debezium": "erp-orders-debezium.ndjson",
		"pos-export": "pos-export.csv", "shop-webhook": "shop-webhook.json"} {
		m := loadExample(t, name)
		b, err := os.ReadFile(filepath.Join(examplesDir, file))
		if err != nil {
			t.Fatal(err)
		}
		sameReused(t, m, b, describe(m, b))
	}
}
