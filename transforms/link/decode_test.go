package link

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/connectors/canonical"
)

var decodeSeeds = []string{
	`{"event_id":"erp-eu:SO-1001:sale","source":"erp-eu","txn_id":"SO-1001","type":"sale","ref_txn_id":null,"event_time":"2026-11-03T10:15:00Z","rep_id":"R-17","account_id":"A-3","product_id":"P-9","quantity":"2","amount":{"value":"1250.00","currency":"EUR"},"margin":{"value":"300.00","currency":"EUR"},"splits":[{"rep_id":"R-17","share":"0.6"},{"rep_id":"R-22","share":"0.4"}],"attributes":{"channel":"online"}}`,
	`{"source":"crm","txn_id":"R-1","type":"return","ref_txn_id":"S-1","event_time":"2026-11-03T10:15:00.123+02:00","amount":{"value":"5","currency":"USD"}}`,
	`{"source":"crm","txn_id":"R-1","type":"sale","event_time":"2026-11-03T10:15:00Z","amount":{"value":"5","currency":"USD"},"quantity":null,"margin":null,"splits":null,"attributes":null,"unknown":{"x":[1,2]}}`,
	`{"Source":"crm","txn_id":"R-1","type":"sale","event_time":"2026-11-03T10:15:00Z","amount":{"value":"5","currency":"USD"}}`,
	`{"source":"crm","source":"erp","amount":{"value":"5"}}`,
	`{"source":"cr\xffm","amount":{"value":"5"}}`,
	`{"source":"crm","amount":{"value":"1e5"}}`,
	`{"source":"crm","amount":{"value":""},"quantity":"x"}`,
	`{"source":"crm","amount":{"value":"1"},"quantity":"x","event_time":"yesterday"}`,
	`{"source":5,"amount":{"value":"1"}}`,
	`{"source":"crm","amount":"1"}`,
	`{"source":"crm","amount":{"value":"1"},"splits":[null]}`,
	`{"source":"crm","amount":{"value":"1"},"attributes":{"a":null,"b":"x","a":"y"}}`,
	`{"source":"crm","amount":{"VALUE":"1"}}`,
	`[]`, `null`, `{`, `{"source":"crm"} x`,
	`{"source":"crm","amount":{"value":"1"},"x":nan}`,
	`{"source":"crm","amount":{"value":"1"},"x":01}`,
	`{"source":"crm","amount":{"value":"1"},"x":[true,false,null,-1.5e3]}`,
	`{"source":"c\u0072m","amount":{"value":"1"},"x":"\q"}`,
	"{\"source\":\"c\trm\",\"amount\":{\"value\":\"1\"}}",
	` { "source" : "crm" , "amount" : { "value" : "1" } } `,
}

func TestPlainJSON(t *testing.T) {
	for s, want := range map[string]bool{
		`{"a":"b","c":[true,false,null],"d":{}}`: true,
		` {"a" : "x:y,{}[]"}` + "\n":             true,
		`{"a":1}`:                                false,
		`{"a":nan}`:                              false,
		`{"a":nulll}`:                            false,
		`{"a":"\n"}`:                             false,
		"{\"a\":\"\x01\"}":                       false,
		`{"a":"b}`:                               false,
	} {
		if got := plainJSON([]byte(s)); got != want {
			t.Errorf("plainJSON(%s) = %v, want %v", s, got, want)
		}
	}
}

// TestDecodeEventAgreesWithUnmarshalJSON: the fast reader accepts exactly
// what canonical.Event's UnmarshalJSON accepts, and reads it the same.
func TestDecodeEventAgreesWithUnmarshalJSON(t *testing.T) {
	for _, s := range decodeSeeds {
		checkDecodeAgrees(t, []byte(s))
	}
	e := &canonical.Event{Source: "crm", TxnID: "T-1", Type: canonical.Sale, EventTime: time.Date(2026, 11, 3, 10, 15, 0, 7, time.UTC),
		RepID: "R-\"1\"\n", Amount: canonical.Money{Value: decimal.RequireFromString("-0.10"), Currency: "EUR"},
		Quantity: decimal.NewNullDecimal(decimal.RequireFromString("1234567890123456789.5")), Attributes: map[string]string{"é": "ü\u2028"}}
	checkDecodeAgrees(t, e.AppendJSON(nil))
	if _, err := decodeFast(e.AppendJSON(nil)); err != nil {
		t.Errorf("the fast reader fell back on AppendJSON's output: %v", err)
	}
}

func checkDecodeAgrees(t *testing.T, b []byte) {
	t.Helper()
	var want canonical.Event
	werr := json.Unmarshal(b, &want)
	got, gerr := DecodeEvent(b)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%s: UnmarshalJSON error %v, DecodeEvent error %v", b, werr, gerr)
	}
	if werr != nil {
		var wf, gf *canonical.FieldError
		if errorsAs(werr, &wf) && (!errorsAs(gerr, &gf) || gf.Field != wf.Field) {
			t.Fatalf("%s: UnmarshalJSON refuses field %s, DecodeEvent %v", b, wf.Field, gerr)
		}
		return
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("%s:\n fast %+v\n json %+v", b, *got, want)
	}
}

func errorsAs(err error, target **canonical.FieldError) bool {
	for err != nil {
		if fe, ok := err.(*canonical.FieldError); ok {
			*target = fe
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkDecodeAgrees(t, b) })
}

func BenchmarkDecodeEvent(b *testing.B) {
	in := []byte(decodeSeeds[0])
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeEvent(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e canonical.Event
			if err := json.Unmarshal(in, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
