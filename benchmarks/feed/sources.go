package feed

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Each source's records, in the shapes of the samples next to its example
// config in connectors/examples.

var (
	est      = time.FixedZone("EST", -5*3600)
	channels = []string{"outbound", "inbound", "partner", "web"}
	regions  = []string{"us-west", "us-east", "ca", "us-central"}
	stores   = []string{"München-Pasing", "Hamburg-Altona", "Berlin-Mitte", "Köln-Ehrenfeld", "Leipzig-Zentrum",
		"Stuttgart-West", "Dresden-Neustadt", "Frankfurt-Bornheim"}
	warehouses = []string{"MUC", "BER", "HAM", "LYS", "MAN"}
)

// crm makes one CRM opportunity (crm-opportunities.yaml).
func (g *gen) crm() {
	g.seq++
	w := g.draw()
	if w == wDuplicate && g.duplicate() {
		return
	}
	if w == wCancel {
		if s, ok := g.take(CRM); ok {
			// A won deal reopened and lost: the same opportunity, stage
			// closed_reversed, closed now.
			n, _ := strconv.Atoi(s.rep)
			v := crmJSON(s.txn, "closed_reversed", g.eventTime(false), crmEmployee(n), s.account, s.product, 1,
				strconv.Quote(cents(s.amount, '.')), s.currency, "outbound")
			g.emit(Item{Topic: RawTopic(CRM), Source: CRM, Key: []byte(s.txn), Value: []byte(v),
				Want: []Outcome{{Kind: KindCancel, Credits: s.recips}}})
			return
		}
		w = wSale
	}
	opp := "OPP-" + strconv.Itoa(g.seq)
	rep, _ := g.rep()
	n := g.repIndex(rep)
	late := w == wSale && g.late()
	amount := g.money(500, 50_000)
	cur := "USD"
	if g.rnd.IntN(10) == 0 {
		cur = "CAD"
	}
	amt := strconv.Quote(cents(amount, '.'))
	if g.rnd.IntN(20) == 0 {
		amt = cents(amount, '.') // a JSON number, read as its exact text
	}
	account, product, qty := g.rnd.IntN(g.accounts), g.rnd.IntN(g.products), 1+g.rnd.IntN(5)
	stage, emp, curField := "closed_won", crmEmployee(n), cur
	want := Outcome{Kind: KindSale, Late: late, Credits: 1}
	when := g.eventTime(late)
	switch w {
	case wSkip:
		stage, want = "closed_lost", Outcome{Skip: "ignored_type"}
	case wMalformed:
		switch g.rnd.IntN(6) {
		case 0:
			v := crmJSON(opp, stage, when, emp, account, product, qty, amt, cur, channels[g.seq%4])
			g.emit(Item{Topic: RawTopic(CRM), Source: CRM, Key: []byte(opp), Value: []byte(v[:len(v)/2]),
				Want: []Outcome{{Reject: "malformed_json"}}})
			return
		case 1:
			emp, want = "", Outcome{Reject: "missing_field"}
		case 2:
			amt, want = `"1,250.00"`, Outcome{Reject: "invalid_field"}
		case 3:
			stage, want = "negotiation", Outcome{Reject: "unmapped_type"}
		case 4:
			account, want = -1, Outcome{Reject: "test_account"}
		default:
			v := crmJSON(opp, stage, when, emp, account, product, qty, amt, cur, channels[g.seq%4])
			v = strings.Replace(v, when.In(est).Format(time.RFC3339), when.Format("02/01/2006"), 1)
			g.emit(Item{Topic: RawTopic(CRM), Source: CRM, Key: []byte(opp), Value: []byte(v),
				Want: []Outcome{{Reject: "invalid_field"}}})
			return
		}
	default:
		if cur == "USD" && g.rnd.IntN(10) == 0 {
			curField = "" // older records carry no currency: USD by default
		}
	}
	v := crmJSON(opp, stage, when, emp, account, product, qty, amt, curField, channels[g.seq%4])
	it := Item{Topic: RawTopic(CRM), Source: CRM, Key: []byte(opp), Value: []byte(v), Want: []Outcome{want}}
	g.emit(it)
	if want.Kind == KindSale {
		g.keep(CRM, sale{txn: opp, rep: strconv.Itoa(n), recips: 1, amount: amount, currency: cur, product: product, account: account})
		g.remember(it)
	}
}

