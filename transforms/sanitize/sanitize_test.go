package sanitize

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/connectors/canonical"
)

const typical = `defaults:
  required: [rep_id, amount.value, amount.currency, event_time]
  currencies: iso4217
  amount: {min: "0", max: "10000000"}
  event_time: {future_tolerance: 10m, horizon: 400d}
  normalize: {trim: true, upper: [amount.currency], lower: [rep_id]}
  rules:
    - {name: no_test_accounts, when: 'account_id startsWith "TEST-"', reason: test_account}
  dedupe: {window: 720h}
sources:
  pos-apac: {amount: {max: "50000"}, currencies: [JPY, SGD]}
`

var now = time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)

func gate(t testing.TB, doc string) *Gate {
	t.Helper()
	cfg, err := ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func sale() *canonical.Event {
	return &canonical.Event{
		Source: "erp-eu", TxnID: "SO-1001", Type: canonical.Sale,
		EventTime: now.Add(-time.Hour), RepID: "r-17", AccountID: "A-3", ProductID: "P-9",
		Quantity:   decimal.NewNullDecimal(decimal.NewFromInt(2)),
		Amount:     canonical.Money{Value: decimal.RequireFromString("1250.00"), Currency: "EUR"},
		Attributes: map[string]string{"channel": "online"},
	}
}

func TestCheckReasons(t *testing.T) {
	g := gate(t, typical)
	for _, tc := range []struct {
		name   string
		mod    func(e *canonical.Event)
		reason string
		field  string
	}{
		{"good", func(*canonical.Event) {}, "", ""},
		{"good adjustment below zero", func(e *canonical.Event) {
			e.Type = canonical.Adjustment
			e.Amount.Value = decimal.RequireFromString("-50")
		}, "", ""},
		{"no txn_id", func(e *canonical.Event) { e.TxnID = "" }, ReasonMissingField, "txn_id"},
		{"blank txn_id after trim", func(e *canonical.Event) { e.TxnID = "  " }, ReasonMissingField, "txn_id"},
		{"return without ref", func(e *canonical.Event) { e.Type = canonical.Return }, ReasonMissingField, "ref_txn_id"},
		{"bad type", func(e *canonical.Event) { e.Type = "refund" }, ReasonInvalidField, "type"},
		{"negative sale", func(e *canonical.Event) { e.Amount.Value = decimal.NewFromInt(-1) }, ReasonInvalidField, "amount.value"},
		{"bad split", func(e *canonical.Event) {
			e.Splits = []canonical.Split{{RepID: "a", Share: decimal.RequireFromString("0.5")}}
		}, ReasonInvalidField, "splits"},
		{"splits but no rep_id (required)", func(e *canonical.Event) {
			e.RepID = ""
			e.Splits = []canonical.Split{{RepID: "a", Share: decimal.NewFromInt(1)}}
		}, ReasonMissingField, "rep_id"},
		{"unknown currency", func(e *canonical.Event) { e.Amount.Currency = "EUX" }, ReasonUnknownCurrency, "amount.currency"},
		{"withdrawn currency", func(e *canonical.Event) { e.Amount.Currency = "HRK" }, ReasonUnknownCurrency, "amount.currency"},
		{"no minor unit", func(e *canonical.Event) { e.Amount.Currency = "XAU" }, ReasonUnknownCurrency, "amount.currency"},
		{"unknown margin currency", func(e *canonical.Event) {
			e.Margin = &canonical.Money{Value: decimal.NewFromInt(1), Currency: "ZZZ"}
		}, ReasonUnknownCurrency, "margin.currency"},
		{"currency not allowed", func(e *canonical.Event) { e.Source = "pos-apac" }, ReasonCurrencyNotAllowed, "amount.currency"},
		{"margin currency not allowed", func(e *canonical.Event) {
			e.Source, e.Amount.Currency = "pos-apac", "JPY"
			e.Amount.Value = decimal.NewFromInt(100)
			e.Margin = &canonical.Money{Value: decimal.NewFromInt(1), Currency: "USD"}
		}, ReasonCurrencyNotAllowed, "margin.currency"},
		{"amount at max", func(e *canonical.Event) { e.Amount.Value = decimal.NewFromInt(10000000) }, "", ""},
		{"amount above max", func(e *canonical.Event) { e.Amount.Value = decimal.RequireFromString("10000000.01") }, ReasonAmountAboveMax, "amount.value"},
		{"adjustment above max by abs", func(e *canonical.Event) {
			e.Type = canonical.Adjustment
			e.Amount.Value = decimal.RequireFromString("-10000001")
		}, ReasonAmountAboveMax, "amount.value"},
		{"event time at tolerance", func(e *canonical.Event) { e.EventTime = now.Add(10 * time.Minute) }, "", ""},
		{"event time in future", func(e *canonical.Event) { e.EventTime = now.Add(10*time.Minute + time.Second) }, ReasonEventTimeInFuture, "event_time"},
		{"event time at horizon", func(e *canonical.Event) { e.EventTime = now.Add(-400 * 24 * time.Hour) }, "", ""},
		{"event time too old", func(e *canonical.Event) { e.EventTime = now.Add(-400*24*time.Hour - time.Second) }, ReasonEventTimeTooOld, "event_time"},
		{"no event time", func(e *canonical.Event) { e.EventTime = time.Time{} }, ReasonMissingField, "event_time"},
		{"rule", func(e *canonical.Event) { e.AccountID = "TEST-1" }, "test_account", ""},
		{"rule after trim", func(e *canonical.Event) { e.AccountID = " TEST-1 " }, "test_account", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := sale()
			tc.mod(e)
			rj := g.Check(e, now)
			switch {
			case tc.reason == "" && rj != nil:
				t.Fatalf("rejected: %v", rj)
			case tc.reason == "":
			case rj == nil:
				t.Fatalf("accepted, want %s on %q", tc.reason, tc.field)
			case rj.Reason != tc.reason || rj.Field != tc.field:
				t.Fatalf("reason %q field %q (%v), want %q field %q", rj.Reason, rj.Field, rj, tc.reason, tc.field)
			}
		})
	}
}

