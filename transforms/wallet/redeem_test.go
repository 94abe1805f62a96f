package wallet

import (
	"fmt"
	"testing"
	"time"
)

func TestFee(t *testing.T) {
	for _, c := range []struct {
		fee    Fee
		amount string
		cur    string
		want   string
	}{
		{Fee{Fixed: dec("1.00")}, "50.00", "EUR", "1.00"},
		{Fee{Percent: dec("0.5")}, "1.00", "EUR", "0.00"}, // 0.005: half to even, down
		{Fee{Percent: dec("0.5")}, "3.00", "EUR", "0.02"}, // 0.015: half to even, up
		{Fee{Fixed: dec("0.50"), Percent: dec("1")}, "33.33", "USD", "0.83"},
		{Fee{Percent: dec("1.5")}, "100", "JPY", "2"},    // 1.5
		{Fee{Percent: dec("2.5")}, "100", "JPY", "2"},    // 2.5
		{Fee{Percent: dec("0.25")}, "2", "KWD", "0.005"}, // three decimals
		{Fee{}, "10.00", "EUR", "0"},
	} {
		if got := c.fee.Of(dec(c.amount), c.cur); !got.Equal(dec(c.want)) {
			t.Errorf("%+v of %s %s = %s, want %s", c.fee, c.amount, c.cur, got, c.want)
		}
	}
}

func TestBankTransferAccepted(t *testing.T) {
	w := newWallet(t)
	s := verified(t, w, "100.00")
	s, outs := run(t, w, s, transfer("k1", "50.00"))
	out := outs[0]
	if len(out.Outcomes) != 1 || out.Outcomes[0].Status != OutcomeAccepted || !out.Outcomes[0].Fee.Equal(dec("1")) ||
		!out.Outcomes[0].Available.Equal(dec("49")) {
		t.Fatalf("outcomes %+v", out.Outcomes)
	}
	if len(out.Instructions) != 1 {
		t.Fatalf("instructions %+v", out.Instructions)
	}
	in := out.Instructions[0]
	if in.IdempotencyKey != "k1" || !in.Amount.Equal(dec("50")) || !in.Fee.Equal(dec("1")) || in.RegistrationID != "reg-1" ||
		in.AccountMask != "****3000" || len(in.SealedAccount) == 0 || in.KeyID != "k1" {
		t.Fatalf("instruction %+v", in)
	}
	if n, err := w.Open(testRep, in.RegistrationID, in.KeyID, in.SealedAccount); err != nil || n != testNumber {
		t.Fatalf("the instruction's account opens to %q, %v", n, err)
	}
	if b := s.Balances(); !b.Available.Equal(dec("49")) || !b.Reserved.Equal(dec("51")) {
		t.Fatalf("balances %+v", b)
	}
	if tx := out.Transactions; len(tx) != 1 || tx[0].ID != "reserve:R-1:k1" {
		t.Fatalf("transactions %+v", tx)
	}
}

func TestSameKeyPaysOnce(t *testing.T) {
	w := newWallet(t)
	s := verified(t, w, "100.00")
	s, outs := run(t, w, s, transfer("k1", "50.00"))
	again, out, err := w.Apply(s, transfer("k1", "50.00"))
	if err != nil || again != s || len(out.Instructions) != 0 || len(out.Transactions) != 0 {
		t.Fatalf("second request: %v, changed %v, %+v", err, again != s, out)
	}
	first, second := outs[0].Outcomes[0], out.Outcomes[0]
	if second.Status != first.Status || !second.Amount.Equal(first.Amount) || !second.Fee.Equal(first.Fee) || !second.Replayed {
		t.Fatalf("second outcome %+v, first %+v", second, first)
	}
	// Another request under the same key is refused; the first stands.
	_, out, _ = w.Apply(s, transfer("k1", "20.00"))
	if o := out.Outcomes[0]; o.Status != OutcomeRefused || o.Reason != ReasonIdempotencyConflict || len(out.Instructions) != 0 {
		t.Fatalf("conflicting request: %+v", out)
	}
	if s.Requests["k1"].Status != OutcomeAccepted || !s.Balances().Reserved.Equal(dec("51")) {
		t.Fatal("the conflicting request changed the first")
	}
	// A refused request stays refused under its key, even once the money
	// is there.
	s, outs = run(t, w, s, transfer("k2", "80.00"))
	if o := outs[0].Outcomes[0]; o.Reason != ReasonInsufficientBalance {
		t.Fatalf("k2: %+v", o)
	}
	s, _ = run(t, w, s, payable("acc-1", "monthly", "2026-11", "100.00"))
	_, outs = run(t, w, s, transfer("k2", "80.00"))
	if o := outs[0].Outcomes[0]; o.Status != OutcomeRefused || o.Reason != ReasonInsufficientBalance || !o.Replayed || len(outs[0].Instructions) != 0 {
		t.Fatalf("k2 again: %+v", outs[0])
	}
}