func crmJSON(opp, stage string, when time.Time, emp string, account, product, qty int, amount, currency, channel string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"opportunity": {"id": %q, "name": "Deal %s"}, "stage": %q, "closed_at": %q, "owner": {`, opp, opp[4:], stage, when.In(est).Format(time.RFC3339))
	if emp != "" {
		fmt.Fprintf(&b, `"employee_id": %q, `, emp)
	}
	acc := "TEST-1"
	if account >= 0 {
		acc = "A-" + strconv.Itoa(account)
	}
	fmt.Fprintf(&b, `"email": "rep%s@example.com"}, "account": {"id": %q, "region": %q}, "primary_product": {"sku": "P-%d", "quantity": "%d"}, "amount": %s`,
		strings.TrimPrefix(emp, "E-"), acc, regions[product%len(regions)], product, qty, amount)
	if currency != "" {
		fmt.Fprintf(&b, `, "currency": %q`, currency)
	}
	fmt.Fprintf(&b, `, "source_channel": %q}`, channel)
	return b.String()
}

// erp makes one change event of the ERP's orders table
// (erp-orders-debezium.yaml): the row's primary key is the record key.
func (g *gen) erp() {
	g.seq++
	w := g.draw()
	if w == wDuplicate {
		w = wSale // the ERP's changes are not sent twice
	}
	if w == wCancel {
		if s, ok := g.take(ERP); ok {
			key := []byte(`{"id": ` + strconv.Itoa(s.id) + `}`)
			now := g.eventTime(false)
			cancelled := strings.Replace(s.row, `"status": "invoiced"`, `"status": "cancelled"`, 1)
			want := []Outcome{{Kind: KindCancel, Credits: s.recips}}
			if g.rnd.IntN(10) < 7 {
				g.emit(Item{Topic: RawTopic(ERP), Source: ERP, Key: key, Value: []byte(g.envelope(s.row, cancelled, "u", now)), Want: want})
				return
			}
			// A deleted order: its change, then the tombstone that lets
			// compaction forget the key.
			g.emit(Item{Topic: RawTopic(ERP), Source: ERP, Key: key, Value: []byte(g.envelope(s.row, "null", "d", now)), Want: want})
			g.emit(Item{Topic: RawTopic(ERP), Source: ERP, Key: key, Want: []Outcome{{Skip: "cdc_tombstone"}}})
			return
		}
		w = wSale
	}
	id := g.seq
	key := []byte(`{"id": ` + strconv.Itoa(id) + `}`)
	rep, _ := g.rep()
	late := w == wSale && g.late()
	when := g.eventTime(late)
	net := g.money(100, 20_000)
	cur := "EUR"
	if g.rnd.IntN(5) == 0 {
		cur = "GBP"
	}
	margin := net * int64(20+g.rnd.IntN(20)) / 100
	account, product := g.rnd.IntN(g.accounts), g.rnd.IntN(g.products)
	netS, status := cents(net, '.'), "invoiced"
	want := Outcome{Kind: KindSale, Late: late, Credits: 1}
	op, before := "c", "null"
	switch w {
	case wSkip:
		if g.rnd.IntN(2) == 0 {
			status, want = "draft", Outcome{Skip: "ignored_type"}
		} else {
			// An invoiced order whose warehouse changes: nothing mapped
			// changes.
			op, want = "u", Outcome{Skip: "cdc_no_change"}
			before = erpRow(id, status, account, rep, product, netS, cents(margin, '.'), cur, "BER", when)
		}
	case wMalformed:
		switch g.rnd.IntN(4) {
		case 0:
			v := g.envelope("null", erpRow(id, status, account, rep, product, netS, cents(margin, '.'), cur, warehouses[id%5], when), "c", g.clock)
			g.emit(Item{Topic: RawTopic(ERP), Source: ERP, Key: key, Value: []byte(v[:len(v)*2/3]), Want: []Outcome{{Reject: "malformed_json"}}})
			return
		case 1:
			op, want = "t", Outcome{Reject: "malformed_cdc"}
		case 2:
			netS, want = strings.Replace(netS, ".", ",", 1), Outcome{Reject: "invalid_field"}
		default:
			status, want = "on_hold", Outcome{Reject: "unmapped_type"}
		}
	default:
		if g.rnd.IntN(3) == 0 {
			// Drafted earlier, invoiced now.
			op = "u"
			before = erpRow(id, "confirmed", account, rep, product, netS, cents(margin, '.'), cur, warehouses[id%5], when)
		}
	}
	row := erpRow(id, status, account, rep, product, netS, cents(margin, '.'), cur, warehouses[id%5], when)
	g.emit(Item{Topic: RawTopic(ERP), Source: ERP, Key: key, Value: []byte(g.envelope(before, row, op, g.clock)), Want: []Outcome{want}})
	if want.Kind == KindSale {
		g.keep(ERP, sale{txn: "SO-" + strconv.Itoa(id), rep: rep, recips: 1, amount: net, currency: cur, id: id, row: row})
	}
}

func erpRow(id int, status string, account int, rep string, product int, net, margin, currency, warehouse string, invoiced time.Time) string {
	return fmt.Sprintf(`{"id": %d, "order_no": "SO-%d", "status": %q, "customer_id": "A-%d", "sales_rep": %q, "main_item": "P-%d", `+
		`"net_total": %q, "gross_margin": %q, "currency": %q, "warehouse": %q, "invoiced_at": %q}`,
		id, id, status, account, rep, product, net, margin, currency, warehouse, invoiced.UTC().Format("2006-01-02T15:04:05.000000Z"))
}

// envelope wraps a change as Debezium's PostgreSQL connector writes it;
// one in ten with the schema wrapper of the JSON converter.
func (g *gen) envelope(before, after, op string, ts time.Time) string {
	ms := ts.UnixMilli()
	env := fmt.Sprintf(`{"before": %s, "after": %s, "source": {"version": "2.7.3.Final", "connector": "postgresql", "name": "erp", `+
		`"ts_ms": %d, "snapshot": "false", "db": "erp", "schema": "public", "table": "sales_orders", "txId": %d, "lsn": %d}, "op": %q, "ts_ms": %d}`,
		before, after, ms, 5000+g.seq, 24000000+512*g.seq, op, ms+120)
	if g.rnd.IntN(10) == 0 {
		return `{"schema": {"type": "struct", "name": "erp.public.sales_orders.Envelope", "optional": false}, "payload": ` + env + `}`
	}
	return env
}

const posHeader = "\uFEFFreceipt_no;kind;original_receipt;sold_at;cashier;sku;qty;total;currency;store;note\n"

// pos makes one upload of a store's till (pos-export.yaml): a header and a
// few receipts, keyed by the store, so that a return meets its sale.
func (g *gen) pos() {
	store := stores[g.rnd.IntN(len(stores))]
	var b strings.Builder
	b.WriteString(posHeader)
	var want []Outcome
	for range 1 + g.rnd.IntN(g.cfg.POSReceipts) {
		g.seq++
		want = append(want, g.posRow(&b, store))
	}
	g.emit(Item{Topic: RawTopic(POS), Source: POS, Key: []byte(store), Value: []byte(b.String()), Want: want})
}

func (g *gen) posRow(b *strings.Builder, store string) Outcome {
	w := g.draw()
	receipt := "B-" + strconv.Itoa(g.seq)
	cell := func(cells ...string) {
		b.WriteString(strings.Join(cells, ";"))
		b.WriteByte('\n')
	}
	local := func(t time.Time) string { return t.In(berlin).Format("02.01.2006 15:04") }
	if w == wCancel {
		if s, ok := g.take(POS + "/" + store); ok {
			n, _ := strconv.Atoi(s.rep)
			if g.rnd.IntN(2) == 0 {
				part := s.amount * int64(1+g.rnd.IntN(10)) / 10
				cell(receipt, "RETURN", s.txn, local(g.eventTime(false)), posCashier(n), "P-"+strconv.Itoa(s.product), "1",
					posAmount(max(part, 1)), "EUR", store, "")
				return Outcome{Kind: KindReturn, Credits: s.recips}
			}
			cell(receipt, "VOID", s.txn, local(g.eventTime(false)), posCashier(n), "P-"+strconv.Itoa(s.product), "1",
				posAmount(s.amount), "EUR", store, "")
			return Outcome{Kind: KindCancel, Credits: s.recips}
		}
	}
	rep, _ := g.rep()
	n := g.repIndex(rep)
	late := (w == wSale || w == wDuplicate || w == wCancel) && g.late()
	when := g.eventTime(late)
	amount, product, qty := g.money(5, 800), g.rnd.IntN(g.products), 1+g.rnd.IntN(4)
	kind, total, note := "SALE", posAmount(amount), ""
	switch g.rnd.IntN(40) {
	case 0:
		note = `"Kunde zahlt; bar"`
	case 1:
		note = "\"Bon nachgedruckt\nKasse 2\""
	}
	out := Outcome{Kind: KindSale, Late: late, Credits: 1}
	switch w {
	case wSkip:
		kind, out = "TRAINING", Outcome{Skip: "ignored_type"}
	case wMalformed:
		switch g.rnd.IntN(5) {
		case 0:
			total, out = "19.99", Outcome{Reject: "invalid_field"}
		case 1:
			cell(receipt, kind, "", local(when), posCashier(n), "P-"+strconv.Itoa(product), strconv.Itoa(qty), total, "EUR", store, note, "x")
			return Outcome{Reject: "malformed_csv"}
		case 2:
			kind, out = "REFUND", Outcome{Reject: "unmapped_type"}
		case 3:
			cell(receipt, kind, "", when.Format("2006-01-02T15:04"), posCashier(n), "P-"+strconv.Itoa(product), strconv.Itoa(qty), total, "EUR", store, note)
			return Outcome{Reject: "invalid_field"}
		default:
			total, out = posAmount(60_000_00), Outcome{Reject: "amount_above_max"}
		}
	}
	cell(receipt, kind, "", local(when), posCashier(n), "P-"+strconv.Itoa(product), strconv.Itoa(qty), total, "EUR", store, note)
	if out.Kind == KindSale {
		g.keep(POS+"/"+store, sale{txn: receipt, rep: strconv.Itoa(n), recips: 1, amount: amount, currency: "EUR", product: product})
	}
	return out
}

// posAmount writes cents with a decimal comma and dots between thousands.
func posAmount(c int64) string {
	units := strconv.FormatInt(c/100, 10)
	var b strings.Builder
	for i, d := range units {
		if i > 0 && (len(units)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(d)
	}
	s := cents(c, ',')
	return b.String() + s[strings.IndexByte(s, ','):]
}

// shop makes one order webhook (shop-webhook.yaml), keyed by order id.
func (g *gen) shop() {
	g.seq++
	w := g.draw()
	if w == wDuplicate && g.duplicate() {
		return
	}
	if w == wCancel {
		if s, ok := g.take(Shop); ok {
			v := strings.Replace(s.row, `"financial_status": "paid"`, `"financial_status": "refunded"`, 1)
			v = strings.Replace(v, `"webhook_id": "wh_`, `"webhook_id": "wh_r`, 1)
			v = replaceTime(v, g.eventTime(false))
			g.emit(Item{Topic: RawTopic(Shop), Source: Shop, Key: []byte(strconv.Itoa(s.id)), Value: []byte(v),
				Want: []Outcome{{Kind: KindCancel, Credits: s.recips}}})
			return
		}
		w = wSale
	}
	id := 100_000 + g.seq
	late := w == wSale && g.late()
	when := g.eventTime(late)
	cur := []string{"USD", "USD", "EUR", "GBP"}[g.rnd.IntN(4)]
	total := g.money(20, 500)
	status, totalS := "paid", strconv.Quote(cents(total, '.'))
	if g.rnd.IntN(10) == 0 {
		totalS = cents(total, '.')
	}
	rep, _ := g.rep()
	var attribution string
	recips := 1
	if g.rnd.IntN(1000) < g.cfg.SplitPerMille {
		shares := [][]string{{"0.6", "0.4"}, {"0.5", "0.3", "0.2"}}[g.rnd.IntN(2)]
		attribution, recips = g.attribution(rep, shares), len(shares)
	}
	out := Outcome{Kind: KindSale, Late: late, Credits: recips}
	switch w {
	case wSkip:
		status, out = "pending", Outcome{Skip: "ignored_type"}
	case wMalformed:
		switch g.rnd.IntN(4) {
		case 0:
			v := shopJSON(id, status, when, cur, totalS, g.rnd.IntN(g.accounts), rep, g.rnd.IntN(g.products), attribution)
			g.emit(Item{Topic: RawTopic(Shop), Source: Shop, Key: []byte(strconv.Itoa(id)), Value: []byte(v[:len(v)/3]),
				Want: []Outcome{{Reject: "malformed_json"}}})
			return
		case 1:
			attribution, out = g.attribution(rep, []string{"0.6", "0.3"}), Outcome{Reject: "invalid_field"}
		case 2:
			totalS, out = `{"amount": "12.00"}`, Outcome{Reject: "invalid_field"}
		default:
			when, out = time.Time{}, Outcome{Reject: "missing_field"}
		}
	}
	v := shopJSON(id, status, when, cur, totalS, g.rnd.IntN(g.accounts), rep, g.rnd.IntN(g.products), attribution)
	it := Item{Topic: RawTopic(Shop), Source: Shop, Key: []byte(strconv.Itoa(id)), Value: []byte(v), Want: []Outcome{out}}
	g.emit(it)
	if out.Kind == KindSale {
		g.keep(Shop, sale{txn: strconv.Itoa(id), rep: rep, recips: recips, amount: total, currency: cur, id: id, row: v})
		g.remember(it)
	}
}

// attribution is the list of reps who referred an order: rep first, then
// others drawn alike.
func (g *gen) attribution(rep string, shares []string) string {
	reps := []string{rep}
	for tries := 0; len(reps) < len(shares); tries++ {
		r, _ := g.rep()
		if tries > 8 {
			r = g.reps[g.rnd.IntN(len(g.reps))]
		}
		if !slices.Contains(reps, r) {
			reps = append(reps, r)
		}
	}
	parts := make([]string, len(shares))
	for i, s := range shares {
		parts[i] = fmt.Sprintf(`{"rep_id": %q, "share": %q}`, reps[i], s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

const shopTimeLayout = "2006-01-02T15:04:05-07:00"

var cet = time.FixedZone("CET", 3600)

func shopJSON(id int, status string, when time.Time, cur, total string, account int, rep string, product int, attribution string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"id": %d, "webhook_id": "wh_%d", "name": "#%d", "financial_status": %q, `, id, id, id, status)
	if !when.IsZero() {
		fmt.Fprintf(&b, `"processed_at": %q, `, when.In(cet).Format(shopTimeLayout))
	}
	fmt.Fprintf(&b, `"currency": %q, "total_price": %s, "customer": {"id": "A-%d", "email": "buyer%d@example.org"}, `, cur, total, account, id)
	fmt.Fprintf(&b, `"referrer": {"rep_id": %q}, `, rep)
	fmt.Fprintf(&b, `"line_items": [{"sku": "P-%d", "quantity": %d, "price": %s}], "discount_codes": [], "landing_site": "/p/%d"`,
		product, 1+id%3, total, product)
	if attribution != "" {
		fmt.Fprintf(&b, `, "attribution": %s`, attribution)
	}
	b.WriteString("}")
	return b.String()
}

// replaceTime sets an order's processed_at.
func replaceTime(v string, t time.Time) string {
	i := strings.Index(v, `"processed_at": "`)
	if i < 0 {
		return v
	}
	i += len(`"processed_at": "`)
	return v[:i] + t.In(cet).Format(shopTimeLayout) + v[i+len(shopTimeLayout):]
}
