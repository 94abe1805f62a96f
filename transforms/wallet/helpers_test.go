package wallet

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/accrue/accrue/pipeline"
	"github.com/shopspring/decimal"
)

const (
	testRep    = "R-1"
	testNumber = "DE89370400440532013000"
)

var (
	t0      = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	testKey = bytes.Repeat([]byte{7}, 32)
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func testConfig() Config {
	return Config{
		Key: testKey, KeyID: "k1",
		Policies:     map[string]Policy{"quarterly": PolicyPeriodClose},
		TransferFees: map[string]Fee{"EUR": {Fixed: dec("1.00")}, "USD": {Fixed: dec("0.50"), Percent: dec("1")}},
		Catalogue: Items{
			"spa": {ID: "spa", Kind: ItemExperience, Name: "Thermal spa day", Category: CategoryWellness,
				Countries: []string{"DE", "AT"},
				Denominations: []Denomination{{Currency: "EUR", Face: dec("80"),
					Prices: map[string]decimal.Decimal{"EUR": dec("80.00"), "USD": dec("92.40")}}}},
			"books": {ID: "books", Kind: ItemGiftCard, Name: "Bookshop", Category: CategoryHobbies,
				Countries: []string{"DE"}, Withdrawn: true,
				Denominations: []Denomination{{Currency: "EUR", Face: dec("25"),
					Prices: map[string]decimal.Decimal{"EUR": dec("25.00")}}}},
		},
	}
}

func newWallet(t testing.TB, mod ...func(*Config)) *Wallet {
	t.Helper()
	cfg := testConfig()
	for _, m := range mod {
		m(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// run applies inputs in order, failing the test on an error, and returns
// the final state and every output.
func run(t testing.TB, w *Wallet, s *State, ins ...Input) (*State, []Output) {
	t.Helper()
	var outs []Output
	for _, in := range ins {
		n, out, err := w.Apply(s, in)
		if err != nil {
			t.Fatalf("apply %T %+v: %v", in, in, err)
		}
		checkBalanced(t, out)
		s = n
		outs = append(outs, out)
	}
	return s, outs
}

func checkBalanced(t testing.TB, out Output) {
	t.Helper()
	for _, tx := range out.Transactions {
		var d, c decimal.Decimal
		for _, l := range tx.Legs {
			d, c = d.Add(l.Debit), c.Add(l.Credit)
		}
		if !d.Equal(c) || !tx.Balanced() || len(tx.Legs) < 2 {
			t.Fatalf("transaction %s is not balanced: debits %s, credits %s, %d legs", tx.ID, d, c, len(tx.Legs))
		}
	}
}

func reasonOf(err error) string {
	var rj *pipeline.Reject
	if errors.As(err, &rj) {
		return rj.Reason
	}
	return ""
}

func payable(key, program, period, amount string) *Payable {
	return &Payable{IdempotencyKey: key, ProgramID: program, Period: period, RepID: testRep,
		Currency: "EUR", Amount: dec(amount), At: t0}
}

func register(regID, number string) *Register {
	return &Register{RegistrationID: regID, RepID: testRep, Holder: "Ada Rep", BankCode: "COBADEFFXXX",
		Country: "DE", Currency: "EUR", Number: number, At: t0}
}

// verified returns a state with a verified account and amount available.
func verified(t testing.TB, w *Wallet, amount string) *State {
	t.Helper()
	s, _ := run(t, w, nil, register("reg-1", testNumber),
		&BankResult{RegistrationID: "reg-1", RepID: testRep, Deposited: true, At: t0.Add(time.Hour)},
		&Confirm{ID: "c1", RegistrationID: "reg-1", RepID: testRep, Amount: w.Token("reg-1", "EUR"), At: t0.Add(2 * time.Hour)})
	if s.Account.Status != StatusVerified {
		t.Fatalf("account %s, want verified", s.Account.Status)
	}
	if amount != "0" {
		s, _ = run(t, w, s, payable("acc-0", "monthly", "2026-11", amount))
	}
	return s
}

func transfer(key, amount string) *Request {
	return &Request{Key: key, RepID: testRep, Type: RequestBankTransfer, Amount: dec(amount), Currency: "EUR", Country: "DE", At: t0.Add(3 * time.Hour)}
}