func TestDefaultsOff(t *testing.T) {
	// An empty config checks only Validate and ISO 4217.
	g := gate(t, "{}")
	e := sale()
	e.Amount.Value = decimal.NewFromInt(1e15)
	e.EventTime = now.Add(1000 * time.Hour)
	e.AccountID = "TEST-9"
	if rj := g.Check(e, now); rj != nil {
		t.Fatal(rj)
	}
	e.Amount.Currency = "usd"
	if rj := g.Check(e, now); rj == nil || rj.Reason != ReasonUnknownCurrency {
		t.Fatalf("lower-case code without normalization: %v", rj)
	}
	if g.DedupeWindow("x") != 0 {
		t.Error("default dedupe window is not 0 (no limit)")
	}
}

func TestRequiredBeyondValidate(t *testing.T) {
	g := gate(t, `defaults: {required: [account_id, product_id, quantity, margin, margin.currency, attributes.channel, splits]}`)
	for _, tc := range []struct {
		field string
		mod   func(e *canonical.Event)
	}{
		{"account_id", func(e *canonical.Event) { e.AccountID = "" }},
		{"product_id", func(e *canonical.Event) { e.ProductID = "" }},
		{"quantity", func(e *canonical.Event) { e.Quantity = decimal.NullDecimal{} }},
		{"margin", func(e *canonical.Event) { e.Margin = nil }},
		{"attributes.channel", func(e *canonical.Event) { e.Attributes = nil }},
		{"splits", func(e *canonical.Event) { e.Splits = nil }},
	} {
		e := sale()
		e.Margin = &canonical.Money{Value: decimal.NewFromInt(3), Currency: "EUR"}
		e.Splits = []canonical.Split{{RepID: "r-17", Share: decimal.NewFromInt(1)}}
		if rj := g.Check(e, now); rj != nil {
			t.Fatalf("complete event rejected: %v", rj)
		}
		tc.mod(e)
		rj := g.Check(e, now)
		if rj == nil || rj.Reason != ReasonMissingField || rj.Field != tc.field {
			t.Errorf("without %s: %v", tc.field, rj)
		} else if !errors.Is(rj, canonical.ErrMissing) {
			t.Errorf("reject does not wrap ErrMissing: %v", rj)
		}
	}
}

