package wallet_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/httpwallet"
	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/wallet"
)

// kafkaTopics are one test's topics, named with a suffix of its own.
type kafkaTopics struct {
	brokers                                              []string
	name                                                 string
	payable, redemptions, registrations, results         string
	instructions, outcomes, ledger, pennyDrops, accounts string
	rejected, changelog, catalogue, closes               string
}

func newKafkaTopics(t *testing.T, brokers []string) *kafkaTopics {
	t.Helper()
	sfx := fmt.Sprint(time.Now().UnixNano())
	tp := &kafkaTopics{brokers: brokers, name: "wallet-" + sfx,
		payable: "payable-" + sfx, redemptions: "redemptions-" + sfx, registrations: "registrations-" + sfx, results: "results-" + sfx,
		instructions: "instructions-" + sfx, outcomes: "outcomes-" + sfx, ledger: "ledger-" + sfx, pennyDrops: "penny-drops-" + sfx,
		accounts: "accounts-" + sfx, rejected: "wallet-rejected-" + sfx, catalogue: "catalogue-" + sfx, closes: "closes-" + sfx}
	tp.changelog = tp.name + ".changelog"
	pt.CreateTopics(t, brokers, 3, []string{tp.payable, tp.redemptions, tp.registrations, tp.results, tp.instructions,
		tp.outcomes, tp.ledger, tp.pennyDrops, tp.rejected}, tp.accounts, tp.changelog)
	pt.CreateTopics(t, brokers, 1, nil, tp.catalogue, tp.closes)
	t.Cleanup(func() {
		adm := pt.Admin(t, brokers)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteGroups(ctx, "accrue-"+tp.name)
		if _, err := adm.DeleteTopics(ctx, tp.all()...); err != nil {
			t.Logf("delete topics: %v", err)
		}
	})
	return tp
}

func (tp *kafkaTopics) all() []string {
	return []string{tp.payable, tp.redemptions, tp.registrations, tp.results, tp.instructions, tp.outcomes, tp.ledger,
		tp.pennyDrops, tp.accounts, tp.rejected, tp.changelog, tp.catalogue, tp.closes}
}

func (tp *kafkaTopics) produce(t *testing.T, topic string, recs ...any) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tp.brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var rs []*kgo.Record
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var key struct {
			RepID string `json:"rep_id"`
			ID    string `json:"id"`
		}
		_ = json.Unmarshal(b, &key)
		k := key.RepID
		if k == "" {
			k = key.ID
		}
		rs = append(rs, &kgo.Record{Key: []byte(k), Value: b})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func (tp *kafkaTopics) read(t *testing.T, topic string) []*kgo.Record {
	t.Helper()
	return pt.ReadAll(t, tp.brokers, topic)
}

// waitUntil polls cond every half second (reading topics costs) until it
// holds, failing after timeout; alive is checked between polls.
func waitUntil(t *testing.T, timeout time.Duration, what string, alive func(), cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if alive != nil {
			alive()
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

type outcome struct {
	Key       string          `json:"idempotency_key"`
	RepID     string          `json:"rep_id"`
	Type      string          `json:"type"`
	Status    string          `json:"status"`
	Reason    string          `json:"reason"`
	Amount    decimal.Decimal `json:"amount"`
	Fee       decimal.Decimal `json:"fee"`
	Available decimal.Decimal `json:"available"`
	Replayed  bool            `json:"replayed"`
}

type instruction struct {
	Key            string          `json:"idempotency_key"`
	RepID          string          `json:"rep_id"`
	Type           string          `json:"type"`
	Amount         decimal.Decimal `json:"amount"`
	Fee            decimal.Decimal `json:"fee"`
	RegistrationID string          `json:"registration_id"`
	KeyID          string          `json:"key_id"`
	SealedAccount  []byte          `json:"sealed_account"`
	ItemID         string          `json:"item_id"`
}

type transaction struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	RepID string `json:"rep_id"`
	Cause string `json:"cause"`
	Legs  []struct {
		Account string          `json:"account"`
		Debit   decimal.Decimal `json:"debit"`
		Credit  decimal.Decimal `json:"credit"`
	} `json:"legs"`
}

func decodeAll[T any](t *testing.T, recs []*kgo.Record) []T {
	t.Helper()
	out := make([]T, 0, len(recs))
	for _, r := range recs {
		var v T
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("%s/%d@%d: %v: %s", r.Topic, r.Partition, r.Offset, err, r.Value)
		}
		out = append(out, v)
	}
	return out
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// repNumber is a rep's bank account number, in clear: random digits, so
// that finding them anywhere is no coincidence.
func repNumber() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	n := []byte("DE")
	for _, c := range b {
		n = append(n, '0'+c%10)
	}
	return string(n)
}

