package wallet

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestAccrualIsPayableAtOnce(t *testing.T) {
	w := newWallet(t)
	s, outs := run(t, w, nil, payable("a1", "monthly", "2026-11", "150.00"))
	tx := outs[0].Transactions
	if len(tx) != 1 || tx[0].ID != "accrual:R-1:a1" || tx[0].Kind != KindAccrual {
		t.Fatalf("transactions %+v", tx)
	}
	want := []Leg{{Account: AccountExpense, Debit: dec("150")}, {Account: AccountPayable, Credit: dec("150")}}
	if !legsEqual(tx[0].Legs, want) {
		t.Fatalf("legs %+v, want %+v", tx[0].Legs, want)
	}
	if b := s.Balances(); !b.Available.Equal(dec("150")) || !b.Expense.Equal(dec("150")) || s.Currency != "EUR" {
		t.Fatalf("balances %+v, currency %s", b, s.Currency)
	}
}

func legsEqual(a, b []Leg) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Account != b[i].Account || !a[i].Debit.Equal(b[i].Debit) || !a[i].Credit.Equal(b[i].Credit) {
			return false
		}
	}
	return true
}

func TestPeriodClosePolicy(t *testing.T) {
	w := newWallet(t)
	s, _ := run(t, w, nil,
		payable("q1", "quarterly", "2026-Q4", "100.00"),
		payable("q2", "quarterly", "2026-Q4", "-30.00"),
		payable("m1", "monthly", "2026-11", "5.00"))
	if b := s.Balances(); !b.Earned.Equal(dec("70")) || !b.Available.Equal(dec("5")) {
		t.Fatalf("before close: %+v", b)
	}
	if got := s.Ledger[EarnedAccount("quarterly", "2026-Q4")]; !got.Equal(dec("70")) {
		t.Fatalf("earned account %s", got)
	}
	s, outs := run(t, w, s, &PeriodClose{RepID: testRep, ProgramID: "quarterly", Period: "2026-Q4", At: t0})
	if b := s.Balances(); !b.Earned.IsZero() || !b.Available.Equal(dec("75")) {
		t.Fatalf("after close: %+v", b)
	}
	if tx := outs[0].Transactions; len(tx) != 1 || tx[0].ID != "close:R-1:quarterly/2026-Q4" {
		t.Fatalf("close transactions %+v", tx)
	}
	// A late adjustment of the closed period is payable at once; the
	// next period still waits.
	s, _ = run(t, w, s, payable("q3", "quarterly", "2026-Q4", "10.00"), payable("q4", "quarterly", "2027-Q1", "40.00"))
	if b := s.Balances(); !b.Available.Equal(dec("85")) || !b.Earned.Equal(dec("40")) {
		t.Fatalf("after late adjustment: %+v", b)
	}
	// Closing again changes nothing.
	again, out, err := w.Apply(s, &PeriodClose{RepID: testRep, ProgramID: "quarterly", Period: "2026-Q4", At: t0})
	if err != nil || again != s || !out.Empty() {
		t.Fatalf("second close: %v, changed %v, %+v", err, again != s, out)
	}
}

func TestClawbackRecoveredFromLaterEarnings(t *testing.T) {
	w := newWallet(t)
	s, outs := run(t, w, nil, payable("a1", "monthly", "2026-11", "100.00"), payable("a2", "monthly", "2026-11", "-130.00"))
	if b := s.Balances(); !b.Available.IsZero() || !b.Receivable.Equal(dec("30")) {
		t.Fatalf("after clawback: %+v", b)
	}
	want := []Leg{{Account: AccountExpense, Credit: dec("130")}, {Account: AccountPayable, Debit: dec("100")}, {Account: AccountReceivable, Debit: dec("30")}}
	if got := outs[1].Transactions[0].Legs; !legsEqual(got, want) {
		t.Fatalf("clawback legs %+v, want %+v", got, want)
	}
	s, outs = run(t, w, s, payable("a3", "monthly", "2026-12", "50.00"))
	if b := s.Balances(); !b.Available.Equal(dec("20")) || !b.Receivable.IsZero() {
		t.Fatalf("after recovery: %+v", b)
	}
	want = []Leg{{Account: AccountExpense, Debit: dec("50")}, {Account: AccountReceivable, Credit: dec("30")}, {Account: AccountPayable, Credit: dec("20")}}
	if got := outs[0].Transactions[0].Legs; !legsEqual(got, want) {
		t.Fatalf("recovery legs %+v, want %+v", got, want)
	}
	if _, ok := s.Ledger[AccountReceivable]; ok {
		t.Fatal("a zero balance stays in the ledger")
	}
}

func TestPayableRejects(t *testing.T) {
	w := newWallet(t)
	s, _ := run(t, w, nil, payable("a1", "monthly", "2026-11", "1.00"))
	usd := payable("a2", "monthly", "2026-11", "1.00")
	usd.Currency = "USD"
	for _, c := range []struct {
		in     Input
		reason string
	}{
		{usd, ReasonCurrencyMismatch},
		{payable("a3", "monthly", "2026-11", "1.001"), ReasonInvalidInput},
		{payable("", "monthly", "2026-11", "1.00"), ReasonInvalidInput},
		{&Payable{IdempotencyKey: "x", ProgramID: "p", Period: "2026-11", RepID: "R-2", Currency: "EUR"}, ReasonWrongRep},
	} {
		n, out, err := w.Apply(s, c.in)
		if reasonOf(err) != c.reason || n != s || !out.Empty() {
			t.Errorf("%+v: %v (state changed %v), want %s", c.in, err, n != s, c.reason)
		}
	}
}

