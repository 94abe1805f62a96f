package wallet

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestPennyDropTransitions(t *testing.T) {
	w := newWallet(t)
	token := w.Token("reg-1", "EUR")
	wrong := token.Add(dec("0.01"))
	if wrong.GreaterThan(dec("0.99")) {
		wrong = dec("0.01")
	}
	bank := func(ok bool, after time.Duration) Input {
		reason := ""
		if !ok {
			reason = "account_closed"
		}
		return &BankResult{RegistrationID: "reg-1", RepID: testRep, Deposited: ok, Reason: reason, At: t0.Add(after)}
	}
	rep := func(id string, amount decimal.Decimal, after time.Duration) Input {
		return &Confirm{ID: id, RegistrationID: "reg-1", RepID: testRep, Amount: amount, At: t0.Add(after)}
	}
	newNumber := register("reg-2", "DE02120300000000202051")
	newNumber.At = t0.Add(5 * time.Hour)
	sameAgain := register("reg-2", testNumber)
	sameAgain.At = t0.Add(80 * time.Hour)
	for _, c := range []struct {
		name   string
		steps  []Input
		status string
		// what the last step emitted
		events, drops int
		attemptsLeft  int
		reg           string
	}{
		{name: "registered", status: StatusPending, events: 1, drops: 1, attemptsLeft: 3, reg: "reg-1"},
		{name: "bank then rep", steps: []Input{bank(true, time.Hour), rep("c1", token, 2*time.Hour)}, status: StatusVerified, events: 1, attemptsLeft: 3, reg: "reg-1"},
		{name: "rep then bank", steps: []Input{rep("c1", token, time.Hour), bank(true, 2*time.Hour)}, status: StatusVerified, events: 1, attemptsLeft: 3, reg: "reg-1"},
		{name: "bank only", steps: []Input{bank(true, time.Hour)}, status: StatusPending, events: 1, attemptsLeft: 3, reg: "reg-1"},
		{name: "rep only", steps: []Input{rep("c1", token, time.Hour)}, status: StatusPending, events: 1, attemptsLeft: 3, reg: "reg-1"},
		{name: "rep confirms the amount written otherwise", steps: []Input{bank(true, time.Hour), rep("c1", token.Add(dec("0.000")).Truncate(4), 2*time.Hour)}, status: StatusVerified, events: 1, attemptsLeft: 3, reg: "reg-1"},
		{name: "wrong amount", steps: []Input{bank(true, time.Hour), rep("c1", wrong, 2*time.Hour)}, status: StatusWrongAmount, events: 1, attemptsLeft: 2, reg: "reg-1"},
		{name: "wrong amount, then right", steps: []Input{rep("c1", wrong, time.Hour), rep("c2", token, 2*time.Hour), bank(true, 3*time.Hour)}, status: StatusVerified, events: 1, attemptsLeft: 2, reg: "reg-1"},
		{name: "the same wrong confirmation twice counts once", steps: []Input{rep("c1", wrong, time.Hour), rep("c1", wrong, 2*time.Hour)}, status: StatusWrongAmount, events: 0, attemptsLeft: 2, reg: "reg-1"},
		{name: "wrong amount three times locks", steps: []Input{rep("c1", wrong, time.Hour), rep("c2", wrong, 2*time.Hour), rep("c3", wrong, 3*time.Hour)}, status: StatusLocked, events: 1, attemptsLeft: 0, reg: "reg-1"},
		{name: "locked stays locked with the right amount", steps: []Input{rep("c1", wrong, time.Hour), rep("c2", wrong, 2*time.Hour), rep("c3", wrong, 3*time.Hour), bank(true, 4*time.Hour), rep("c4", token, 5*time.Hour)}, status: StatusLocked, events: 1, attemptsLeft: 0, reg: "reg-1"},
		{name: "bank failure", steps: []Input{bank(false, time.Hour)}, status: StatusFailed, events: 1, attemptsLeft: 3, reg: "reg-1"},
		{name: "bank failure after the rep confirmed", steps: []Input{rep("c1", token, time.Hour), bank(false, 2*time.Hour)}, status: StatusFailed, events: 1, attemptsLeft: 3, reg: "reg-1"},
		{name: "right amount after a bank failure", steps: []Input{bank(false, time.Hour), rep("c1", token, 2*time.Hour)}, status: StatusFailed, events: 1, attemptsLeft: 3, reg: "reg-1"},
		{name: "expired by the clock", steps: []Input{bank(true, time.Hour), &Tick{RepID: testRep, At: t0.Add(72 * time.Hour)}}, status: StatusExpired, events: 1, attemptsLeft: 3, reg: "reg-1"},
		{name: "not expired a moment before", steps: []Input{&Tick{RepID: testRep, At: t0.Add(72*time.Hour - time.Second)}}, status: StatusPending, events: 0, attemptsLeft: 3, reg: "reg-1"},
		{name: "a late confirmation expires it", steps: []Input{bank(true, time.Hour), rep("c1", token, 73*time.Hour)}, status: StatusExpired, events: 1, attemptsLeft: 3, reg: "reg-1"},
		{name: "a late bank result expires it", steps: []Input{rep("c1", token, time.Hour), bank(true, 73*time.Hour)}, status: StatusExpired, events: 1, attemptsLeft: 3, reg: "reg-1"},
		{name: "verified does not expire", steps: []Input{bank(true, time.Hour), rep("c1", token, 2*time.Hour), &Tick{RepID: testRep, At: t0.Add(1000 * time.Hour)}}, status: StatusVerified, events: 0, attemptsLeft: 3, reg: "reg-1"},
		{name: "a changed number resets a verified account", steps: []Input{bank(true, time.Hour), rep("c1", token, 2*time.Hour), newNumber}, status: StatusPending, events: 1, drops: 1, attemptsLeft: 3, reg: "reg-2"},
		{name: "a changed number unlocks", steps: []Input{rep("c1", wrong, time.Hour), rep("c2", wrong, 2*time.Hour), rep("c3", wrong, 3*time.Hour), newNumber}, status: StatusPending, events: 1, drops: 1, attemptsLeft: 3, reg: "reg-2"},
		{name: "the same account again keeps it verified", steps: []Input{bank(true, time.Hour), rep("c1", token, 2*time.Hour), sameAgain}, status: StatusVerified, events: 1, attemptsLeft: 3, reg: "reg-1"},
		{name: "the same account again after expiry starts over", steps: []Input{sameAgain}, status: StatusPending, events: 2, drops: 1, attemptsLeft: 3, reg: "reg-2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, outs := run(t, w, nil, append([]Input{register("reg-1", testNumber)}, c.steps...)...)
			last := outs[len(outs)-1]
			a := s.Account
			if a.Status != c.status || a.RegistrationID != c.reg || len(last.AccountEvents) != c.events || len(last.PennyDrops) != c.drops {
				t.Fatalf("status %s (reg %s), %d events, %d penny drops; want %s (reg %s), %d, %d: %+v",
					a.Status, a.RegistrationID, len(last.AccountEvents), len(last.PennyDrops), c.status, c.reg, c.events, c.drops, last)
			}
			if c.events > 0 {
				ev := last.AccountEvents[len(last.AccountEvents)-1]
				if ev.Status != c.status || ev.AttemptsLeft != c.attemptsLeft || ev.AccountMask != a.Mask || ev.RegistrationID != c.reg {
					t.Fatalf("event %+v, want status %s with %d attempts left", ev, c.status, c.attemptsLeft)
				}
			}
			if a.Status == StatusVerified && !(a.BankConfirmed && a.RepConfirmed) {
				t.Fatalf("verified without both confirmations: %+v", a)
			}
			if c.drops > 0 {
				pd := last.PennyDrops[0]
				if pd.ID != "pennydrop:"+c.reg || !pd.Amount.Equal(w.Token(c.reg, "EUR")) || pd.AccountMask != a.Mask {
					t.Fatalf("penny drop %+v", pd)
				}
				if a.BankConfirmed || a.RepConfirmed || a.Attempts != 0 {
					t.Fatalf("a new registration kept the old one's progress: %+v", a)
				}
			}
		})
	}
}