func TestManyRequestsNeverOverdraw(t *testing.T) {
	w := newWallet(t)
	s := verified(t, w, "100.00")
	accepted := 0
	for i := range 40 {
		var out []Output
		s, out = run(t, w, s, transfer(fmt.Sprintf("k%d", i), "7.00"))
		if out[0].Outcomes[0].Status == OutcomeAccepted {
			accepted++
		}
	}
	// 8.00 each with the fee: twelve fit in 100.00.
	if b := s.Balances(); accepted != 12 || !b.Available.Equal(dec("4")) || !b.Reserved.Equal(dec("96")) {
		t.Fatalf("%d accepted, balances %+v", accepted, b)
	}
}

func TestTransferAll(t *testing.T) {
	for _, c := range []struct {
		cur, avail, fixed, percent string
		amount, fee                string
	}{
		{"EUR", "100.00", "1.00", "0", "99.00", "1.00"},
		{"USD", "100.00", "0.50", "1", "98.51", "1.49"},
		{"USD", "0.50", "0.50", "1", "0", "0"},
		{"JPY", "10000", "0", "1.5", "9852", "148"},
	} {
		t.Run(c.cur+" "+c.avail, func(t *testing.T) {
			w := newWallet(t, func(cfg *Config) {
				cfg.TransferFees = map[string]Fee{c.cur: {Fixed: dec(c.fixed), Percent: dec(c.percent)}}
			})
			reg := register("reg-1", testNumber)
			reg.Currency = c.cur
			p := payable("a", "monthly", "2026-11", c.avail)
			p.Currency = c.cur
			s, _ := run(t, w, nil, reg, p,
				&BankResult{RegistrationID: "reg-1", RepID: testRep, Deposited: true, At: t0},
				&Confirm{ID: "c", RegistrationID: "reg-1", RepID: testRep, Amount: w.Token("reg-1", c.cur), At: t0})
			r := transfer("all", "0")
			r.All, r.Currency = true, c.cur
			_, outs := run(t, w, s, r)
			o := outs[0].Outcomes[0]
			if c.amount == "0" {
				if o.Reason != ReasonInsufficientBalance {
					t.Fatalf("outcome %+v", o)
				}
				return
			}
			if o.Status != OutcomeAccepted || !o.Amount.Equal(dec(c.amount)) || !o.Fee.Equal(dec(c.fee)) || !o.Available.IsZero() {
				t.Fatalf("outcome %+v, want %s + %s", o, c.amount, c.fee)
			}
		})
	}
}

