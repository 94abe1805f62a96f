package payoutfile

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// xmllint returns the path of xmllint, installing it with the project's
// script (deploy/local/tools.sh) when it is missing, unless -short. Without
// it the test is skipped, except under CI=true, where it fails.
func xmllint(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("xmllint"); err == nil {
		return p
	}
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("xmllint is missing; -short installs nothing (deploy/local/tools.sh xmllint does)")
	}
	out, err := exec.Command("../../deploy/local/tools.sh", "xmllint").CombinedOutput()
	if p, lerr := exec.LookPath("xmllint"); lerr == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("xmllint is missing and deploy/local/tools.sh could not install it: %v\n%s", err, out)
	}
	t.Skipf("xmllint is missing (deploy/local/tools.sh xmllint installs it): %v", err)
	return ""
}

// validate checks doc against the official pain.001.001.03 schema
// (testdata, from the ISO 20022 message archive) with libxml2's validator.
func validate(t *testing.T, doc []byte) error {
	t.Helper()
	bin := xmllint(t)
	path := filepath.Join(t.TempDir(), "pain.001.xml")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--noout", "--schema", "testdata/pain.001.001.03.xsd", path).CombinedOutput()
	if err != nil {
		return errors.New(string(out))
	}
	if !strings.Contains(string(out), "validates") {
		t.Fatalf("xmllint said neither yes nor no: %s", out)
	}
	return nil
}

// What the test reads back from the file, independently of the writer's
// types.
type readPain struct {
	GrpHdr struct {
		MsgID   string `xml:"MsgId"`
		NbOfTxs int    `xml:"NbOfTxs"`
		CtrlSum string `xml:"CtrlSum"`
	} `xml:"CstmrCdtTrfInitn>GrpHdr"`
	PmtInf []struct {
		PmtInfID string `xml:"PmtInfId"`
		NbOfTxs  int    `xml:"NbOfTxs"`
		CtrlSum  string `xml:"CtrlSum"`
		Debtor   string `xml:"DbtrAcct>Id>IBAN"`
		Tx       []struct {
			EndToEnd string `xml:"PmtId>EndToEndId"`
			Amt      struct {
				Ccy   string `xml:"Ccy,attr"`
				Value string `xml:",chardata"`
			} `xml:"Amt>InstdAmt"`
			Creditor string `xml:"Cdtr>Nm"`
			IBAN     string `xml:"CdtrAcct>Id>IBAN"`
			Ustrd    string `xml:"RmtInf>Ustrd"`
		} `xml:"CdtTrfTxInf"`
	} `xml:"CstmrCdtTrfInitn>PmtInf"`
}

func painConfig(t *testing.T, accounts string) Pain001Config {
	t.Helper()
	accts, err := ReadAccounts(strings.NewReader(accounts))
	if err != nil {
		t.Fatal(err)
	}
	return Pain001Config{
		Period: "2026-11",
		Debtor: Debtor{Name: "Example Corp", BIC: "DEUTDEFFXXX", IBANs: map[string]string{
			"":    makeIBAN("DE", "500700100175526303"),
			"USD": makeIBAN("GB", "NWBK60161331926819")}},
		Accounts:      accts,
		CreatedAt:     time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC),
		ExecutionDate: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC),
	}
}

