package payoutfile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Pain001Namespace is the namespace of the message WritePain001 writes.
const Pain001Namespace = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"

// Debtor is the company account the payouts are paid from.
type Debtor struct {
	// Name is the debtor's name (and the initiating party's); required.
	Name string
	// IBANs are the accounts to pay from, by currency; the key "" is the
	// account for every currency without its own. Every currency paid
	// needs one.
	IBANs map[string]string
	// BIC is the debtor's bank; without it the agent is NOTPROVIDED, as
	// SEPA allows.
	BIC string
}

// Pain001Config configures WritePain001.
type Pain001Config struct {
	Period string
	Debtor Debtor
	// Accounts are the reps' accounts.
	Accounts Accounts
	// SkipMissing leaves out, and reports, reps without an account (or
	// whose account is held in another currency); by default they fail
	// the file.
	SkipMissing bool
	// CreatedAt is the message's creation time; ExecutionDate the day
	// the bank is asked to pay (default: CreatedAt's UTC date).
	CreatedAt     time.Time
	ExecutionDate time.Time
	// MessageID overrides the message id, which is otherwise derived from
	// what the file pays (see WritePain001).
	MessageID string
}

// Skip reasons: why a line is not in a pain.001.
const (
	SkipNotPositive      = "not_positive"      // a zero or negative net: nothing to pay
	SkipNoAccount        = "no_account"        // SkipMissing and no account
	SkipCurrencyMismatch = "currency_mismatch" // SkipMissing and an account in another currency
)

// Skipped is a line left out of a pain.001, and why.
type Skipped struct {
	Line
	Reason string `json:"reason"`
}

// Pain001Result says what a pain.001 holds.
type Pain001Result struct {
	MessageID string
	// Transactions is the number of credit transfers; ControlSum the sum
	// of their amounts, every currency together, as the group header
	// says it.
	Transactions int
	ControlSum   decimal.Decimal
	// Paid are the totals per currency (one payment information block
	// each); Skipped the lines left out.
	Paid    []CurrencyTotal
	Skipped []Skipped
}

// ErrMissingAccounts is wrapped by WritePain001's error when reps to be
// paid have no usable account and SkipMissing is off.
var ErrMissingAccounts = errors.New("reps to be paid have no usable bank account")

