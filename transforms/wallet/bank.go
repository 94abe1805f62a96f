package wallet

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/currency"
	"github.com/shopspring/decimal"
)

// normalizeNumber returns an account number without spaces and hyphens, in
// upper case, or false when it is not 4 to 34 letters and digits (the
// length of an IBAN at most).
func normalizeNumber(n string) (string, bool) {
	var b strings.Builder
	for _, r := range n {
		switch {
		case r == ' ' || r == '-':
		case r >= '0' && r <= '9', r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		default:
			return "", false
		}
	}
	s := b.String()
	return s, len(s) >= 4 && len(s) <= 34
}

// Mask returns how an account number is shown: "****" and its last four
// characters.
func Mask(number string) string {
	n, _ := normalizeNumber(number)
	if len(n) > 4 {
		n = n[len(n)-4:]
	}
	return "****" + n
}

func (w *Wallet) mac(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// Fingerprint returns the keyed hash that identifies an account (country,
// bank code, number) without revealing it: equal for the same account
// under the same key.
func (w *Wallet) Fingerprint(country, bankCode, number string) string {
	n, _ := normalizeNumber(number)
	return hex.EncodeToString(w.mac(w.printK, "account", strings.ToUpper(country), strings.ToUpper(bankCode), n)[:16])
}

// seal encrypts number for the rep's registration. The nonce is derived
// from the key, the registration and the number, so sealing is
// deterministic (a replay seals alike) and a nonce only repeats with the
// very same plaintext and associated data.
func (w *Wallet) seal(repID, regID, number string) []byte {
	nonce := w.mac(w.nonceK, repID, regID, number)[:w.aead.NonceSize()]
	return w.aead.Seal(slices.Clip(nonce), nonce, []byte(number), []byte(repID+"\x00"+regID))
}

// Open returns the account number sealed for the rep's registration: for
// the payout services that hold the key. It fails when keyID is not the
// wallet's key or the ciphertext was altered or moved to another rep or
// registration.
func (w *Wallet) Open(repID, regID, keyID string, sealed []byte) (string, error) {
	if keyID != w.cfg.KeyID {
		return "", fmt.Errorf("wallet: sealed with key %q, have %q", keyID, w.cfg.KeyID)
	}
	ns := w.aead.NonceSize()
	if len(sealed) < ns {
		return "", errors.New("wallet: sealed account too short")
	}
	pt, err := w.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(repID+"\x00"+regID))
	if err != nil {
		return "", fmt.Errorf("wallet: open sealed account: %w", err)
	}
	return string(pt), nil
}

// Token returns the penny-drop amount of a registration in cur: 1 to 99
// hundredths of the major unit (0.01 to 0.99 USD), or 1 to 99 minor units
// for a currency with fewer than two decimals (1 to 99 JPY). It is derived
// from the registration id under the wallet's key, so a rep cannot work it
// out from the id.
func (w *Wallet) Token(regID, cur string) decimal.Decimal {
	h := w.mac(w.printK, "penny drop", regID)
	n := 1 + int64(binary.BigEndian.Uint64(h[:8])%99)
	places, _ := currency.MinorUnits(cur)
	return decimal.New(n, -min(places, 2))
}

func (w *Wallet) event(s *State, at time.Time) AccountEvent {
	a := s.Account
	id := fmt.Sprintf("%s/%s/%d", a.RegistrationID, a.Status, a.Attempts)
	if a.BankConfirmed {
		id += "/bank"
	}
	if a.RepConfirmed {
		id += "/rep"
	}
	return AccountEvent{
		ID: id, RepID: s.RepID, RegistrationID: a.RegistrationID, Status: a.Status, Reason: a.Reason,
		AccountMask: a.Mask, AttemptsLeft: max(0, w.cfg.PennyDropAttempts-a.Attempts),
		BankConfirmed: a.BankConfirmed, RepConfirmed: a.RepConfirmed, At: at,
	}
}

// open reports whether a's penny drop is still in progress.
func open(a *BankAccount) bool {
	return a != nil && (a.Status == StatusPending || a.Status == StatusWrongAmount)
}

// expire moves an account whose penny drop is past its expiry to expired.
func (w *Wallet) expire(s *State, at time.Time, out *Output) bool {
	a := s.Account
	if !open(a) || at.IsZero() || at.Before(a.ExpiresAt) {
		return false
	}
	a.Status, a.Reason = StatusExpired, "penny_drop_expired"
	out.AccountEvents = append(out.AccountEvents, w.event(s, at))
	return true
}

