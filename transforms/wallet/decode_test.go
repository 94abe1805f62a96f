package wallet

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/pipeline"
)

func TestDecodePayable(t *testing.T) {
	good := `{"idempotency_key":"erp:SO-1:sale/R-1#ae/2026-11/R-1","program_id":"ae","program_version":3,"period":"2026-11","rep_id":"R-1","currency":"EUR","amount":"25.00","event_id":"erp:SO-1:sale"}`
	p, err := DecodePayable([]byte(good), t0)
	if err != nil {
		t.Fatal(err)
	}
	if p.IdempotencyKey != "erp:SO-1:sale/R-1#ae/2026-11/R-1" || p.ProgramVersion != 3 || !p.Amount.Equal(dec("25")) || !p.At.Equal(t0) {
		t.Fatalf("decoded %+v", p)
	}
	for _, c := range []struct{ body, field string }{
		{`{"program_id":"ae","period":"2026-11","rep_id":"R-1","currency":"EUR","amount":"1"}`, "idempotency_key"},
		{`{"idempotency_key":"k","period":"2026-11","rep_id":"R-1","currency":"EUR","amount":"1"}`, "program_id"},
		{`{"idempotency_key":"k","program_id":"ae","period":"2026-11","rep_id":"R-1","currency":"EUR"}`, "amount"},
		{`{"idempotency_key":"k","program_id":"ae","period":"2026-11","rep_id":"R-1","currency":"EUR","amount":"x"}`, "amount"},
		{`{"idempotency_key":"k","program_id":"ae","period":"2026-11","rep_id":"R-1","currency":"EURO","amount":"1"}`, "currency"},
		{`{"idempotency_key":"k","program_id":"ae","period":"2026-11","rep_id":"R-1","currency":"EUR","amount":"1","program_version":"3"}`, "program_version"},
		{`not json`, ""},
	} {
		_, err := DecodePayable([]byte(c.body), t0)
		if reasonOf(err) != ReasonInvalidInput || fieldOf(err) != c.field {
			t.Errorf("%s: %v, want invalid_input on field %q", c.body, err, c.field)
		}
	}
}

func TestDecodeAccountAndResult(t *testing.T) {
	in, err := DecodeAccount([]byte(`{"type":"register","registration_id":"reg-1","rep_id":"R-1","holder":"Ada","bank_code":"B","country":"DE","currency":"EUR","number":"`+testNumber+`"}`), t0)
	if r, ok := in.(*Register); err != nil || !ok || r.Number != testNumber || !r.At.Equal(t0) {
		t.Fatalf("register: %+v %v", in, err)
	}
	in, err = DecodeAccount([]byte(`{"type":"confirm","id":"c1","registration_id":"reg-1","rep_id":"R-1","amount":"0.42"}`), t0)
	if c, ok := in.(*Confirm); err != nil || !ok || !c.Amount.Equal(dec("0.42")) {
		t.Fatalf("confirm: %+v %v", in, err)
	}
	for _, c := range []struct{ body, field string }{
		{`{"type":"confirm","registration_id":"reg-1","rep_id":"R-1","amount":"0.42"}`, "id"},
		{`{"type":"confirm","id":"c1","registration_id":"reg-1","rep_id":"R-1"}`, "amount"},
		{`{"type":"close","registration_id":"reg-1","rep_id":"R-1"}`, "type"},
		{`{"type":"register","rep_id":"R-1"}`, "registration_id"},
	} {
		if _, err := DecodeAccount([]byte(c.body), t0); fieldOf(err) != c.field {
			t.Errorf("%s: %v, want field %q", c.body, err, c.field)
		}
	}
	in, err = DecodeResult([]byte(`{"id":"b1","rep_id":"R-1","idempotency_key":"k","status":"paid"}`), t0)
	if r, ok := in.(*PayoutResult); err != nil || !ok || r.Status != ResultPaid || r.IdempotencyKey != "k" {
		t.Fatalf("payout result: %+v %v", in, err)
	}
	in, err = DecodeResult([]byte(`{"kind":"penny_drop","id":"p1","rep_id":"R-1","registration_id":"reg-1","status":"failed","reason":"closed"}`), t0)
	if r, ok := in.(*BankResult); err != nil || !ok || r.Deposited || r.Reason != "closed" {
		t.Fatalf("penny-drop result: %+v %v", in, err)
	}
	for _, c := range []struct{ body, field string }{
		{`{"id":"b1","rep_id":"R-1","status":"paid"}`, "idempotency_key"},
		{`{"kind":"penny_drop","id":"p1","rep_id":"R-1","registration_id":"reg-1","status":"paid"}`, "status"},
		{`{"kind":"refund","id":"p1","rep_id":"R-1"}`, "kind"},
		{`{"rep_id":"R-1","idempotency_key":"k","status":"paid"}`, "id"},
	} {
		if _, err := DecodeResult([]byte(c.body), t0); fieldOf(err) != c.field {
			t.Errorf("%s: %v, want field %q", c.body, err, c.field)
		}
	}
}