// WritePain001 writes an ISO 20022 pain.001.001.03 customer credit
// transfer initiation paying every positive line: one payment information
// block per currency, from the debtor's account in that currency, one
// credit transfer per rep, with the numbers of transactions and control
// sums of the group and of each block. Lines that are zero or negative are
// left out (a rep who owes money is not paid), and so, with SkipMissing,
// are reps without an account; the result lists them, so that what was
// paid plus what was left out adds up to the lines.
//
// Ids are deterministic: each transfer's end-to-end id is derived from the
// period, rep and currency, and the message id, unless given, from the
// period and every transfer, so writing the same payouts again gives the
// same ids and a bank that refuses a message id it has seen refuses the
// copy. A file of the period written after more payables arrived pays the
// whole period again under a new message id: a payout service must take
// only the difference.
//
// The file is written only when it is complete: on an error nothing is
// written to w.
func WritePain001(w io.Writer, cfg Pain001Config, lines []Line) (Pain001Result, error) {
	var res Pain001Result
	if strings.TrimSpace(cfg.Debtor.Name) == "" {
		return res, errors.New("pain.001: no debtor name")
	}
	if cfg.Debtor.BIC != "" && !bicRE.MatchString(cfg.Debtor.BIC) {
		return res, fmt.Errorf("pain.001: debtor bic %q is not a BIC", cfg.Debtor.BIC)
	}
	if cfg.CreatedAt.IsZero() {
		cfg.CreatedAt = time.Now()
	}
	if cfg.ExecutionDate.IsZero() {
		cfg.ExecutionDate = cfg.CreatedAt.UTC()
	}
	type tx struct {
		Line
		acct Account
	}
	byCcy := map[string][]tx{}
	var missing []string
	for _, l := range lines {
		if !l.Amount.IsPositive() {
			res.Skipped = append(res.Skipped, Skipped{l, SkipNotPositive})
			continue
		}
		a, ok := cfg.Accounts[l.RepID]
		reason := ""
		switch {
		case !ok:
			reason = SkipNoAccount
		case a.Currency != "" && a.Currency != l.Currency:
			reason = SkipCurrencyMismatch
		}
		if reason != "" {
			if !cfg.SkipMissing {
				missing = append(missing, fmt.Sprintf("%s (%s %s: %s)", l.RepID, l.Currency, format(l.Amount, l.Currency), reason))
				continue
			}
			res.Skipped = append(res.Skipped, Skipped{l, reason})
			continue
		}
		byCcy[l.Currency] = append(byCcy[l.Currency], tx{l, a})
	}
	if len(missing) > 0 {
		return res, fmt.Errorf("pain.001: %w: %s", ErrMissingAccounts, strings.Join(missing, ", "))
	}
	ccys := make([]string, 0, len(byCcy))
	for c := range byCcy {
		ccys = append(ccys, c)
	}
	sort.Strings(ccys)
	if len(ccys) == 0 {
		return res, errors.New("pain.001: nothing to pay: no rep has a positive net in the period")
	}
	debtorIBANs := map[string]string{}
	for _, c := range ccys {
		iban := cfg.Debtor.IBANs[c]
		if iban == "" {
			iban = cfg.Debtor.IBANs[""]
		}
		iban = strings.ToUpper(strings.ReplaceAll(iban, " ", ""))
		if iban == "" {
			return res, fmt.Errorf("pain.001: no debtor account for %s (give --debtor-iban %s=IBAN)", c, c)
		}
		if !ibanRE.MatchString(iban) || !ibanChecks(iban) {
			return res, fmt.Errorf("pain.001: debtor iban for %s (%s) is not a valid IBAN", c, mask(iban))
		}
		debtorIBANs[c] = iban
	}

	h := sha256.New()
	fmt.Fprintf(h, "pain.001.001.03\n%s\n", cfg.Period)
	doc := pain001Doc{Xmlns: Pain001Namespace}
	run := &doc.Initn
	for _, c := range ccys {
		txs := byCcy[c]
		var sum decimal.Decimal
		pi := pmtInf{PmtMtd: "TRF", NbOfTxs: strconv.Itoa(len(txs)),
			ReqdExctnDt: cfg.ExecutionDate.Format(time.DateOnly),
			Dbtr:        party{Nm: cfg.Debtor.Name}, DbtrAcct: acctOf(debtorIBANs[c], ""), DbtrAgt: agentOf(cfg.Debtor.BIC)}
		if c == "EUR" {
			pi.PmtTpInf = &pmtTpInf{SvcLvl: code{Cd: "SEPA"}}
			pi.ChrgBr = "SLEV"
		}
		fmt.Fprintf(h, "%s %s\n", c, debtorIBANs[c])
		for _, t := range txs {
			amt := format(t.Amount, c)
			sum = sum.Add(t.Amount)
			fmt.Fprintf(h, "%s %s %s\n", t.RepID, amt, t.acct.number())
			ct := cdtTrf{
				PmtID:    pmtID{EndToEndID: endToEndID(cfg.Period, t.RepID, c)},
				Amt:      amount{InstdAmt: instdAmt{Ccy: c, Value: amt}},
				Cdtr:     party{Nm: t.acct.Holder},
				CdtrAcct: acctOf(t.acct.IBAN, t.acct.Other),
				RmtInf:   rmtInf{Ustrd: truncate("Incentive payout "+cfg.Period+" "+t.RepID, 140)},
			}
			if t.acct.BIC != "" {
				a := agentOf(t.acct.BIC)
				ct.CdtrAgt = &a
			}
			pi.CdtTrfTxInf = append(pi.CdtTrfTxInf, ct)
		}
		pi.CtrlSum = format(sum, c)
		run.PmtInf = append(run.PmtInf, pi)
		res.Paid = append(res.Paid, CurrencyTotal{Currency: c, Reps: len(txs), Amount: sum})
		res.Transactions += len(txs)
		res.ControlSum = res.ControlSum.Add(sum)
	}
	res.MessageID = cfg.MessageID
	if res.MessageID == "" {
		res.MessageID = "ACCRUE" + strings.ToUpper(hex.EncodeToString(h.Sum(nil))[:22])
	} else if len(res.MessageID) > 30 {
		return res, fmt.Errorf("pain.001: message id %q is longer than 30 characters", res.MessageID)
	}
	for i := range run.PmtInf {
		run.PmtInf[i].PmtInfID = res.MessageID + "-" + run.PmtInf[i].CdtTrfTxInf[0].Amt.InstdAmt.Ccy
	}
	run.GrpHdr = grpHdr{MsgID: res.MessageID, CreDtTm: cfg.CreatedAt.UTC().Format("2006-01-02T15:04:05"),
		NbOfTxs: strconv.Itoa(res.Transactions), CtrlSum: res.ControlSum.String(), InitgPty: party{Nm: cfg.Debtor.Name}}

	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return res, err
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return res, err
	}
	if _, err := w.Write(append(out, '\n')); err != nil {
		return res, err
	}
	return res, nil
}