// TestLedgerProperties applies random sequences of every input, replaying
// some, and checks after each step: every transaction balanced, the ledger
// summing to zero, no negative payable, reserved or receivable, the
// reserved, paid and fee balances equal to what the requests say, the
// expense equal to the distinct accruals, a replay changing nothing, and
// the state surviving the codec.
func TestLedgerProperties(t *testing.T) {
	seeds := 150
	if testing.Short() {
		seeds = 30
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { ledgerProperties(t, uint64(seed)) })
	}
}

func ledgerProperties(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	w := newWallet(t)
	s := verified(t, w, "0")
	var history []Input
	accrued := map[string]decimal.Decimal{}
	programs := []string{"monthly", "quarterly"}
	periods := []string{"2026-Q4", "2027-Q1"}
	amount := func(max int) string { return fmt.Sprintf("%d.%02d", rng.IntN(max), rng.IntN(100)) }
	for step := range 200 {
		at := t0.Add(time.Duration(step) * time.Minute)
		var in Input
		switch k := rng.IntN(10); {
		case k < 4:
			a := amount(200)
			if rng.IntN(3) == 0 {
				a = "-" + a
			}
			p := payable(fmt.Sprintf("acc-%d", step), programs[rng.IntN(2)], periods[rng.IntN(2)], a)
			p.At = at
			in = p
		case k == 4:
			in = &PeriodClose{RepID: testRep, ProgramID: programs[rng.IntN(2)], Period: periods[rng.IntN(2)], At: at}
		case k < 7:
			r := transfer(fmt.Sprintf("req-%d", step), amount(150))
			r.All = rng.IntN(4) == 0
			if rng.IntN(4) == 0 {
				r.Type, r.Amount, r.ItemID, r.Face, r.FaceCurrency = RequestCatalogue, decimal.Zero, "spa", dec("80"), "EUR"
			}
			r.At = at
			in = r
		case k < 9:
			var keys []string
			for k, r := range s.Requests {
				if r.Status != OutcomeRefused {
					keys = append(keys, k)
				}
			}
			if len(keys) == 0 {
				continue
			}
			sortStrings(keys)
			status := []string{ResultPaid, ResultFailed, ResultReturned}[rng.IntN(3)]
			in = &PayoutResult{ID: fmt.Sprintf("res-%d", step), RepID: testRep, IdempotencyKey: keys[rng.IntN(len(keys))], Status: status, At: at}
		default:
			if len(history) == 0 {
				continue
			}
			in = history[rng.IntN(len(history))]
		}
		n, out, err := w.Apply(s, in)
		if err != nil {
			if reasonOf(err) != ReasonPayoutConflict {
				t.Fatalf("step %d: %T: %v", step, in, err)
			}
			if n != s || !out.Empty() {
				t.Fatalf("step %d: a refused input changed the wallet", step)
			}
			continue
		}
		checkBalanced(t, out)
		if p, ok := in.(*Payable); ok {
			accrued[p.IdempotencyKey] = p.Amount
		}
		history = append(history, in)
		// Replaying the input changes nothing and posts nothing.
		again, out2, err := w.Apply(n, in)
		if err != nil || len(out2.Transactions) != 0 || len(out2.Instructions) != 0 ||
			!bytes.Equal(Codec{}.Encode(nil, again), Codec{}.Encode(nil, n)) {
			t.Fatalf("step %d: replay of %T: %v, %+v", step, in, err, out2)
		}
		s = n
		checkInvariants(t, step, s, accrued)
	}
}

func checkInvariants(t *testing.T, step int, s *State, accrued map[string]decimal.Decimal) {
	t.Helper()
	var sum decimal.Decimal
	for _, v := range s.Ledger {
		sum = sum.Add(v)
	}
	if !sum.IsZero() {
		t.Fatalf("step %d: ledger sums to %s", step, sum)
	}
	b := s.Balances()
	if b.Available.Sign() < 0 || b.Reserved.Sign() < 0 || b.Receivable.Sign() < 0 || b.Paid.Sign() < 0 {
		t.Fatalf("step %d: negative balance %+v", step, b)
	}
	if b.Available.Sign() > 0 && b.Receivable.Sign() > 0 {
		t.Fatalf("step %d: owed %s while %s is available", step, b.Receivable, b.Available)
	}
	var reserved, paid, fees, expense decimal.Decimal
	for _, r := range s.Requests {
		switch r.Status {
		case OutcomeAccepted:
			reserved = reserved.Add(r.Amount).Add(r.Fee)
		case OutcomePaid:
			paid, fees = paid.Add(r.Amount), fees.Add(r.Fee)
		}
	}
	for _, a := range accrued {
		expense = expense.Add(a)
	}
	if !reserved.Equal(b.Reserved) || !paid.Equal(b.Paid) || !fees.Equal(b.Fees) || !expense.Equal(b.Expense) {
		t.Fatalf("step %d: balances %+v; requests say reserved %s, paid %s, fees %s; accruals %s", step, b, reserved, paid, fees, expense)
	}
	enc := Codec{}.Encode(nil, s)
	back, err := Codec{}.Decode(enc)
	if err != nil || !bytes.Equal(Codec{}.Encode(nil, back), enc) {
		t.Fatalf("step %d: codec: %v", step, err)
	}
}

func sortStrings(ss []string) {
	for i := 1; i < len(ss); i++ {
		for j := i; j > 0 && ss[j] < ss[j-1]; j-- {
			ss[j], ss[j-1] = ss[j-1], ss[j]
		}
	}
}