func TestNormalize(t *testing.T) {
	g := gate(t, `defaults:
  normalize: {trim: true, upper: [amount.currency, margin.currency, product_id], lower: [rep_id, splits.rep_id, account_id]}
`)
	e := sale()
	e.TxnID, e.Source, e.RepID, e.AccountID, e.ProductID = " SO-1 ", "erp-eu", " R-17\t", "A-3 ", " p-9"
	e.Amount.Currency = " eur "
	e.Margin = &canonical.Money{Value: decimal.NewFromInt(1), Currency: "eUr"}
	e.Splits = []canonical.Split{{RepID: " R-17 ", Share: decimal.NewFromInt(1)}}
	e.Attributes = map[string]string{"channel": " online "}
	if rj := g.Check(e, now); rj != nil {
		t.Fatal(rj)
	}
	got := []string{e.TxnID, e.RepID, e.AccountID, e.ProductID, e.Amount.Currency, e.Margin.Currency, e.Splits[0].RepID, e.Attributes["channel"]}
	want := []string{"SO-1", "r-17", "a-3", "P-9", "EUR", "EUR", "r-17", " online "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("normalized %q, want %q", got, want)
	}

	// Without trim, spaces stay and the currency is unknown.
	g = gate(t, `defaults: {normalize: {upper: [amount.currency]}}`)
	e = sale()
	e.Amount.Currency = " eur"
	if rj := g.Check(e, now); rj == nil || rj.Reason != ReasonUnknownCurrency || e.Amount.Currency != " EUR" {
		t.Errorf("without trim: %v, currency %q", rj, e.Amount.Currency)
	}
}

func TestSourceOverrides(t *testing.T) {
	g := gate(t, typical+`  crm:
    amount: {min: "100"}
    event_time: {future_tolerance: 0s}
    required: []
    normalize: {lower: []}
    rules:
      - {name: no_test_accounts, when: 'account_id == "TEST-CRM"'}
      - {name: no_online, when: 'attributes.channel == "online" && amount > 5000'}
    dedupe: {window: 24h}
`)
	check := func(source string, mod func(*canonical.Event)) (string, string, *canonical.Event) {
		t.Helper()
		e := sale()
		e.Source = source
		mod(e)
		if rj := g.Check(e, now); rj != nil {
			return rj.Reason, rj.Field, e
		}
		return "", "", e
	}
	for _, tc := range []struct {
		source       string
		mod          func(*canonical.Event)
		reason, fild string
	}{
		// pos-apac: max 50000 replaces the default max; min 0 inherited.
		{"pos-apac", func(e *canonical.Event) { e.Amount.Currency = "JPY"; e.Amount.Value = decimal.NewFromInt(50001) }, ReasonAmountAboveMax, "amount.value"},
		{"pos-apac", func(e *canonical.Event) { e.Amount.Currency = "sgd"; e.Amount.Value = decimal.NewFromInt(50000) }, "", ""},
		{"pos-apac", func(e *canonical.Event) { e.Amount.Currency = "JPY"; e.AccountID = "TEST-1" }, "test_account", ""},
		{"erp-eu", func(e *canonical.Event) { e.Amount.Value = decimal.NewFromInt(50001) }, "", ""},
		// crm: min 100, max inherited; zero future tolerance; the
		// default rule replaced (default reason rule:<name>); one added.
		{"crm", func(e *canonical.Event) { e.Amount.Value = decimal.NewFromInt(99) }, ReasonAmountBelowMin, "amount.value"},
		{"crm", func(e *canonical.Event) { e.Amount.Value = decimal.NewFromInt(10000001) }, ReasonAmountAboveMax, "amount.value"},
		{"crm", func(e *canonical.Event) { e.EventTime = now.Add(time.Second) }, ReasonEventTimeInFuture, "event_time"},
		{"crm", func(e *canonical.Event) { e.AccountID = "TEST-1" }, "", ""},
		{"crm", func(e *canonical.Event) { e.AccountID = "TEST-CRM" }, "rule:no_test_accounts", ""},
		{"crm", func(e *canonical.Event) { e.Amount.Value = decimal.NewFromInt(5001) }, "rule:no_online", ""},
		{"crm", func(e *canonical.Event) {
			e.RepID = ""
			e.Splits = []canonical.Split{{RepID: "a", Share: decimal.NewFromInt(1)}}
		}, "", ""},
	} {
		reason, field, _ := check(tc.source, tc.mod)
		if reason != tc.reason || field != tc.fild {
			t.Errorf("%s: reason %q field %q, want %q %q", tc.source, reason, field, tc.reason, tc.fild)
		}
	}
	if _, _, e := check("crm", func(e *canonical.Event) { e.RepID = "R-1" }); e.RepID != "R-1" {
		t.Errorf("crm's empty lower list did not override: rep %q", e.RepID)
	}
	if _, _, e := check("pos-apac", func(e *canonical.Event) { e.RepID = "R-1"; e.Amount.Currency = "JPY" }); e.RepID != "r-1" {
		t.Errorf("pos-apac did not inherit lower: rep %q", e.RepID)
	}
	if w := g.DedupeWindow("crm"); w != 24*time.Hour {
		t.Errorf("crm window %v", w)
	}
	if w := g.DedupeWindow("pos-apac"); w != 720*time.Hour {
		t.Errorf("pos-apac window %v", w)
	}
}