func TestRequestRefusals(t *testing.T) {
	w := newWallet(t)
	rich := verified(t, w, "500.00")
	pending, _ := run(t, w, nil, register("reg-1", testNumber), payable("a", "monthly", "2026-11", "500.00"))
	noAccount, _ := run(t, w, nil, payable("a", "monthly", "2026-11", "500.00"))
	item := func(id, country, face, faceCur string) *Request {
		return &Request{Key: "k", RepID: testRep, Type: RequestCatalogue, ItemID: id, Face: dec(face), FaceCurrency: faceCur,
			Currency: "EUR", Country: country, At: t0}
	}
	usd := transfer("k", "10.00")
	usd.Currency = "USD"
	for _, c := range []struct {
		name   string
		s      *State
		r      *Request
		reason string
	}{
		{"more than available", rich, transfer("k", "499.01"), ReasonInsufficientBalance},
		{"available but not with the fee", rich, transfer("k", "500.00"), ReasonInsufficientBalance},
		{"account pending", pending, transfer("k", "10.00"), ReasonAccountNotVerified},
		{"no account", noAccount, transfer("k", "10.00"), ReasonAccountNotVerified},
		{"zero", rich, transfer("k", "0"), ReasonInvalidAmount},
		{"negative", rich, transfer("k", "-5.00"), ReasonInvalidAmount},
		{"finer than a cent", rich, transfer("k", "10.001"), ReasonInvalidAmount},
		{"other currency", rich, usd, ReasonCurrencyMismatch},
		{"item not in the rep's country", rich, item("spa", "FR", "80", "EUR"), ReasonItemUnavailable},
		{"withdrawn item", rich, item("books", "DE", "25", "EUR"), ReasonItemUnavailable},
		{"unknown item", rich, item("yacht", "DE", "80", "EUR"), ReasonItemUnavailable},
		{"no such denomination", rich, item("spa", "DE", "50", "EUR"), ReasonDenominationUnavailable},
		{"item too dear", verified(t, w, "79.99"), item("spa", "AT", "80", "EUR"), ReasonInsufficientBalance},
		{"empty wallet", nil, transfer("k", "1.00"), ReasonInsufficientBalance},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, out, err := w.Apply(c.s, c.r)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Outcomes) != 1 || out.Outcomes[0].Status != OutcomeRefused || out.Outcomes[0].Reason != c.reason ||
				len(out.Instructions) != 0 || len(out.Transactions) != 0 {
				t.Fatalf("%+v, want refused %s", out, c.reason)
			}
			var before Balances
			if c.s != nil {
				before = c.s.Balances()
			}
			if after := n.Balances(); !after.Available.Equal(before.Available) || !after.Reserved.Equal(before.Reserved) {
				t.Fatalf("a refusal moved money: %+v, before %+v", after, before)
			}
			if n.Requests["k"] == nil || n.Requests["k"].Reason != c.reason {
				t.Fatal("the refusal is not remembered under its key")
			}
		})
	}
}

func TestCatalogueRedemption(t *testing.T) {
	w := newWallet(t, func(c *Config) { c.CatalogueFees = map[string]Fee{"EUR": {Percent: dec("2")}} })
	s, _ := run(t, w, nil, payable("a", "monthly", "2026-11", "100.00")) // no bank account needed
	s, outs := run(t, w, s, &Request{Key: "spa-1", RepID: testRep, Type: RequestCatalogue, ItemID: "spa",
		Face: dec("80.00"), FaceCurrency: "EUR", Currency: "EUR", Country: "AT", At: t0})
	out := outs[0]
	if o := out.Outcomes[0]; o.Status != OutcomeAccepted || !o.Amount.Equal(dec("80")) || !o.Fee.Equal(dec("1.60")) {
		t.Fatalf("outcome %+v", o)
	}
	if in := out.Instructions[0]; in.ItemID != "spa" || in.ItemName != "Thermal spa day" || !in.Face.Equal(dec("80")) ||
		in.SealedAccount != nil || in.RegistrationID != "" {
		t.Fatalf("instruction %+v", in)
	}
	if b := s.Balances(); !b.Available.Equal(dec("18.40")) || !b.Reserved.Equal(dec("81.60")) {
		t.Fatalf("balances %+v", b)
	}
}