func TestPennyDropRejects(t *testing.T) {
	w := newWallet(t)
	s, _ := run(t, w, nil, register("reg-1", testNumber))
	locked, _ := run(t, w, s,
		&Confirm{ID: "c1", RegistrationID: "reg-1", RepID: testRep, Amount: dec("5"), At: t0},
		&Confirm{ID: "c2", RegistrationID: "reg-1", RepID: testRep, Amount: dec("5"), At: t0},
		&Confirm{ID: "c3", RegistrationID: "reg-1", RepID: testRep, Amount: dec("5"), At: t0})
	changed, _ := run(t, w, s, register("reg-2", "DE02120300000000202051"))
	bad := register("reg-9", "DE89 3704 0044 0532 01300!")
	for _, c := range []struct {
		name   string
		s      *State
		in     Input
		reason string
	}{
		{"result for a replaced registration", changed, &BankResult{RegistrationID: "reg-1", RepID: testRep, Deposited: true, At: t0}, ReasonUnknownRegistration},
		{"confirmation for a replaced registration", changed, &Confirm{ID: "c9", RegistrationID: "reg-1", RepID: testRep, Amount: w.Token("reg-1", "EUR"), At: t0}, ReasonUnknownRegistration},
		{"confirmation without registration", nil, &Confirm{ID: "c9", RegistrationID: "reg-1", RepID: testRep, At: t0}, ReasonUnknownRegistration},
		{"registration id reused for another number", s, register("reg-1", "DE02120300000000202051"), ReasonRegistrationChanged},
		{"locked account registered again as it was", locked, register("reg-3", testNumber), ReasonAccountLocked},
		{"malformed number", s, bad, ReasonInvalidAccount},
		{"short number", s, register("reg-9", "123"), ReasonInvalidAccount},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, out, err := w.Apply(c.s, c.in)
			if reasonOf(err) != c.reason || !out.Empty() {
				t.Fatalf("%v, %+v; want %s", err, out, c.reason)
			}
			if c.s != nil && n != c.s {
				t.Fatal("a rejected input changed the state")
			}
			if err != nil && strings.Contains(err.Error(), "0532") {
				t.Fatalf("the error quotes the number: %v", err)
			}
		})
	}
}