func TestRuleEnv(t *testing.T) {
	g := gate(t, `defaults:
  rules:
    - {name: q, when: 'quantity > 5'}
    - {name: t, when: 'type == "adjustment" && amount < -100'}
    - {name: c, when: 'currency in ["GBP"] && source == "erp-eu" && txn_id matches "^X"'}
    - {name: p, when: 'product_id == "" && rep_id == "x" && ref_txn_id == ""'}
    - {name: a, when: '"vip" in keys(attributes)'}
`)
	for _, tc := range []struct {
		mod    func(*canonical.Event)
		reason string
	}{
		{func(e *canonical.Event) { e.Quantity = decimal.NewNullDecimal(decimal.NewFromInt(6)) }, "rule:q"},
		{func(e *canonical.Event) { e.Quantity = decimal.NullDecimal{} }, ""},
		{func(e *canonical.Event) {
			e.Type = canonical.Adjustment
			e.Amount.Value = decimal.RequireFromString("-100.01")
		}, "rule:t"},
		{func(e *canonical.Event) { e.Amount.Currency, e.TxnID = "GBP", "X1" }, "rule:c"},
		{func(e *canonical.Event) { e.ProductID, e.RepID = "", "x" }, "rule:p"},
		{func(e *canonical.Event) { e.Attributes["vip"] = "1" }, "rule:a"},
		{func(e *canonical.Event) { e.Attributes = nil }, ""},
	} {
		e := sale()
		tc.mod(e)
		rj := g.Check(e, now)
		got := ""
		if rj != nil {
			got = rj.Reason
			if rj.Field != "" {
				t.Errorf("rule reject has field %q", rj.Field)
			}
		}
		if got != tc.reason {
			t.Errorf("reason %q (%v), want %q", got, rj, tc.reason)
		}
	}
}