// register seals and records an account and starts its penny drop; the
// same account registered again changes nothing while it is verified or
// being verified.
func (w *Wallet) register(s *State, r *Register, out *Output) (bool, error) {
	number, ok := normalizeNumber(r.Number)
	switch {
	case r.RegistrationID == "":
		return false, pipeline.Rejectf(ReasonInvalidInput, "registration_id", "registration without id")
	case !ok:
		// Never quote the number.
		return false, pipeline.Rejectf(ReasonInvalidAccount, "number", "account number must be 4 to 34 letters and digits")
	case strings.TrimSpace(r.Holder) == "":
		return false, pipeline.Rejectf(ReasonInvalidAccount, "holder", "account holder is empty")
	case len(r.Country) != 2:
		return false, pipeline.Rejectf(ReasonInvalidAccount, "country", "country %q is not an ISO 3166 alpha-2 code", r.Country)
	}
	if _, ok := currency.MinorUnits(r.Currency); !ok {
		return false, pipeline.Rejectf(ReasonInvalidAccount, "currency", "currency %q has no minor unit", r.Currency)
	}
	fp := w.Fingerprint(r.Country, r.BankCode, number)
	changed := w.expire(s, r.At, out)
	a := s.Account
	same := a != nil && a.Fingerprint == fp && a.Holder == r.Holder && a.Currency == r.Currency
	if a != nil && a.RegistrationID == r.RegistrationID {
		if !same {
			return false, pipeline.Rejectf(ReasonRegistrationChanged, "registration_id", "registration %s was made for other details", r.RegistrationID)
		}
		return changed, nil
	}
	if same {
		switch a.Status {
		case StatusVerified, StatusPending, StatusWrongAmount:
			out.AccountEvents = append(out.AccountEvents, w.event(s, r.At))
			return changed, nil
		case StatusLocked:
			return false, pipeline.Rejectf(ReasonAccountLocked, "registration_id", "account %s is locked after %d wrong amounts", a.Mask, a.Attempts)
		}
	}
	s.Account = &BankAccount{
		RegistrationID: r.RegistrationID, Holder: r.Holder, BankCode: r.BankCode, Country: r.Country,
		Currency: r.Currency, Mask: Mask(number), Fingerprint: fp, KeyID: w.cfg.KeyID,
		Sealed: w.seal(s.RepID, r.RegistrationID, number), Status: StatusPending,
		Token: w.Token(r.RegistrationID, r.Currency), RegisteredAt: r.At, ExpiresAt: r.At.Add(w.cfg.PennyDropTTL),
	}
	a = s.Account
	out.PennyDrops = append(out.PennyDrops, PennyDrop{
		ID: "pennydrop:" + a.RegistrationID, RepID: s.RepID, RegistrationID: a.RegistrationID,
		Amount: a.Token, Currency: a.Currency, Holder: a.Holder, BankCode: a.BankCode, Country: a.Country,
		AccountMask: a.Mask, KeyID: a.KeyID, SealedAccount: slices.Clone(a.Sealed), ExpiresAt: a.ExpiresAt,
	})
	out.AccountEvents = append(out.AccountEvents, w.event(s, r.At))
	return true, nil
}

// current returns the rep's account if regID is its registration.
func current(s *State, regID string) (*BankAccount, error) {
	if s.Account == nil || s.Account.RegistrationID != regID || regID == "" {
		return nil, pipeline.Rejectf(ReasonUnknownRegistration, "registration_id", "registration %q is not the rep's current one", regID)
	}
	return s.Account, nil
}

// bankResult records the bank's result of the penny drop.
func (w *Wallet) bankResult(s *State, r *BankResult, out *Output) (bool, error) {
	a, err := current(s, r.RegistrationID)
	if err != nil {
		return false, err
	}
	changed := w.expire(s, r.At, out)
	if !open(a) {
		return changed, nil
	}
	if !r.Deposited {
		a.Status, a.Reason = StatusFailed, r.Reason
		if a.Reason == "" {
			a.Reason = "bank_failed"
		}
	} else {
		if a.BankConfirmed {
			return changed, nil
		}
		a.BankConfirmed = true
		if a.RepConfirmed {
			a.Status = StatusVerified
		}
	}
	out.AccountEvents = append(out.AccountEvents, w.event(s, r.At))
	return true, nil
}

// confirm checks the rep's confirmation of the penny-drop amount.
func (w *Wallet) confirm(s *State, c *Confirm, out *Output) (bool, error) {
	if c.ID == "" {
		return false, pipeline.Rejectf(ReasonInvalidInput, "id", "confirmation without id")
	}
	a, err := current(s, c.RegistrationID)
	if err != nil {
		return false, err
	}
	if slices.Contains(a.Confirmations, c.ID) {
		return false, nil
	}
	changed := w.expire(s, c.At, out)
	if !open(a) || a.RepConfirmed {
		// Nothing left to confirm: answer with the status as it is.
		if !changed {
			out.AccountEvents = append(out.AccountEvents, w.event(s, c.At))
		}
		return changed, nil
	}
	a.Confirmations = append(a.Confirmations, c.ID)
	if c.Amount.Equal(a.Token) {
		a.RepConfirmed, a.Status, a.Reason = true, StatusPending, ""
		if a.BankConfirmed {
			a.Status = StatusVerified
		}
	} else {
		a.Attempts++
		a.Status, a.Reason = StatusWrongAmount, "wrong_amount"
		if a.Attempts >= w.cfg.PennyDropAttempts {
			a.Status = StatusLocked
		}
	}
	out.AccountEvents = append(out.AccountEvents, w.event(s, c.At))
	return true, nil
}