func TestToken(t *testing.T) {
	w := newWallet(t)
	other := newWallet(t, func(c *Config) { c.Key = make([]byte, 32) })
	seen := map[string]bool{}
	differs := 0
	for i := range 500 {
		id := "reg-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		usd, jpy := w.Token(id, "USD"), w.Token(id, "JPY")
		if usd.LessThan(dec("0.01")) || usd.GreaterThan(dec("0.99")) || !usd.Equal(usd.Round(2)) {
			t.Fatalf("USD token %s out of 0.01–0.99", usd)
		}
		if jpy.LessThan(dec("1")) || jpy.GreaterThan(dec("99")) || !jpy.IsInteger() {
			t.Fatalf("JPY token %s out of 1–99", jpy)
		}
		if !w.Token(id, "USD").Equal(usd) {
			t.Fatal("token not deterministic")
		}
		if !other.Token(id, "USD").Equal(usd) {
			differs++
		}
		seen[usd.String()] = true
	}
	if len(seen) < 90 || differs < 450 {
		t.Fatalf("tokens spread over %d amounts, %d of 500 differ under another key", len(seen), differs)
	}
}

func TestSealOpen(t *testing.T) {
	w := newWallet(t)
	s, _ := run(t, w, nil, register("reg-1", "de89 3704 0044 0532 0130 00"))
	a := s.Account
	if a.Mask != "****3000" {
		t.Fatalf("mask %q", a.Mask)
	}
	got, err := w.Open(testRep, "reg-1", "k1", a.Sealed)
	if err != nil || got != testNumber {
		t.Fatalf("open: %q, %v", got, err)
	}
	if _, err := w.Open("R-2", "reg-1", "k1", a.Sealed); err == nil {
		t.Fatal("opened a sealed number under another rep")
	}
	if _, err := w.Open(testRep, "reg-1", "k0", a.Sealed); err == nil {
		t.Fatal("opened a sealed number under another key id")
	}
	tampered := append([]byte(nil), a.Sealed...)
	tampered[len(tampered)-1] ^= 1
	if _, err := w.Open(testRep, "reg-1", "k1", tampered); err == nil {
		t.Fatal("opened an altered ciphertext")
	}
	if w.Fingerprint("DE", "COBADEFFXXX", testNumber) != a.Fingerprint ||
		w.Fingerprint("DE", "COBADEFFXXX", "DE02120300000000202051") == a.Fingerprint {
		t.Fatal("fingerprint does not tell accounts apart")
	}
}