// The pain.001 is valid under the official schema, its numbers of
// transactions and control sums are right, and what it pays plus what it
// leaves out adds up to the payable records.
func TestPain001ValidAndAddsUp(t *testing.T) {
	f := newFixture(4, 3000)
	accounts, numbers := accountsCSV(40, map[string]bool{"R-7": true, "R-12": true})
	cfg := painConfig(t, accounts)
	cfg.SkipMissing = true
	var buf bytes.Buffer
	res, err := WritePain001(&buf, cfg, f.totals(t).Lines())
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(t, buf.Bytes()); err != nil {
		t.Fatalf("the file does not validate:\n%s", err)
	}
	var doc readPain
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.GrpHdr.MsgID != res.MessageID || doc.GrpHdr.NbOfTxs != res.Transactions {
		t.Errorf("group header %+v, result %+v", doc.GrpHdr, res)
	}
	paid := map[string]int64{}
	var all decimal.Decimal
	txs := 0
	ends := map[string]bool{}
	for _, pi := range doc.PmtInf {
		var sum decimal.Decimal
		for _, tx := range pi.Tx {
			a := decimal.RequireFromString(tx.Amt.Value)
			if !a.IsPositive() {
				t.Errorf("transfer of %s", tx.Amt.Value)
			}
			sum = sum.Add(a)
			rep := strings.Fields(tx.Ustrd)[3]
			paid[rep+"|"+tx.Amt.Ccy] += toMinor(t, tx.Amt.Value, tx.Amt.Ccy)
			if ends[tx.EndToEnd] {
				t.Errorf("end-to-end id %s twice", tx.EndToEnd)
			}
			ends[tx.EndToEnd] = true
			if tx.IBAN != cfg.Accounts[rep].IBAN {
				t.Errorf("rep %s paid to another account", rep)
			}
		}
		if pi.NbOfTxs != len(pi.Tx) || !decimal.RequireFromString(pi.CtrlSum).Equal(sum) {
			t.Errorf("block %s: NbOfTxs %d CtrlSum %s, but %d transfers of %s", pi.PmtInfID, pi.NbOfTxs, pi.CtrlSum, len(pi.Tx), sum)
		}
		txs += len(pi.Tx)
		all = all.Add(sum)
	}
	if doc.GrpHdr.NbOfTxs != txs || !decimal.RequireFromString(doc.GrpHdr.CtrlSum).Equal(all) {
		t.Errorf("group NbOfTxs %d CtrlSum %s, but %d transfers of %s", doc.GrpHdr.NbOfTxs, doc.GrpHdr.CtrlSum, txs, all)
	}
	// Paid plus skipped is every line, to the minor unit.
	reasons := map[string]int{}
	for _, s := range res.Skipped {
		k := s.RepID + "|" + s.Currency
		if _, dup := paid[k]; dup {
			t.Errorf("%s both paid and skipped", k)
		}
		paid[k] += toMinor(t, s.Amount.String(), s.Currency)
		reasons[s.Reason]++
		if s.Reason == SkipNotPositive && s.Amount.IsPositive() || s.Reason == SkipNoAccount && s.RepID != "R-7" && s.RepID != "R-12" {
			t.Errorf("skipped %+v", s)
		}
	}
	if mustJSON(paid) != mustJSON(f.want) {
		t.Errorf("paid plus skipped differs from the records:\n got %v\nwant %v", paid, f.want)
	}
	if reasons[SkipNotPositive] == 0 || reasons[SkipNoAccount] != 2 {
		t.Errorf("skip reasons %v: the fixture has negative nets and two reps without accounts", reasons)
	}
	// The same payouts give the same ids.
	var again bytes.Buffer
	res2, err := WritePain001(&again, cfg, f.totals(t).Lines())
	if err != nil || res2.MessageID != res.MessageID || !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Errorf("writing the same payouts again gave another file (%v)", err)
	}
	_ = numbers
}

// The validator really validates: a file missing a mandatory element, with
// a negative amount or a malformed IBAN or currency is refused.
func TestPain001SchemaRefusesBrokenFiles(t *testing.T) {
	accounts, _ := accountsCSV(3, nil)
	cfg := painConfig(t, accounts)
	lines := []Line{{RepID: "R-1", Currency: "EUR", Amount: decimal.RequireFromString("10.50")}}
	var buf bytes.Buffer
	if _, err := WritePain001(&buf, cfg, lines); err != nil {
		t.Fatal(err)
	}
	if err := validate(t, buf.Bytes()); err != nil {
		t.Fatalf("the good file does not validate: %s", err)
	}
	good := buf.String()
	for name, bad := range map[string]string{
		"no debtor":      strings.Replace(good, "<Dbtr>", "<Dbtx>", 1),
		"negative":       strings.Replace(good, `"EUR">10.50<`, `"EUR">-10.50<`, 1),
		"bad iban":       strings.Replace(good, "<IBAN>DE", "<IBAN>de", 1),
		"wrong currency": strings.Replace(good, `Ccy="EUR"`, `Ccy="EURO"`, 1),
	} {
		if bad == good {
			t.Fatalf("%s: the replacement changed nothing", name)
		}
		if err := validate(t, []byte(bad)); err == nil {
			t.Errorf("%s: the schema accepted it", name)
		}
	}
}