func TestPayoutResults(t *testing.T) {
	w := newWallet(t)
	accepted := func() *State {
		s := verified(t, w, "100.00")
		s, _ = run(t, w, s, transfer("k1", "50.00"))
		return s
	}
	result := func(id, status string) *PayoutResult {
		return &PayoutResult{ID: id, RepID: testRep, IdempotencyKey: "k1", Status: status, At: t0.Add(24 * time.Hour)}
	}
	type bal struct{ avail, reserved, paid, fees string }
	for _, c := range []struct {
		name    string
		results []*PayoutResult
		status  string
		want    bal
		reason  string // of the last result, if refused
		posts   int    // transactions of the last result
	}{
		{"paid", []*PayoutResult{result("r1", ResultPaid)}, OutcomePaid, bal{"49", "0", "50", "1"}, "", 1},
		{"failed", []*PayoutResult{result("r1", ResultFailed)}, OutcomeReleased, bal{"100", "0", "0", "0"}, "", 1},
		{"paid, then returned", []*PayoutResult{result("r1", ResultPaid), result("r2", ResultReturned)}, OutcomeReturned, bal{"100", "0", "0", "0"}, "", 1},
		{"the same result twice", []*PayoutResult{result("r1", ResultPaid), result("r1", ResultPaid)}, OutcomePaid, bal{"49", "0", "50", "1"}, "", 0},
		{"paid under two result ids", []*PayoutResult{result("r1", ResultPaid), result("r2", ResultPaid)}, OutcomePaid, bal{"49", "0", "50", "1"}, "", 0},
		{"paid after failed", []*PayoutResult{result("r1", ResultFailed), result("r2", ResultPaid)}, OutcomeReleased, bal{"100", "0", "0", "0"}, ReasonPayoutConflict, 0},
		{"returned before paid", []*PayoutResult{result("r1", ResultReturned)}, OutcomeAccepted, bal{"49", "51", "0", "0"}, ReasonPayoutConflict, 0},
		{"unknown status", []*PayoutResult{result("r1", "lost")}, OutcomeAccepted, bal{"49", "51", "0", "0"}, ReasonInvalidInput, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := accepted()
			var out Output
			var err error
			for _, r := range c.results {
				var n *State
				n, out, err = w.Apply(s, r)
				checkBalanced(t, out)
				s = n
			}
			if reasonOf(err) != c.reason || (c.reason == "" && err != nil) {
				t.Fatalf("last result: %v, want %q", err, c.reason)
			}
			b := s.Balances()
			if s.Requests["k1"].Status != c.status || !b.Available.Equal(dec(c.want.avail)) || !b.Reserved.Equal(dec(c.want.reserved)) ||
				!b.Paid.Equal(dec(c.want.paid)) || !b.Fees.Equal(dec(c.want.fees)) || len(out.Transactions) != c.posts {
				t.Fatalf("status %s, balances %+v, %d postings; want %s, %+v, %d", s.Requests["k1"].Status, b, len(out.Transactions), c.status, c.want, c.posts)
			}
		})
	}
	s := verified(t, w, "100.00")
	if _, _, err := w.Apply(s, result("r1", ResultPaid)); reasonOf(err) != ReasonUnknownPayout {
		t.Fatalf("result for no request: %v", err)
	}
}

func TestReleaseRepaysReceivable(t *testing.T) {
	w := newWallet(t)
	s := verified(t, w, "100.00")
	s, _ = run(t, w, s, transfer("k1", "99.00"), payable("claw", "monthly", "2026-11", "-30.00"))
	if b := s.Balances(); !b.Available.IsZero() || !b.Receivable.Equal(dec("30")) {
		t.Fatalf("after clawback %+v", b)
	}
	s, _ = run(t, w, s, &PayoutResult{ID: "r1", RepID: testRep, IdempotencyKey: "k1", Status: ResultFailed, At: t0})
	if b := s.Balances(); !b.Available.Equal(dec("70")) || !b.Receivable.IsZero() {
		t.Fatalf("after release %+v", b)
	}
}