// endToEndID is a 35-character id of one transfer, the same for the same
// period, rep and currency.
func endToEndID(period, rep, ccy string) string {
	s := sha256.Sum256([]byte(period + "\x00" + rep + "\x00" + ccy))
	return "ACR" + strings.ToUpper(hex.EncodeToString(s[:16]))
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

func acctOf(iban, other string) cashAcct {
	if iban != "" {
		return cashAcct{ID: acctID{IBAN: iban}}
	}
	return cashAcct{ID: acctID{Othr: &othrID{ID: other}}}
}

func agentOf(bic string) agent {
	if bic != "" {
		return agent{FinInstnID: finInstnID{BIC: bic}}
	}
	return agent{FinInstnID: finInstnID{Othr: &othrID{ID: "NOTPROVIDED"}}}
}

// The message, in the schema's element order.
type (
	pain001Doc struct {
		XMLName xml.Name   `xml:"Document"`
		Xmlns   string     `xml:"xmlns,attr"`
		Initn   cstmrInitn `xml:"CstmrCdtTrfInitn"`
	}
	cstmrInitn struct {
		GrpHdr grpHdr   `xml:"GrpHdr"`
		PmtInf []pmtInf `xml:"PmtInf"`
	}
	grpHdr struct {
		MsgID    string `xml:"MsgId"`
		CreDtTm  string `xml:"CreDtTm"`
		NbOfTxs  string `xml:"NbOfTxs"`
		CtrlSum  string `xml:"CtrlSum"`
		InitgPty party  `xml:"InitgPty"`
	}
	party struct {
		Nm string `xml:"Nm,omitempty"`
	}
	pmtInf struct {
		PmtInfID    string    `xml:"PmtInfId"`
		PmtMtd      string    `xml:"PmtMtd"`
		NbOfTxs     string    `xml:"NbOfTxs"`
		CtrlSum     string    `xml:"CtrlSum"`
		PmtTpInf    *pmtTpInf `xml:"PmtTpInf,omitempty"`
		ReqdExctnDt string    `xml:"ReqdExctnDt"`
		Dbtr        party     `xml:"Dbtr"`
		DbtrAcct    cashAcct  `xml:"DbtrAcct"`
		DbtrAgt     agent     `xml:"DbtrAgt"`
		ChrgBr      string    `xml:"ChrgBr,omitempty"`
		CdtTrfTxInf []cdtTrf  `xml:"CdtTrfTxInf"`
	}
	pmtTpInf struct {
		SvcLvl code `xml:"SvcLvl"`
	}
	code struct {
		Cd string `xml:"Cd"`
	}
	cashAcct struct {
		ID acctID `xml:"Id"`
	}
	acctID struct {
		IBAN string  `xml:"IBAN,omitempty"`
		Othr *othrID `xml:"Othr,omitempty"`
	}
	othrID struct {
		ID string `xml:"Id"`
	}
	agent struct {
		FinInstnID finInstnID `xml:"FinInstnId"`
	}
	finInstnID struct {
		BIC  string  `xml:"BIC,omitempty"`
		Othr *othrID `xml:"Othr,omitempty"`
	}
	cdtTrf struct {
		PmtID    pmtID    `xml:"PmtId"`
		Amt      amount   `xml:"Amt"`
		CdtrAgt  *agent   `xml:"CdtrAgt,omitempty"`
		Cdtr     party    `xml:"Cdtr"`
		CdtrAcct cashAcct `xml:"CdtrAcct"`
		RmtInf   rmtInf   `xml:"RmtInf"`
	}
	pmtID struct {
		EndToEndID string `xml:"EndToEndId"`
	}
	amount struct {
		InstdAmt instdAmt `xml:"InstdAmt"`
	}
	instdAmt struct {
		Ccy   string `xml:"Ccy,attr"`
		Value string `xml:",chardata"`
	}
	rmtInf struct {
		Ustrd string `xml:"Ustrd"`
	}
)
