package payoutfile

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"regexp"
	"strings"

	"github.com/accrue/accrue/transforms/currency"
)

// Account is the bank account a rep is paid to. The number is held only
// here: String, LogValue and every error of this package show its Mask.
type Account struct {
	RepID    string
	Holder   string
	IBAN     string // normalised: no spaces, upper case; or empty
	Other    string // a domestic number, when there is no IBAN
	BIC      string // optional
	Currency string // optional: when set, only payouts in it go here
}

// Mask is the number's last four characters behind asterisks.
func (a Account) Mask() string { return mask(a.number()) }

func (a Account) number() string {
	if a.IBAN != "" {
		return a.IBAN
	}
	return a.Other
}

// String shows the account without its number.
func (a Account) String() string {
	return fmt.Sprintf("%s (%s, %s)", a.RepID, a.Holder, a.Mask())
}

// LogValue keeps the number out of structured logs.
func (a Account) LogValue() slog.Value {
	return slog.GroupValue(slog.String("rep_id", a.RepID), slog.String("account", a.Mask()))
}

// GoString keeps the number out of %#v.
func (a Account) GoString() string { return "payoutfile.Account{" + a.String() + "}" }

func mask(n string) string {
	if len(n) <= 4 {
		return "****"
	}
	return "****" + n[len(n)-4:]
}

// Accounts are the rep accounts by rep id.
type Accounts map[string]Account

// AccountsHeader lists the columns ReadAccounts knows; rep_id, holder and
// one of iban or account are required.
var AccountsHeader = []string{"rep_id", "holder", "iban", "account", "bic", "currency"}

var (
	ibanRE  = regexp.MustCompile(`^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}$`)
	otherRE = regexp.MustCompile(`^[A-Za-z0-9]{1,34}$`)
	bicRE   = regexp.MustCompile(`^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$`)
)

// ErrBadAccounts is wrapped by ReadAccounts's error when rows are bad;
// the error lists every bad row with its line, numbers masked.
var ErrBadAccounts = errors.New("bad rep accounts")

// ReadAccounts reads a CSV file of rep accounts with a header row naming
// its columns (AccountsHeader, in any order; others are refused). IBANs
// are normalised (spaces removed, upper case) and must pass their check
// digits (ISO 13616 mod 97); a rep may appear once. Every bad row is
// reported, by line, with the number masked.
func ReadAccounts(r io.Reader) (Accounts, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: the file is empty (want a header row: %s)", ErrBadAccounts, strings.Join(AccountsHeader, ","))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadAccounts, err)
	}
	col := map[string]int{}
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		known := false
		for _, k := range AccountsHeader {
			known = known || h == k
		}
		if !known {
			return nil, fmt.Errorf("%w: line 1: unknown column %q (known: %s)", ErrBadAccounts, h, strings.Join(AccountsHeader, ","))
		}
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("%w: line 1: column %q twice", ErrBadAccounts, h)
		}
		col[h] = i
	}
	for _, need := range []string{"rep_id", "holder"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%w: line 1: no column %s", ErrBadAccounts, need)
		}
	}
	_, hasIBAN := col["iban"]
	_, hasOther := col["account"]
	if !hasIBAN && !hasOther {
		return nil, fmt.Errorf("%w: line 1: no column iban or account", ErrBadAccounts)
	}
	out := Accounts{}
	var problems []string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			problems = append(problems, fmt.Sprintf("line %d: not CSV: %v", line, errors.Unwrap(err)))
			if line == 0 {
				break // not a row's error: the reader cannot go on
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		a := Account{RepID: get("rep_id"), Holder: get("holder"), BIC: strings.ToUpper(get("bic")),
			Currency: get("currency"), Other: get("account")}
		a.IBAN = strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(get("iban")))
		if err := a.check(); err != nil {
			problems = append(problems, fmt.Sprintf("line %d: %v", line, err))
			continue
		}
		if _, dup := out[a.RepID]; dup {
			problems = append(problems, fmt.Sprintf("line %d: rep %s has an account on an earlier line", line, a.RepID))
			continue
		}
		out[a.RepID] = a
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w:\n  %s", ErrBadAccounts, strings.Join(problems, "\n  "))
	}
	return out, nil
}

// check validates a; its errors show the number masked.
func (a Account) check() error {
	switch {
	case a.RepID == "":
		return errors.New("no rep_id")
	case a.Holder == "":
		return fmt.Errorf("rep %s: no holder", a.RepID)
	case len(a.Holder) > 140:
		return fmt.Errorf("rep %s: holder longer than 140 characters", a.RepID)
	case a.IBAN != "" && a.Other != "":
		return fmt.Errorf("rep %s: both iban and account (%s): give one", a.RepID, a.Mask())
	case a.IBAN == "" && a.Other == "":
		return fmt.Errorf("rep %s: no iban or account", a.RepID)
	case a.IBAN != "" && (!ibanRE.MatchString(a.IBAN) || !ibanChecks(a.IBAN)):
		return fmt.Errorf("rep %s: iban %s is not a valid IBAN (format or check digits)", a.RepID, a.Mask())
	case a.Other != "" && !otherRE.MatchString(a.Other):
		return fmt.Errorf("rep %s: account %s is not 1 to 34 letters and digits", a.RepID, a.Mask())
	case a.BIC != "" && !bicRE.MatchString(a.BIC):
		return fmt.Errorf("rep %s: bic %q is not a BIC", a.RepID, a.BIC)
	}
	if a.Currency != "" {
		if _, ok := currency.Lookup(a.Currency); !ok {
			return fmt.Errorf("rep %s: currency %q is not an ISO 4217 code", a.RepID, a.Currency)
		}
	}
	return nil
}

// ValidIBAN reports whether s, once spaces are removed and letters upper
// cased, is an IBAN with the right check digits.
func ValidIBAN(s string) bool {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	return ibanRE.MatchString(s) && ibanChecks(s)
}

// ibanChecks reports whether iban (normalised) passes ISO 13616's mod-97
// check.
func ibanChecks(iban string) bool {
	var b strings.Builder
	for _, c := range iban[4:] + iban[:4] {
		if c >= 'A' && c <= 'Z' {
			fmt.Fprintf(&b, "%d", c-'A'+10)
		} else {
			b.WriteRune(c)
		}
	}
	n, ok := new(big.Int).SetString(b.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}
