package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/transforms/ingest"
)

// World is the input of the whole-pipeline test: reference data,
// the raw records of two source systems (canonical JSON, some broken, some
// sent twice) and the same events as `accrue simulate` reads them.
type World struct {
	Files map[string]string // reps, products, fx, events, crm.yaml, erp.yaml
	Raw   []*kgo.Record     // in the order they are produced; Topic is the source
	// Events is the number of valid events (copies included) in Files["events.jsonl"].
	Events int
	// Unique is the number of distinct valid events: the rows of sales.
	Unique int
	// Broken is the raw records the ingest stage must refuse, by reason.
	Broken map[string]int
	// Copies is the exact copies the dedupe stage must refuse.
	Copies int
	// IDs counts the valid raw records of each event id: 2 for an event
	// sent twice, else 1.
	IDs map[string]int
}

// The sources of the pipeline world and their currencies (the last ones
// rarer). GBP has no rate: its sales fail fx_rate_missing wherever a program
// credits them.
var Sources = []struct {
	name       string
	currencies []string
}{
	{"crm", []string{"USD", "USD", "USD", "USD", "USD", "USD", "USD", "USD", "SGD", "GBP"}},
	{"erp", []string{"EUR", "EUR", "EUR", "EUR", "EUR", "EUR", "JPY"}},
}

// worldMapping maps a source's canonical JSON to itself, every type and
// optional field included. %s is the source.
const worldMapping = `source: %s
format: json
time:
  layout: rfc3339
type:
  field: type
  map: {sale: sale, return: return, cancel: cancel, adjustment: adjustment}
fields:
  event_id: event_id
  txn_id: txn_id
  ref_txn_id: ref_txn_id
  event_time: event_time
  rep_id: rep_id
  product_id: product_id
  quantity: quantity
  amount:
    value: amount.value
    currency: amount.currency
  margin:
    value: margin.value
    currency: margin.currency
  attributes:
    channel: attributes.channel
splits:
  path: splits
  rep: rep_id
  share: share
`

const worldReps = 60

// worldWhales are two AEs whose own sales are many times the others':
// their commission reaches ae-commission's cap.
var worldWhales = map[string]bool{"R-1": true, "R-4": true}