// TestStageOnKafka runs `accrue stage wallet` as a process against a real
// broker and shows the wallet's promises there:
//
//   - many redemption requests for one rep at once, through the HTTP
//     endpoint from concurrent clients, never overdraw: what is accepted,
//     fees included, fits the balance, and the rest is refused with
//     insufficient_balance;
//   - the same idempotency key twice pays once: one instruction;
//   - a SIGKILL after the instructions are out and before their results
//     are applied (and another while they are being applied) loses
//     nothing and pays nothing twice: every ledger transaction is written
//     once, the balances folded from the ledger are the state's to the
//     cent, every instruction is settled or released exactly once;
//   - no plain account number in any topic but the registrations the app
//     writes (instructions and penny drops carry it sealed), nor in the
//     stage's log or its /metrics.
func TestStageOnKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("runs stage processes against a real broker")
	}
	brokers := pt.RealBrokers(t)
	tp := newKafkaTopics(t, brokers)
	dir := t.TempDir()
	bin := pt.AccrueBinary(t)
	t.Logf("logs in %s", dir)

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyFile := filepath.Join(dir, "wallet.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := wallet.New(wallet.Config{Key: key, KeyID: "k1"})
	if err != nil {
		t.Fatal(err)
	}

	// The catalogue holds a spa day before the stage starts.
	tp.produce(t, tp.catalogue, map[string]any{"id": "spa", "kind": "experience", "name": "Thermal spa day", "category": "wellness",
		"countries": []string{"DE"}, "denominations": []any{map[string]any{"currency": "EUR", "face": "80", "prices": map[string]string{"EUR": "80.00"}}}})

	adminAddr := pt.FreeAddr(t)
	start := func(id string) *pt.Proc {
		return pt.StartProc(t, bin, dir, "wallet-"+id, "--brokers", brokers[0], "--log-level", "debug", "stage", "wallet",
			"--name", tp.name, "--payable", tp.payable, "--redemptions", tp.redemptions, "--registrations", tp.registrations,
			"--results", tp.results, "--instructions", tp.instructions, "--outcomes", tp.outcomes, "--ledger", tp.ledger,
			"--penny-drops", tp.pennyDrops, "--accounts", tp.accounts, "--dead-letter", tp.rejected,
			"--catalogue-topic", tp.catalogue, "--closes-topic", tp.closes,
			"--key-file", keyFile, "--key-id", "k1", "--transfer-fee", "EUR=0.50+1%", "--catalogue-fee", "EUR=1.00",
			"--policy", "quarterly=period_close", "--country", "DE",
			"--instance-id", "w1", "--admin-addr", adminAddr, "--sweep-interval", "1s", "--tick", "200ms",
			"--session-timeout", "6s", "--transaction-timeout", "10s", "--max-poll-records", "20")
	}
	p := start("1")
	alive := func() {
		if !p.Alive() {
			p.Died()
		}
	}

	// Seven reps: R-1 for the concurrent requests, R-2 to R-6 for the
	// kill, R-7 earning under a program paid on period close.
	reps := []string{"R-1", "R-2", "R-3", "R-4", "R-5", "R-6", "R-7"}
	numbers := map[string]string{}
	credited := map[string]decimal.Decimal{}
	var payables []any
	for i, rep := range reps {
		numbers[rep] = repNumber()
		amounts := []string{"40.00", "35.00", "25.00"} // 100.00
		if i == 5 {
			amounts = append(amounts, "100.00")
		}
		for j, a := range amounts {
			program := "monthly"
			if rep == "R-7" {
				program = "quarterly"
			}
			payables = append(payables, map[string]any{"idempotency_key": fmt.Sprintf("acc-%s-%d", rep, j), "program_id": program,
				"program_version": 1, "period": "2026-Q4", "rep_id": rep, "currency": "EUR", "amount": a, "event_id": "e"})
			credited[rep] = credited[rep].Add(dec(a))
		}
	}
	// The same payable record twice counts once.
	payables = append(payables, payables[0])
	tp.produce(t, tp.payable, payables...)

	var accountRecs []any
	for _, rep := range reps[:6] {
		reg := "reg-" + rep
		accountRecs = append(accountRecs,
			map[string]any{"type": "register", "registration_id": reg, "rep_id": rep, "holder": "Holder " + rep,
				"bank_code": "COBADEFFXXX", "country": "DE", "currency": "EUR", "number": numbers[rep]},
			map[string]any{"type": "confirm", "id": "conf-" + rep, "registration_id": reg, "rep_id": rep,
				"amount": w.Token(reg, "EUR").String()})
	}
	// Bad registrations carrying numbers: refused, and dead-lettered
	// without the number in clear.
	numbers["R-8"], numbers["R-9"] = repNumber(), repNumber()
	accountRecs = append(accountRecs, map[string]any{"type": "register", "registration_id": "reg-bad", "rep_id": "R-8",
		"holder": "Bad", "bank_code": "B", "country": "DEU", "currency": "EUR", "number": numbers["R-8"]})
	tp.produce(t, tp.registrations, accountRecs...)
	produceRaw(t, brokers, tp.registrations, "R-9", []byte(`{"type":"register","number":"`+numbers["R-9"]+`",`))

	waitUntil(t, 90*time.Second, "a penny drop for every registration", alive, func() bool {
		return len(tp.read(t, tp.pennyDrops)) >= 6
	})
	var results []any
	for _, rep := range reps[:6] {
		results = append(results, map[string]any{"kind": "penny_drop", "id": "pd-" + rep, "rep_id": rep,
			"registration_id": "reg-" + rep, "status": "deposited"})
	}
	tp.produce(t, tp.results, results...)
	verified := func() map[string]string {
		last := map[string]string{}
		for _, r := range tp.read(t, tp.accounts) {
			var e struct{ Status string }
			_ = json.Unmarshal(r.Value, &e)
			last[string(r.Key)] = e.Status
		}
		return last
	}
	waitUntil(t, 90*time.Second, "every account verified", alive, func() bool {
		v := verified()
		for _, rep := range reps[:6] {
			if v[rep] != wallet.StatusVerified {
				return false
			}
		}
		return true
	})
	waitUntil(t, 60*time.Second, "every payable record applied", alive, func() bool {
		return len(tp.read(t, tp.ledger)) >= len(payables)-1
	})

	// Concurrent requests for R-1 through `accrue serve-wallet`, over a
	// real socket: 24 keys of 9.00 to 13.00, with six of them sent twice
	// at once, then one sent again later.
	token := "wallet-test-token-0123456789"
	tokenFile := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokenFile, []byte("another-token-0123456789\n"+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddr := pt.FreeAddr(t)
	server := pt.StartProc(t, bin, dir, "serve-wallet", "--brokers", brokers[0], "serve-wallet", "--addr", httpAddr,
		"--topic", tp.redemptions, "--outcomes", tp.outcomes, "--token-file", tokenFile)
	waitUntil(t, 30*time.Second, "serve-wallet to listen", func() {
		if !server.Alive() {
			server.Died()
		}
	}, func() bool {
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	srvURL := "http://" + httpAddr
	postTransfer := func(key, amount string) int {
		req, _ := http.NewRequest(http.MethodPost, srvURL+httpwallet.Path, strings.NewReader(
			`{"rep_id":"R-1","type":"bank_transfer","amount":"`+amount+`","currency":"EUR"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	const nKeys = 24
	var wg sync.WaitGroup
	amountOf := func(i int) string { return fmt.Sprintf("%d.00", 9+i%5) }
	for i := range nKeys + 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := i % nKeys
			if status := postTransfer(fmt.Sprintf("click-%d", k), amountOf(k)); status != http.StatusAccepted {
				t.Errorf("request %d: status %d", i, status)
			}
		}()
	}
	wg.Wait()
	if status := postTransfer("click-0", amountOf(0)); status != http.StatusAccepted {
		t.Fatalf("the key again: status %d", status)
	}
	waitUntil(t, 90*time.Second, "an outcome for every request of R-1", alive, func() bool {
		return len(outcomesOf(t, tp, "R-1")) >= nKeys+7
	})
	fee := func(amount decimal.Decimal) decimal.Decimal {
		return wallet.Fee{Fixed: dec("0.50"), Percent: dec("1")}.Of(amount, "EUR")
	}
	first := map[string]outcome{}
	replays := 0
	for _, o := range outcomesOf(t, tp, "R-1") {
		if o.Replayed {
			replays++
			if f, ok := first[o.Key]; !ok || f.Status != o.Status || !f.Amount.Equal(o.Amount) {
				t.Errorf("key %s: replayed %+v differs from the first outcome %+v", o.Key, o, f)
			}
			continue
		}
		if _, dup := first[o.Key]; dup {
			t.Errorf("key %s decided twice", o.Key)
		}
		first[o.Key] = o
	}
	var spent decimal.Decimal
	accepted, refused := 0, 0
	for k, o := range first {
		switch o.Status {
		case wallet.OutcomeAccepted:
			accepted++
			spent = spent.Add(o.Amount).Add(o.Fee)
			if !o.Fee.Equal(fee(o.Amount)) {
				t.Errorf("key %s: fee %s on %s, want %s", k, o.Fee, o.Amount, fee(o.Amount))
			}
		case wallet.OutcomeRefused:
			refused++
			var i int
			fmt.Sscanf(k, "click-%d", &i)
			want := dec(amountOf(i))
			if o.Reason != wallet.ReasonInsufficientBalance || !want.Add(fee(want)).GreaterThan(o.Available) {
				t.Errorf("key %s refused (%s) with %s available for %s plus fee", k, o.Reason, o.Available, want)
			}
		default:
			t.Errorf("key %s: outcome %s", k, o.Status)
		}
	}
	if len(first) != nKeys || replays != 7 || accepted == 0 || refused == 0 {
		t.Fatalf("%d keys decided (want %d), %d replays (want 7), %d accepted, %d refused", len(first), nKeys, replays, accepted, refused)
	}
	if spent.GreaterThan(credited["R-1"]) {
		t.Fatalf("overdrawn: accepted %s with fees, balance %s", spent, credited["R-1"])
	}
	// The endpoint answers each request's outcome by its id.
	for _, k := range []string{"click-0", "click-23"} {
		var got struct{ Status, Reason string }
		waitUntil(t, 30*time.Second, "GET of "+k, nil, func() bool {
			req, _ := http.NewRequest(http.MethodGet, srvURL+httpwallet.Path+"/"+httpwallet.RequestID("R-1", k), nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&got) == nil
		})
		if got.Status != first[k].Status || got.Reason != first[k].Reason {
			t.Errorf("GET %s: %s %s, want %s %s", k, got.Status, got.Reason, first[k].Status, first[k].Reason)
		}
	}
	server.Stop()
	t.Logf("R-1: %d requests at once (%d keys, 7 repeated): %d accepted for %s of %s with fees, %d refused for lack of balance",
		nKeys+7, nKeys, accepted, spent, credited["R-1"], refused)

	// Requests of, then the kill once their instructions are
	// out, before any result is applied.
	var requests []any
	for _, rep := range reps[1:6] {
		for j, a := range []string{"10.00", "15.00", "20.00"} {
			requests = append(requests, map[string]any{"idempotency_key": fmt.Sprintf("%s-t%d", rep, j), "rep_id": rep,
				"type": "bank_transfer", "amount": a, "currency": "EUR"})
		}
	}
	requests = append(requests, map[string]any{"idempotency_key": "R-6-spa", "rep_id": "R-6", "type": "catalogue",
		"item_id": "spa", "face": "80", "face_currency": "EUR", "currency": "EUR"})
	tp.produce(t, tp.redemptions, requests...)
	waitUntil(t, 90*time.Second, "the instructions of R-2 to R-6", alive, func() bool {
		return len(tp.read(t, tp.instructions)) >= accepted+len(requests)
	})
	p.Kill()
	t.Logf("killed the stage with %d instructions out", len(tp.read(t, tp.instructions)))

	insts := decodeAll[instruction](t, tp.read(t, tp.instructions))
	seen := map[string]bool{}
	for _, in := range insts {
		id := in.RepID + "/" + in.Key
		if seen[id] {
			t.Fatalf("instruction %s emitted twice", id)
		}
		seen[id] = true
		if in.Type == wallet.RequestBankTransfer {
			n, err := w.Open(in.RepID, in.RegistrationID, in.KeyID, in.SealedAccount)
			if err != nil || n != numbers[in.RepID] {
				t.Fatalf("instruction %s: the sealed number does not open to the rep's (%v)", id, err)
			}
		}
	}
	for k, o := range first {
		if o.Status == wallet.OutcomeAccepted && !seen["R-1/"+k] {
			t.Fatalf("accepted %s has no instruction", k)
		}
	}

	// Results for every instruction: every third failed, the others paid;
	// some sent twice, some told again under another id; one paid
	// transfer comes back.
	resultsOf := map[string][]string{} // rep/key → result ids
	results = nil
	for i, in := range insts {
		status := wallet.ResultPaid
		if i%3 == 2 && in.Key != "R-2-t0" {
			status = wallet.ResultFailed
		}
		r := map[string]any{"id": "bank-" + in.Key, "rep_id": in.RepID, "idempotency_key": in.Key, "status": status}
		results = append(results, r)
		resultsOf[in.RepID+"/"+in.Key] = append(resultsOf[in.RepID+"/"+in.Key], "bank-"+in.Key)
		if i%4 == 0 {
			results = append(results, r)
		}
		if i%5 == 0 {
			again := map[string]any{"id": "bank2-" + in.Key, "rep_id": in.RepID, "idempotency_key": in.Key, "status": status}
			results = append(results, again)
			resultsOf[in.RepID+"/"+in.Key] = append(resultsOf[in.RepID+"/"+in.Key], "bank2-"+in.Key)
		}
	}
	returned := "R-2/R-2-t0"
	results = append(results, map[string]any{"id": "ret-R-2-t0", "rep_id": "R-2", "idempotency_key": "R-2-t0", "status": wallet.ResultReturned})
	half := len(results) / 2
	tp.produce(t, tp.results, results[:half]...)

	// Restart; kill again once it has applied some of the first half;
	// the second half arrives while it is down; restart.
	p = start("2")
	waitUntil(t, 60*time.Second, "the restarted stage to apply results", alive, func() bool {
		return countKind(t, tp, "settle")+countKind(t, tp, "release") > 0
	})
	p.Kill()
	t.Logf("killed the stage again with %d of %d settlements and releases committed",
		countKind(t, tp, "settle")+countKind(t, tp, "release"), len(insts))
	tp.produce(t, tp.results, results[half:]...)
	p = start("3")

	// R-7's quarter closes: its earnings become payable.
	tp.produce(t, tp.closes, map[string]any{"id": "quarterly/2026-Q4", "program_id": "quarterly", "period": "2026-Q4"})

	waitUntil(t, 120*time.Second, "a settlement or release of every instruction and R-7's close", alive, func() bool {
		return countKind(t, tp, "settle")+countKind(t, tp, "release") >= len(insts) && countKind(t, tp, "return") >= 1 &&
			countKind(t, tp, "close") >= 1
	})
	time.Sleep(2 * time.Second) // anything counted twice would show now
	metrics := get(t, "http://"+adminAddr+"/metrics")
	t.Logf("stage stopped: %s", bytes.TrimSpace(p.Stop()))

	// Every ledger transaction once; balances folded from the ledger are
	// the state's, to the cent.
	txs := decodeAll[transaction](t, tp.read(t, tp.ledger))
	folded := map[string]map[string]decimal.Decimal{}
	byID := map[string]bool{}
	postings := map[string]int{} // rep/key → settle and release transactions
	causeOf := map[string]string{}
	for k, ids := range resultsOf {
		for _, id := range ids {
			causeOf[id] = k
		}
	}
	for _, tx := range txs {
		if byID[tx.ID] {
			t.Errorf("transaction %s written twice", tx.ID)
		}
		byID[tx.ID] = true
		if folded[tx.RepID] == nil {
			folded[tx.RepID] = map[string]decimal.Decimal{}
		}
		var d, c decimal.Decimal
		for _, l := range tx.Legs {
			folded[tx.RepID][l.Account] = folded[tx.RepID][l.Account].Add(l.Credit).Sub(l.Debit)
			d, c = d.Add(l.Debit), c.Add(l.Credit)
		}
		if !d.Equal(c) {
			t.Errorf("transaction %s: debits %s, credits %s", tx.ID, d, c)
		}
		if tx.Kind == wallet.KindSettle || tx.Kind == wallet.KindRelease {
			postings[causeOf[tx.Cause]]++
		}
	}
	for id, n := range postings {
		if id == "" || n != 1 {
			t.Errorf("instruction %q settled or released %d times", id, n)
		}
	}
	if len(postings) != len(insts) {
		t.Errorf("%d instructions settled or released, want %d", len(postings), len(insts))
	}
	states := map[string]*wallet.State{}
	for k, v := range pt.LastValues(tp.read(t, tp.changelog)) {
		s, err := wallet.Codec{}.Decode(v)
		if err != nil {
			t.Fatalf("state of %s: %v", k, err)
		}
		states[k] = s
	}
	paid := map[string]decimal.Decimal{}
	for _, in := range insts {
		id := in.RepID + "/" + in.Key
		if st := states[in.RepID].Requests[in.Key]; st == nil || (st.Status != wallet.OutcomePaid && st.Status != wallet.OutcomeReleased &&
			!(id == returned && st.Status == wallet.OutcomeReturned)) {
			t.Errorf("request %s: %+v, want paid, released or (the returned one) returned", id, st)
		} else if st.Status == wallet.OutcomePaid {
			paid[in.RepID] = paid[in.RepID].Add(in.Amount).Add(in.Fee)
		}
	}
	for _, rep := range reps {
		s := states[rep]
		if s == nil {
			t.Fatalf("no state for %s", rep)
		}
		var sum decimal.Decimal
		for acct, bal := range s.Ledger {
			sum = sum.Add(bal)
			if !folded[rep][acct].Equal(bal) {
				t.Errorf("%s %s: state %s, ledger topic %s", rep, acct, bal, folded[rep][acct])
			}
		}
		for acct, bal := range folded[rep] {
			if _, ok := s.Ledger[acct]; !ok && !bal.IsZero() {
				t.Errorf("%s %s: ledger topic %s, not in the state", rep, acct, bal)
			}
		}
		b := s.Balances()
		if !sum.IsZero() || !b.Reserved.IsZero() || !b.Expense.Equal(credited[rep]) ||
			!b.Available.Equal(credited[rep].Sub(paid[rep])) || !b.Paid.Add(b.Fees).Equal(paid[rep]) {
			t.Errorf("%s: ledger sums to %s; reserved %s, expense %s (credited %s), available %s, paid %s + fees %s (want %s)",
				rep, sum, b.Reserved, b.Expense, credited[rep], b.Available, b.Paid, b.Fees, paid[rep])
		}
	}
	t.Logf("%d instructions, each settled or released once after two kills; %d transactions, each once; balances to the cent",
		len(insts), len(txs))

	// Dead letters: the bad registrations, masked.
	var dlReasons []string
	for _, r := range tp.read(t, tp.rejected) {
		reason, _ := pipeline.Header(r, pipeline.HeaderReason)
		dlReasons = append(dlReasons, reason)
	}
	slices.Sort(dlReasons)
	if fmt.Sprint(dlReasons) != "[invalid_account invalid_input]" {
		t.Errorf("dead letters %v, want the two bad registrations", dlReasons)
	}

	// No account number in clear anywhere but the registrations.
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	places := map[string][]byte{"/metrics": metrics}
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		places[filepath.Base(f)] = b
	}
	for _, topic := range tp.all() {
		if topic == tp.registrations {
			continue // the app's registrations: the only place it is in clear
		}
		var all bytes.Buffer
		for _, r := range tp.read(t, topic) {
			all.Write(r.Key)
			all.Write(r.Value)
			for _, hd := range r.Headers {
				all.WriteString(hd.Key)
				all.Write(hd.Value)
			}
		}
		places[topic] = all.Bytes()
	}
	for place, b := range places {
		if bytes.Contains(b, []byte(hex.EncodeToString(key))) {
			t.Errorf("%s holds the sealing key", place)
		}
		for rep, n := range numbers {
			if bytes.Contains(b, []byte(n)) || bytes.Contains(b, []byte(n[:len(n)-4])) {
				t.Errorf("%s holds the account number of %s in clear", place, rep)
			}
		}
	}
	if !bytes.Contains(places[tp.accounts], []byte("****"+numbers["R-2"][len(numbers["R-2"])-4:])) {
		t.Error("the account events do not carry the mask")
	}
	if !bytes.Contains(metrics, []byte(`accrue_wallet_transactions_total{kind="close"} 1`)) {
		t.Errorf("/metrics has no wallet close:\n%s", metrics)
	}
	t.Logf("no account number in clear in %d topics, %d logs or /metrics", len(tp.all()), len(logs))
}

func outcomesOf(t *testing.T, tp *kafkaTopics, rep string) []outcome {
	var out []outcome
	for _, o := range decodeAll[outcome](t, tp.read(t, tp.outcomes)) {
		if o.RepID == rep {
			out = append(out, o)
		}
	}
	return out
}

func countKind(t *testing.T, tp *kafkaTopics, kind string) int {
	n := 0
	for _, tx := range decodeAll[transaction](t, tp.read(t, tp.ledger)) {
		if tx.Kind == kind {
			n++
		}
	}
	return n
}

func produceRaw(t *testing.T, brokers []string, topic, key string, value []byte) {
	t.Helper()
	pt.ProduceRaw(t, brokers, topic, []byte(key), value)
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}