func TestDecodeErrorsNeverQuoteTheNumber(t *testing.T) {
	for _, body := range []string{
		`{"type":"register","registration_id":"reg-1","rep_id":"R-1","number":` + testNumber + `}`,
		`{"type":"register","registration_id":"reg-1","rep_id":"R-1","number":"` + testNumber + `","amount":"` + testNumber + `x"}`,
		`{"type":"register","registration_id":"reg-1","rep_id":"R-1","number":["` + testNumber + `"]}`,
		`{"type":"register","registration_id":"reg 1","rep_id":"R-1","number":"` + testNumber + `"}`,
		testNumber,
	} {
		_, err := DecodeAccount([]byte(body), t0)
		if err == nil {
			t.Fatalf("%s: accepted", body)
		}
		if strings.Contains(err.Error(), testNumber) || strings.Contains(err.Error(), testNumber[4:]) {
			t.Errorf("the error quotes the number: %v", err)
		}
	}
}

func TestRedactAccount(t *testing.T) {
	for _, body := range []string{
		`{"type":"register","registration_id":"reg-1","rep_id":"R-1","number":"` + testNumber + `"}`,
		`{"type":"register","number":"DE89 3704 0044 0532 0130 00"}`,
		`not json ` + testNumber,
		`{"number":12345678901234}`,
	} {
		got := RedactAccount([]byte(body))
		if bytes.Contains(got, []byte("0532013000")) || bytes.Contains(got, []byte("12345678901234")) || bytes.Contains(got, []byte("0130 00")) {
			t.Errorf("%s: redacted to %s", body, got)
		}
	}
	got := RedactAccount([]byte(`{"type":"register","registration_id":"reg-1","number":"` + testNumber + `"}`))
	if !bytes.Contains(got, []byte(`"number":"****3000"`)) || !bytes.Contains(got, []byte(`"registration_id":"reg-1"`)) {
		t.Errorf("redacted to %s, want the mask and the other fields", got)
	}
}

func TestDecodeItem(t *testing.T) {
	it, err := DecodeItem([]byte(`{"id":"spa","kind":"experience","name":"Thermal spa day","category":"wellness","countries":["DE"],
		"denominations":[{"currency":"EUR","face":"80","prices":{"EUR":"80.00","USD":"92.40"}}]}`))
	if err != nil || it.ID != "spa" || !it.Denominations[0].Prices["USD"].Equal(dec("92.4")) {
		t.Fatalf("%+v %v", it, err)
	}
	if _, err := DecodeItem([]byte(`{"id":"spa","kind":"voucher","name":"x","category":"wellness","countries":["DE"]}`)); err == nil {
		t.Fatal("an item of unknown kind was accepted")
	}
}

func fieldOf(err error) string {
	var rj *pipeline.Reject
	if errors.As(err, &rj) {
		return rj.Field
	}
	return "<not a reject>"
}

// FuzzDecoders checks that no input record panics a decoder, and that a
// record accepted as a request passes its own validation.
func FuzzDecoders(f *testing.F) {
	for _, s := range []string{
		`{"idempotency_key":"k","rep_id":"R-1","type":"bank_transfer","amount":"1.00","currency":"EUR"}`,
		`{"idempotency_key":"k","rep_id":"R-1","type":"catalogue","item_id":"spa","face":"80","face_currency":"EUR","currency":"EUR"}`,
		`{"type":"register","registration_id":"reg-1","rep_id":"R-1","number":"DE89"}`,
		`{"kind":"penny_drop","id":"p","rep_id":"R","registration_id":"r","status":"deposited"}`,
		`{"idempotency_key":"k","program_id":"p","period":"2026-11","rep_id":"R","currency":"JPY","amount":5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		at := time.Unix(0, 0)
		if r, err := DecodeRequest(b); err == nil {
			if err := r.Validate(); err != nil {
				t.Fatalf("decoded request fails validation: %v", err)
			}
		}
		_, _ = DecodePayable(b, at)
		_, _ = DecodeAccount(b, at)
		_, _ = DecodeResult(b, at)
		_, _ = DecodeItem(b)
		_ = RedactAccount(b)
	})
}

// BenchmarkDecodeAndApplyRequest is the stage's path for a request:
// decode the record, apply it to a wallet with a verified account.
func BenchmarkDecodeAndApplyRequest(b *testing.B) {
	w := newWallet(b)
	s := verified(b, w, "1000000.00")
	rec := []byte(`{"idempotency_key":"click-1","rep_id":"R-1","type":"bank_transfer","amount":"10.00","currency":"EUR"}`)
	b.ReportAllocs()
	for b.Loop() {
		r, err := DecodeRequest(rec)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := w.Apply(s, r.Input(t0, "DE")); err != nil {
			b.Fatal(err)
		}
	}
}