// NewWorld writes the reference data and the simulate input to dir
// and returns n raw records made from seed.
//
// Reps: two directors, four managers, 60 reps (AE or SE, team emea or na),
// every seventh of whom changes role and manager on 2026-06-01. Products:
// software, services and hardware, and P-NEW (the launch spiff of
// ae-commission). Rates: EUR, SGD to USD, USD to JPY; none for GBP.
//
// Events, over 2026: sales (a quarter split between two or three reps,
// 1.5% by a rep nobody knows, those of worldWhales far larger), returns (one in twenty more than the sale),
// cancels, adjustments and returns of sales never sent. A sale gets at most
// one return or cancel, so that the final figures do not depend on the
// order in which partitions interleave (the stream's order is not the
// file's); 1% of the records are broken (cut JSON, no rep, an amount that
// is no number) and 0.5% are exact copies of the record before.
func NewWorld(t testing.TB, dir string, seed uint64, n int) *World {
	t.Helper()
	rnd := rand.New(rand.NewPCG(seed, seed^0xe2e))
	w := &World{Files: map[string]string{}, Broken: map[string]int{}, IDs: map[string]int{}}

	var reps strings.Builder
	fmt.Fprintln(&reps, `{"rep_id":"D-emea","name":"Director EMEA","role":"RVP","team":"emea","currency":"EUR","valid_from":"2025-01-01"}`)
	fmt.Fprintln(&reps, `{"rep_id":"D-na","name":"Director NA","role":"RVP","team":"na","currency":"USD","valid_from":"2025-01-01"}`)
	teams := []string{"emea", "na"}
	for m := range 4 {
		fmt.Fprintf(&reps, `{"rep_id":"M-%d","role":"Manager","team":"%s","manager_id":"D-%s","currency":"USD","valid_from":"2025-01-01"}`+"\n",
			m, teams[m/2], teams[m/2])
	}
	for i := range worldReps {
		team := teams[i%2]
		role := []string{"AE", "AE", "SE"}[i%3]
		mgr := (i%2)*2 + (i/2)%2
		fmt.Fprintf(&reps, `{"rep_id":"R-%d","role":"%s","team":"%s","manager_id":"M-%d","currency":"USD","valid_from":"2026-01-01"}`+"\n",
			i, role, team, mgr)
		if i%7 == 0 {
			other := map[string]string{"AE": "SE", "SE": "AE"}[role]
			fmt.Fprintf(&reps, `{"rep_id":"R-%d","role":"%s","team":"%s","manager_id":"M-%d","currency":"USD","valid_from":"2026-06-01"}`+"\n",
				i, other, team, (i%2)*2+1-(i/2)%2)
		}
	}
	products := []string{"P-NEW"}
	var prods strings.Builder
	fmt.Fprintln(&prods, `{"product_id":"P-NEW","category":"software","valid_from":"2026-01-01"}`)
	for i := range 9 {
		products = append(products, "P-"+strconv.Itoa(i))
		fmt.Fprintf(&prods, `{"product_id":"P-%d","category":"%s","valid_from":"2026-01-01"}`+"\n", i, []string{"software", "services", "hardware"}[i%3])
	}
	fx := `{"from":"EUR","to":"USD","rate":"1.08","valid_from":"2026-01-01"}
{"from":"EUR","to":"USD","rate":"1.1","valid_from":"2026-06-01"}
{"from":"USD","to":"JPY","rate":"150","valid_from":"2026-01-01"}
{"from":"SGD","to":"USD","rate":"0.74","valid_from":"2026-01-01"}
`
	write := func(name, body string) {
		w.Files[name] = filepath.Join(dir, name)
		if err := os.WriteFile(w.Files[name], []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("reps.jsonl", reps.String())
	write("products.jsonl", prods.String())
	write("fx.jsonl", fx)
	for _, s := range Sources {
		write(s.name+".yaml", fmt.Sprintf(worldMapping, s.name))
	}

	// Sales without a return or cancel yet, which a later one may take.
	var open []*canonical.Event
	var lines strings.Builder
	var last *kgo.Record
	var lastID string
	start := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC)
	step := (355 * 24 * time.Hour) / time.Duration(n)
	money := func(cur string) decimal.Decimal {
		if cur == "JPY" {
			return decimal.NewFromInt(int64(15000 + rnd.IntN(600000)))
		}
		return decimal.New(int64(10000+rnd.IntN(400000)), -2)
	}
	// A whale's sales are 20 times the others' at 100,000 records, more
	// in smaller worlds, so that the cap bites in any.
	whale := 20 * max(1, 100_000/n)
	rep := func() string { return "R-" + strconv.Itoa(rnd.IntN(worldReps)) }
	later := func(t time.Time) time.Time {
		t = t.Add(time.Duration(1+rnd.IntN(150*24)) * time.Hour)
		if t.After(end) {
			return end
		}
		return t
	}
	for i := 0; len(w.Raw) < n; i++ {
		when := start.Add(time.Duration(i) * step).Add(time.Duration(rnd.IntN(3600)) * time.Second)
		si := rnd.IntN(2)
		src := Sources[si]
		txn := fmt.Sprintf("T%d", i)
		if k := rnd.IntN(1000); k < 5 && last != nil {
			// An exact copy, as a source that retries sends it.
			c := *last
			w.Raw = append(w.Raw, &c)
			lines.WriteString(string(c.Value) + "\n")
			w.Events++
			w.Copies++
			w.IDs[lastID]++
			continue
		} else if k < 15 {
			// A broken record.
			e := &canonical.Event{EventID: canonical.DefaultEventID(src.name, txn, canonical.Sale), Source: src.name, TxnID: txn,
				Type: canonical.Sale, EventTime: when, RepID: rep(), ProductID: products[rnd.IntN(len(products))],
				Amount: canonical.Money{Value: money(src.currencies[0]), Currency: src.currencies[0]}}
			v := string(e.AppendJSON(nil))
			var reason string
			switch rnd.IntN(3) {
			case 0:
				v, reason = v[:len(v)/2], "malformed_json"
			case 1:
				v, reason = strings.Replace(v, `"rep_id":"`+e.RepID+`",`, "", 1), "missing_field"
			default:
				v, reason = strings.Replace(v, `"value":"`, `"value":"12,`, 1), "invalid_field"
			}
			w.Broken[reason]++
			w.Raw = append(w.Raw, &kgo.Record{Topic: src.name, Key: ingest.Key(e), Value: []byte(v)})
			continue
		}
		var e *canonical.Event
		switch k := rnd.IntN(1000); {
		case k < 110 && len(open) > 0: // a return
			j := rnd.IntN(len(open))
			orig := open[j]
			open[j] = open[len(open)-1]
			open = open[:len(open)-1]
			part := orig.Amount.Value.Mul(decimal.NewFromInt(int64(1 + rnd.IntN(70)))).Div(decimal.NewFromInt(100))
			if rnd.IntN(20) == 0 {
				part = orig.Amount.Value.Mul(decimal.RequireFromString("1.1"))
			}
			if orig.Amount.Currency == "JPY" {
				part = part.Round(0)
			} else {
				part = part.Round(2)
			}
			e = &canonical.Event{Source: orig.Source, TxnID: txn, Type: canonical.Return, RefTxnID: orig.TxnID,
				EventTime: later(orig.EventTime), ProductID: orig.ProductID,
				Amount: canonical.Money{Value: part, Currency: orig.Amount.Currency}}
			if orig.Quantity.Valid && rnd.IntN(2) == 0 {
				e.Quantity = decimal.NewNullDecimal(decimal.NewFromInt(1))
			}
		case k < 170 && len(open) > 0: // a cancel
			j := rnd.IntN(len(open))
			orig := open[j]
			open[j] = open[len(open)-1]
			open = open[:len(open)-1]
			e = &canonical.Event{Source: orig.Source, TxnID: txn, Type: canonical.Cancel, RefTxnID: orig.TxnID,
				EventTime: later(orig.EventTime), Amount: canonical.Money{Value: decimal.Zero, Currency: orig.Amount.Currency}}
		case k < 173: // a return of a sale never sent
			e = &canonical.Event{Source: src.name, TxnID: txn, Type: canonical.Return, RefTxnID: "NEVER-" + txn, EventTime: when,
				Amount: canonical.Money{Value: decimal.New(1000, -2), Currency: src.currencies[0]}}
		case k < 250: // an adjustment
			v := decimal.New(int64(rnd.IntN(300000)-100000), -2)
			e = &canonical.Event{Source: src.name, TxnID: txn, Type: canonical.Adjustment, EventTime: when, RepID: rep(),
				ProductID: products[rnd.IntN(len(products))], Amount: canonical.Money{Value: v, Currency: "USD"}}
			if rnd.IntN(2) == 0 {
				e.Margin = &canonical.Money{Value: v.Div(decimal.NewFromInt(4)).Round(2), Currency: "USD"}
			}
		default: // a sale
			cur := src.currencies[rnd.IntN(len(src.currencies))]
			amount := money(cur)
			seller := rep()
			if worldWhales[seller] {
				amount = amount.Mul(decimal.NewFromInt(int64(whale)))
			}
			e = &canonical.Event{Source: src.name, TxnID: txn, Type: canonical.Sale, EventTime: when, RepID: seller,
				ProductID: products[rnd.IntN(len(products))], Amount: canonical.Money{Value: amount, Currency: cur}}
			if rnd.IntN(3) > 0 {
				m := amount.Mul(decimal.RequireFromString("0.3"))
				if cur == "JPY" {
					m = m.Round(0)
				}
				e.Margin = &canonical.Money{Value: m.Round(2), Currency: cur}
			}
			if rnd.IntN(2) == 0 {
				e.Quantity = decimal.NewNullDecimal(decimal.NewFromInt(int64(1 + rnd.IntN(5))))
			}
			if rnd.IntN(3) == 0 {
				e.Attributes = map[string]string{"channel": "online"}
			}
			switch r := rnd.IntN(200); {
			case r < 3:
				e.RepID = "R-UNKNOWN"
			case r < 50:
				first := rnd.IntN(worldReps)
				for j, s := range [][]string{{"0.5", "0.5"}, {"0.25", "0.75"}, {"0.3", "0.3", "0.4"}}[rnd.IntN(3)] {
					e.Splits = append(e.Splits, canonical.Split{RepID: "R-" + strconv.Itoa((first+j*7)%worldReps), Share: decimal.RequireFromString(s)})
				}
				e.RepID = ""
			}
			if e.RepID != "R-UNKNOWN" && cur != "GBP" {
				open = append(open, e)
			}
		}
		e.EventID = canonical.DefaultEventID(e.Source, e.TxnID, e.Type)
		if err := e.Validate(); err != nil {
			t.Fatalf("generated a bad event %s: %v", e.EventID, err)
		}
		v := e.AppendJSON(nil)
		last = &kgo.Record{Topic: src.name, Key: ingest.Key(e), Value: v}
		if e.Source != src.name {
			last.Topic = e.Source
		}
		w.Raw = append(w.Raw, last)
		lines.Write(v)
		lines.WriteByte('\n')
		w.Events++
		w.Unique++
		w.IDs[e.EventID]++
		lastID = e.EventID
	}
	write("events.jsonl", lines.String())
	return w
}