// Without SkipMissing, reps without an account fail the file, all named;
// nothing is written; numbers never appear in errors.
func TestPain001Refusals(t *testing.T) {
	accounts, numbers := accountsCSV(5, map[string]bool{"R-2": true, "R-4": true})
	cfg := painConfig(t, accounts)
	lines := []Line{
		{RepID: "R-1", Currency: "EUR", Amount: decimal.NewFromInt(5)},
		{RepID: "R-2", Currency: "EUR", Amount: decimal.NewFromInt(6)},
		{RepID: "R-4", Currency: "EUR", Amount: decimal.NewFromInt(7)},
	}
	var buf bytes.Buffer
	_, err := WritePain001(&buf, cfg, lines)
	if !errors.Is(err, ErrMissingAccounts) || !strings.Contains(err.Error(), "R-2") || !strings.Contains(err.Error(), "R-4") {
		t.Fatalf("error %v, want ErrMissingAccounts naming R-2 and R-4", err)
	}
	if buf.Len() != 0 {
		t.Error("a refused file was written")
	}
	cfg.Debtor.IBANs = map[string]string{"USD": cfg.Debtor.IBANs["USD"]}
	if _, err := WritePain001(&buf, cfg, lines[:1]); err == nil || !strings.Contains(err.Error(), "no debtor account for EUR") {
		t.Errorf("error %v, want no debtor account for EUR", err)
	}
	u := cfg.Debtor.IBANs["USD"]
	bad := u[:5] + strconv.Itoa((int(u[5]-'0')+1)%10) + u[6:]
	cfg.Debtor.IBANs = map[string]string{"": bad}
	_, err = WritePain001(&buf, cfg, lines[:1])
	if err == nil || strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "****") {
		t.Errorf("error %v, want a masked invalid IBAN", err)
	}
	cfg.Debtor.IBANs = map[string]string{"": numbers[0]}
	if _, err := WritePain001(&buf, cfg, []Line{{RepID: "R-1", Currency: "EUR", Amount: decimal.NewFromInt(-5)}}); err == nil {
		t.Error("a file with nothing to pay was written")
	}
	cfg.Debtor.Name = ""
	if _, err := WritePain001(&buf, cfg, lines[:1]); err == nil {
		t.Error("a file without debtor name was written")
	}
}

func TestReadAccounts(t *testing.T) {
	good := makeIBAN("FR", "20041010050500013M02606")
	a, err := ReadAccounts(strings.NewReader("\ufeffrep_id,holder,iban,bic,currency\nR-1,Ann Example,\"" +
		good[:4] + " " + strings.ToLower(good[4:]) + "\",bnpafrpp,EUR\nR-2,Bo Example,,,\n"))
	if err == nil {
		t.Fatal("a row without number was accepted")
	}
	a, err = ReadAccounts(strings.NewReader("rep_id,holder,iban,bic,currency\nR-1,Ann Example,\"" +
		good[:4] + " " + strings.ToLower(good[4:]) + "\",bnpafrpp,EUR\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a["R-1"].IBAN != good || a["R-1"].BIC != "BNPAFRPP" {
		t.Errorf("account %+v not normalised", a["R-1"])
	}
	broken := good[:len(good)-1] + strconv.Itoa((int(good[len(good)-1]-'0')+1)%10)
	other := "12345678901234"
	in := "rep_id,holder,iban,account\n" +
		"R-1,Ann," + broken + ",\n" + // check digits
		"R-2,Bo,," + other + "\n" +
		"R-2,Bo,," + other + "\n" + // twice
		"R-3,,," + other + "\n" + // no holder
		"R-4,Cy," + good + "," + other + "\n" // both
	_, err = ReadAccounts(strings.NewReader(in))
	if !errors.Is(err, ErrBadAccounts) {
		t.Fatalf("error %v, want ErrBadAccounts", err)
	}
	for _, want := range []string{"line 2", "line 4", "line 5", "line 6"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "line 3") {
		t.Errorf("a good row was refused:\n%v", err)
	}
	for _, n := range []string{broken, good, other} {
		if strings.Contains(err.Error(), n) || strings.Contains(err.Error(), n[4:]) {
			t.Errorf("the error shows a number in clear:\n%v", err)
		}
	}
	for _, head := range []string{"", "rep_id,holder\n", "rep_id,iban\n", "rep_id,holder,iban,pin\n"} {
		if _, err := ReadAccounts(strings.NewReader(head)); !errors.Is(err, ErrBadAccounts) {
			t.Errorf("header %q: error %v", head, err)
		}
	}
	acct := Account{RepID: "R-9", Holder: "H", IBAN: good}
	for _, s := range []string{acct.String(), acct.GoString(), acct.LogValue().String()} {
		if strings.Contains(s, good[4:]) {
			t.Errorf("%q shows the number", s)
		}
	}
}

func FuzzReadAccounts(f *testing.F) {
	f.Add("rep_id,holder,iban\nR-1,A,DE89370400440532013000\n")
	f.Add("rep_id,holder,account,bic\nR-1,A,123,DEUTDEFF\n")
	f.Fuzz(func(t *testing.T, in string) {
		accts, err := ReadAccounts(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, a := range accts {
			if a.check() != nil {
				t.Fatalf("accepted an account that does not check: %v", a)
			}
		}
	})
}
