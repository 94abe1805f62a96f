package wallet_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/accrue/accrue/transforms/wallet"
	"github.com/shopspring/decimal"
)

// A rep earns, proves their bank account with a penny drop and transfers
// part of the balance; a stage would store each new state and emit the
// outputs.
func ExampleWallet_Apply() {
	w, err := wallet.New(wallet.Config{
		Key: bytes.Repeat([]byte{1}, 32), KeyID: "2026-01",
		TransferFees: map[string]wallet.Fee{"EUR": {Fixed: decimal.RequireFromString("0.50")}},
	})
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	apply := func(s *wallet.State, in wallet.Input) (*wallet.State, wallet.Output) {
		s, out, err := w.Apply(s, in)
		if err != nil {
			panic(err)
		}
		return s, out
	}
	s, _ := apply(nil, &wallet.Payable{IdempotencyKey: "erp:S1:sale/R-7#ae/2026-11/R-7", ProgramID: "ae",
		Period: "2026-11", RepID: "R-7", Currency: "EUR", Amount: decimal.RequireFromString("150.00"), At: at})
	s, out := apply(s, &wallet.Register{RegistrationID: "reg-1", RepID: "R-7", Holder: "Ada Rep",
		BankCode: "COBADEFFXXX", Country: "DE", Currency: "EUR", Number: "DE89 3704 0044 0532 0130 00", At: at})
	drop := out.PennyDrops[0]
	fmt.Println("penny drop to", drop.AccountMask, "status", s.Account.Status)

	s, _ = apply(s, &wallet.BankResult{RegistrationID: "reg-1", RepID: "R-7", Deposited: true, At: at})
	s, out = apply(s, &wallet.Confirm{ID: "c-1", RegistrationID: "reg-1", RepID: "R-7", Amount: drop.Amount, At: at})
	fmt.Println("account", out.AccountEvents[0].Status)

	s, out = apply(s, &wallet.Request{Key: "click-1", RepID: "R-7", Type: wallet.RequestBankTransfer,
		Amount: decimal.RequireFromString("100.00"), Currency: "EUR", At: at})
	o := out.Outcomes[0]
	fmt.Println(o.Status, o.Amount.StringFixed(2), "fee", o.Fee.StringFixed(2), "available", o.Available.StringFixed(2))

	_, out = apply(s, &wallet.PayoutResult{ID: "bank-ref-9", RepID: "R-7", IdempotencyKey: "click-1", Status: wallet.ResultPaid, At: at})
	fmt.Println(out.Outcomes[0].Status, "by", out.Transactions[0].ID)
	// Output:
	// penny drop to ****3000 status pending
	// account verified
	// accepted 100.00 fee 0.50 available 49.50
	// paid by settle:R-7:bank-ref-9
}