var posRE = regexp.MustCompile(`^\d+:\d+: `)

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string // substrings of the problems, in order
	}{
		{"unknown key", "defaults:\n  amount: {min: \"0\", maximum: \"5\"}\n", []string{"2:22", "maximum"}},
		{"unknown top key", "default: {}\n", []string{"1:1", "default"}},
		{"unknown source key", "sources:\n  crm:\n    currency: [USD]\n", []string{"3:5", "currency"}},
		{"wrong kind", "defaults:\n  rules: {name: x}\n", []string{"2:"}},
		{"duplicate key", "defaults: {}\ndefaults: {}\n", []string{"2:1"}},
		{"syntax", "defaults: [\n", []string{"1:"}},
		{"bad duration", "defaults:\n  event_time: {future_tolerance: 10 minutes, horizon: 400days}\n",
			[]string{"2:34: defaults.event_time.future_tolerance", "10 minutes", "2:55: defaults.event_time.horizon"}},
		{"negative duration", "defaults:\n  dedupe: {window: -1h}\n", []string{"2:20: defaults.dedupe.window", "negative"}},
		{"bad decimal", "defaults:\n  amount:\n    min: 1e3\n    max: \"1,000\"\n",
			[]string{"3:10: defaults.amount.min", "1e3", "4:10: defaults.amount.max", "1,000"}},
		{"negative bound", "defaults: {amount: {min: \"-1\"}}\n", []string{"defaults.amount.min", "negative"}},
		{"min above max", "defaults: {amount: {min: \"10\", max: \"9.99\"}}\n", []string{"defaults.amount", "above max"}},
		{"bad expression", "defaults:\n  rules:\n    - name: ok\n      when: 'true'\n    - name: broken\n      when: 'amount >'\n",
			[]string{"6:13: defaults.rules[1].when", "rule broken"}},
		{"non-bool expression", "defaults:\n  rules:\n    - {name: num, when: 'amount + 1'}\n", []string{"defaults.rules[0].when", "rule num"}},
		{"unknown variable", "defaults:\n  rules:\n    - {name: unk, when: 'margin > 1'}\n", []string{"rule unk", "margin"}},
		{"rule name", "defaults:\n  rules:\n    - {name: Bad Name, when: 'true'}\n", []string{"3:14: defaults.rules[0].name"}},
		{"rule twice", "defaults:\n  rules:\n    - {name: a, when: 'true'}\n    - {name: a, when: 'false'}\n", []string{"4:14: defaults.rules[1].name", "twice"}},
		{"rule without when", "defaults: {rules: [{name: a}]}\n", []string{"defaults.rules[0].when", "missing"}},
		{"bad currency", "sources:\n  pos: {currencies: [JPY, YEN, xau]}\n", []string{"2:27: sources.pos.currencies[1]", "YEN", "sources.pos.currencies[2]"}},
		{"empty currencies", "defaults: {currencies: []}\n", []string{"defaults.currencies", "empty"}},
		{"iso4217 and list", "defaults: {currencies: [iso4217, USD]}\n", []string{"defaults.currencies"}},
		{"bad required", "defaults:\n  required: [rep_id, amount]\n", []string{"2:22: defaults.required[1]", "amount"}},
		{"bad normalize", "defaults:\n  normalize: {upper: [quantity], lower: [event_time]}\n", []string{"defaults.normalize.upper[0]", "defaults.normalize.lower[0]"}},
		{"upper and lower", "defaults: {normalize: {upper: [rep_id], lower: [rep_id]}}\n", []string{"defaults.normalize", "both"}},
		{"bad source name", "sources:\n  ' pos': {}\n", []string{"sources. pos"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tc.doc))
			if err == nil {
				_, err = Compile(cfg)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("want a *ConfigError, got %v", err)
			}
			msg := err.Error()
			at := 0
			for _, w := range tc.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error %q lacks %q (after offset %d)", msg, w, at)
				}
				at += i + len(w)
			}
			for _, p := range ce.Problems {
				if tc.name != "bad source name" && !posRE.MatchString(p.Error()) {
					t.Errorf("problem without line:column: %q", p.Error())
				}
			}
		})
	}
}

func TestCompileGoConfig(t *testing.T) {
	// A Config built in Go has no positions; problems still name paths.
	_, err := Compile(&Config{Defaults: Policy{Amount: &AmountBounds{Max: "x"}}})
	if err == nil || !strings.Contains(err.Error(), "defaults.amount.max") {
		t.Fatalf("got %v", err)
	}
	g, err := Compile(&Config{Defaults: Policy{Currencies: Currencies{"USD"}, Rules: []Rule{{Name: "big", When: "amount > 10"}}}})
	if err != nil {
		t.Fatal(err)
	}
	e := sale()
	if rj := g.Check(e, now); rj == nil || rj.Reason != ReasonCurrencyNotAllowed {
		t.Fatalf("got %v", rj)
	}
	e.Amount.Currency = "USD"
	if rj := g.Check(e, now); rj == nil || rj.Reason != "rule:big" {
		t.Fatalf("got %v", rj)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"10m": 10 * time.Minute, "400d": 400 * 24 * time.Hour, "0": 0, "0d": 0, "1h30m": 90 * time.Minute} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "d", "1.5d", "-1d", "-1h", "1y", "99999999d"} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func FuzzConfig(f *testing.F) {
	f.Add([]byte(typical))
	f.Add([]byte("defaults: {}\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		cfg, err := ParseConfig(doc)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("ParseConfig error is not a *ConfigError with problems: %v", err)
			}
			return
		}
		g, err := Compile(cfg)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("Compile error is not a *ConfigError with problems: %v", err)
			}
			return
		}
		// A compiled gate must check without panicking.
		for _, src := range []string{"erp-eu", "pos-apac", "crm"} {
			e := sale()
			e.Source = src
			_ = g.Check(e, now)
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	g := gate(b, typical)
	proto := sale()
	e := new(canonical.Event)
	b.ReportAllocs()
	for b.Loop() {
		*e = *proto
		if rj := g.Check(e, now); rj != nil {
			b.Fatal(rj)
		}
	}
}
