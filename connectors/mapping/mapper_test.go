package mapping

import (
	"strings"
	"testing"

	"github.com/accrue/accrue/connectors/canonical"
)

func mustMapper(t testing.TB, doc string) *Mapper {
	t.Helper()
	c, err := Parse([]byte(doc), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func collect(t testing.TB, m *Mapper, payload string) []Outcome {
	t.Helper()
	var out []Outcome
	m.Map([]byte(payload), func(o Outcome) {
		checkOne(t, o)
		out = append(out, o)
	})
	return out
}

// summary writes outcomes as "E" (event), "S:reason" or "R:reason:field",
// each with its line.
func summary(out []Outcome) string {
	var parts []string
	for _, o := range out {
		var s string
		switch {
		case o.Event != nil:
			s = "E"
		case o.Skip != "":
			s = "S:" + o.Skip
		default:
			s = "R:" + o.Reject.Reason
			if o.Reject.Field != "" {
				s += ":" + o.Reject.Field
			}
		}
		parts = append(parts, s+"@"+itoa(o.Line))
	}
	return strings.Join(parts, " ")
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

const jsonCfg = `source: web
format: json
type:
  field: status
  map: {won: sale, void: cancel, back: return, fix: adjustment}
  ignore: [lost]
fields:
  txn_id: id
  event_time: at
  rep_id: owner.id
  account_id: acct
  quantity: lines[0].qty
  amount: {value: amt, currency: cur}
  margin: {value: mgn, currency: cur}
  attributes: {channel: ch}
defaults: {amount.currency: usd}
constants: {attributes.src: test}
`

const rec = `{"id":"T1","status":"won","at":"2026-11-03T10:15:00Z","owner":{"id":"R-1"},"amt":"10.50"}`

func TestJSONFraming(t *testing.T) {
	m := mustMapper(t, jsonCfg)
	for _, tc := range []struct{ name, in, want string }{
		{"one object", rec, "E@1"},
		{"pretty object", "\n\n{\n \"id\": \"T1\", \"status\": \"won\",\n \"at\": \"2026-11-03T10:15:00Z\", \"owner\": {\"id\": \"R-1\"}, \"amt\": \"1\"\n}\n", "E@3"},
		{"array", "[" + rec + ",\n" + rec + "\n, " + rec + "]", "E@1 E@2 E@3"},
		{"empty array", "[]", ""},
		{"empty", "  \n", ""},
		{"ndjson", rec + "\n\n" + rec + "\r\n" + rec, "E@1 E@3 E@4"},
		{"ndjson broken line", rec + "\n{\"id\": \n" + rec, "E@1 R:malformed_json@2 E@3"},
		{"ndjson scalar line", rec + "\n42\n" + rec, "E@1 R:malformed_json@2 E@3"},
		{"array with scalar", "[" + rec + ", 7, null]", "E@1 R:malformed_json@1 R:malformed_json@1"},
		{"broken array", "[" + rec + ",\n{\"id\": }, " + rec + "]", "E@1 R:malformed_json@2"},
		{"unclosed array", "[" + rec + ",\n" + rec, "E@1 E@2"},
		{"not json", "hello", "R:malformed_json@1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := summary(collect(t, m, tc.in)); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestJSONMapping(t *testing.T) {
	m := mustMapper(t, jsonCfg)
	r := func(s string) string { return s }
	for _, tc := range []struct{ name, in, want string }{
		{"sale", rec, "E@1"},
		{"ignored", r(`{"id":"T1","status":"lost"}`), "S:ignored_type@1"},
		{"unmapped", r(`{"id":"T1","status":"maybe"}`), "R:unmapped_type:type@1"},
		{"no status", r(`{"id":"T1"}`), "R:missing_field:type@1"},
		{"status object", r(`{"id":"T1","status":{"a":1}}`), "R:invalid_field:type@1"},
		{"no txn", strings.Replace(rec, `"id":"T1",`, "", 1), "R:missing_field:txn_id@1"},
		{"blank txn", strings.Replace(rec, `"T1"`, `"  "`, 1), "R:missing_field:txn_id@1"},
		{"txn number", strings.Replace(rec, `"T1"`, `1001`, 1), "E@1"},
		{"no time", strings.Replace(rec, `"at":"2026-11-03T10:15:00Z",`, "", 1), "R:missing_field:event_time@1"},
		{"bad time", strings.Replace(rec, `2026-11-03T10:15:00Z`, `yesterday`, 1), "R:invalid_field:event_time@1"},
		{"no rep", strings.Replace(rec, `"owner":{"id":"R-1"},`, "", 1), "R:missing_field:rep_id@1"},
		{"rep object", strings.Replace(rec, `{"id":"R-1"}`, `{"id":{"x":1}}`, 1), "R:invalid_field:rep_id@1"},
		{"no amount", strings.Replace(rec, `,"amt":"10.50"`, "", 1), "R:missing_field:amount.value@1"},
		{"amount float text", strings.Replace(rec, `"10.50"`, `1e3`, 1), "R:invalid_field:amount.value@1"},
		{"amount negative", strings.Replace(rec, `"10.50"`, `"-3"`, 1), "R:invalid_field:amount.value@1"},
		{"amount array", strings.Replace(rec, `"10.50"`, `[1]`, 1), "R:invalid_field:amount.value@1"},
		{"bad quantity", strings.Replace(rec, `"amt"`, `"lines":[{"qty":"two"}],"amt"`, 1), "R:invalid_field:quantity@1"},
		{"bad margin", strings.Replace(rec, `"amt"`, `"mgn":"x","amt"`, 1), "R:invalid_field:margin.value@1"},
		{"cancel refs itself", strings.Replace(rec, `"won"`, `"void"`, 1), "E@1"},
		{"adjustment negative", strings.Replace(strings.Replace(rec, `"won"`, `"fix"`, 1), `"10.50"`, `"-2.00"`, 1), "E@1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := summary(collect(t, m, tc.in)); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestJSONValues(t *testing.T) {
	m := mustMapper(t, jsonCfg)
	in := `{"id":" T1 ","status":"void","at":"2026-11-03T11:15:00+01:00","owner":{"id":"R-1"},"acct":"A-1",` +
		`"lines":[{"qty":2}],"amt":1250.00,"mgn":"300.10","cur":"eur","ch":"web"}`
	out := collect(t, m, in)
	ev := out[0].Event
	if ev == nil {
		t.Fatalf("%+v", out[0].Reject)
	}
	want := canonical.Event{EventID: "web:T1:cancel", Source: "web", TxnID: "T1", Type: canonical.Cancel, RefTxnID: "T1", RepID: "R-1", AccountID: "A-1"}
	if ev.EventID != want.EventID || ev.TxnID != want.TxnID || ev.RefTxnID != want.RefTxnID || ev.AccountID != want.AccountID {
		t.Errorf("%+v", ev)
	}
	if canonical.DecimalString(ev.Amount.Value) != "1250.00" || ev.Amount.Currency != "EUR" || ev.Margin.Currency != "EUR" ||
		canonical.DecimalString(ev.Margin.Value) != "300.10" || ev.Quantity.Decimal.String() != "2" {
		t.Errorf("money %+v %+v %+v", ev.Amount, ev.Margin, ev.Quantity)
	}
	if ev.EventTime.Format("15:04Z07:00") != "10:15Z" {
		t.Errorf("time %v", ev.EventTime)
	}
	if ev.Attributes["channel"] != "web" || ev.Attributes["src"] != "test" {
		t.Errorf("attributes %v", ev.Attributes)
	}
	// The default currency, upper-cased like the rest.
	if ev := collect(t, m, rec)[0].Event; ev.Amount.Currency != "USD" || ev.Margin != nil || ev.Quantity.Valid {
		t.Errorf("defaults: %+v", ev)
	}
}

func TestSplits(t *testing.T) {
	m := mustMapper(t, `source: s
format: json
type: {value: sale}
fields: {txn_id: id, event_time: at, amount.value: amt, amount.currency: cur}
splits: {path: team, rep: who.id, share: pct}
`)
	base := `{"id":"1","at":"2026-11-03T10:15:00Z","amt":"10","cur":"EUR","team":%s}`
	for _, tc := range []struct{ team, want string }{
		{`[{"who":{"id":"A"},"pct":"0.5"},{"who":{"id":"B"},"pct":0.5}]`, "E@1"},
		{`[{"who":{"id":"A"},"pct":"1"}]`, "E@1"},
		{`[{"who":{"id":"A"},"pct":"0.5"},{"who":{"id":"B"},"pct":"0.4"}]`, "R:invalid_field:splits@1"},
		{`[{"who":{"id":"A"},"pct":"0.5"},{"pct":"0.5"}]`, "R:missing_field:splits[1].rep_id@1"},
		{`[{"who":{"id":"A"}}]`, "R:missing_field:splits[0].share@1"},
		{`[{"who":{"id":"A"},"pct":"half"}]`, "R:invalid_field:splits[0].share@1"},
		{`[{"who":{"id":"A"},"pct":"0"},{"who":{"id":"B"},"pct":"1"}]`, "R:invalid_field:splits[0].share@1"},
		{`{"a":1}`, "R:invalid_field:splits@1"},
		{`[]`, "R:missing_field:rep_id@1"},
		{`null`, "R:missing_field:rep_id@1"},
	} {
		got := summary(collect(t, m, strings.Replace(base, "%s", tc.team, 1)))
		if got != tc.want {
			t.Errorf("team %s: got %q, want %q", tc.team, got, tc.want)
		}
	}
}

func TestTimeLayouts(t *testing.T) {
	for _, tc := range []struct{ layout, zone, in, want string }{
		{"rfc3339", "", `"2026-11-03T10:15:00.5-02:00"`, "2026-11-03T12:15:00.5Z"},
		{"rfc3339", "Europe/Berlin", `"2026-11-03T10:15:00"`, "2026-11-03T09:15:00Z"},
		{"unix_s", "", `1793700000`, "2026-11-03T10:00:00Z"},
		{"unix_ms", "", `"1793700000123"`, "2026-11-03T10:00:00.123Z"},
		{"unix_us", "", `1793700000123456`, "2026-11-03T10:00:00.123456Z"},
		{"2006-01-02 15:04", "America/New_York", `"2026-07-01 09:00"`, "2026-07-01T13:00:00Z"},
		{"02/01/2006 15:04 -0700", "", `"03/11/2026 10:15 +0100"`, "2026-11-03T09:15:00Z"},
	} {
		doc := "source: s\nformat: json\ntype: {value: sale}\ntime: {layout: '" + tc.layout + "'"
		if tc.zone != "" {
			doc += ", zone: " + tc.zone
		}
		doc += "}\nfields: {txn_id: id, event_time: at, rep_id: r, amount.value: a, amount.currency: c}\n"
		m := mustMapper(t, doc)
		out := collect(t, m, `{"id":"1","r":"R","a":"1","c":"EUR","at":`+tc.in+`}`)
		if out[0].Event == nil {
			t.Errorf("%s %s: %v", tc.layout, tc.in, out[0].Reject)
			continue
		}
		if got := out[0].Event.EventTime.Format("2006-01-02T15:04:05.999999999Z07:00"); got != tc.want {
			t.Errorf("%s %s: got %s, want %s", tc.layout, tc.in, got, tc.want)
		}
	}
}

func TestNumbers(t *testing.T) {
	m := mustMapper(t, "source: s\nformat: json\ntype: {value: sale}\nnumber: {decimal: ',', group: '.'}\n"+
		"fields: {txn_id: id, event_time: at, rep_id: r, amount.value: a, amount.currency: c}\n")
	for _, tc := range []struct{ in, want string }{
		{"1.234.567,89", "1234567.89"}, {"12,5", "12.5"}, {"999", "999"}, {"-1.000,00", "-1000.00"},
		{"19.99", ""}, {"1.2345", ""}, {"1,2,3", ""}, {"1.000,00.5", ""}, {"12.5", ""},
	} {
		out := collect(t, m, `{"id":"1","at":"2026-11-03T10:15:00Z","r":"R","c":"EUR","a":"`+tc.in+`","`+"x"+`":0}`)
		ev := out[0].Event
		switch {
		case tc.want == "" && out[0].Reject == nil:
			t.Errorf("%q: mapped to %v, want a reject", tc.in, ev.Amount.Value)
		case tc.want != "" && tc.want[0] == '-':
			if out[0].Reject == nil || out[0].Reject.Field != "amount.value" {
				t.Errorf("%q: want a negative-amount reject, got %+v", tc.in, out[0])
			}
		case tc.want != "" && (ev == nil || canonical.DecimalString(ev.Amount.Value) != tc.want):
			t.Errorf("%q: got %+v, want %s", tc.in, out[0], tc.want)
		}
	}
}

const csvCfg = `source: pos
format: csv
csv: {delimiter: ";"}
type: {field: kind, map: {S: sale, V: cancel}, ignore: [T]}
fields: {txn_id: no, ref_txn_id: orig, event_time: at, rep_id: rep, amount.value: amt, amount.currency: cur, attributes.note: note}
`

func TestCSV(t *testing.T) {
	m := mustMapper(t, csvCfg)
	hdr := "no;kind;orig;at;rep;amt;cur;note\n"
	good := "1;S;;2026-11-03T10:15:00Z;R;10.00;EUR;\n"
	for _, tc := range []struct{ name, in, want string }{
		{"header only", hdr, ""},
		{"empty", "", ""},
		{"rows", hdr + good + good, "E@2 E@3"},
		{"bom", "\xEF\xBB\xBF" + hdr + good, "E@2"},
		{"crlf and blank lines", strings.ReplaceAll(hdr+good+"\n\n"+good, "\n", "\r\n"), "E@2 E@5"},
		{"embedded newline", hdr + "1;S;;2026-11-03T10:15:00Z;R;10.00;EUR;\"a\nb\nc\"\n" + good, "E@2 E@5"},
		{"quoted delimiter", hdr + "1;S;;2026-11-03T10:15:00Z;R;10.00;EUR;\"a;b\"\n", "E@2"},
		{"short row", hdr + "1;S;;2026-11-03T10:15:00Z\n" + good, "R:malformed_csv@2 E@3"},
		{"long row", hdr + "1;S;;2026-11-03T10:15:00Z;R;10.00;EUR;;x\n" + good, "R:malformed_csv@2 E@3"},
		{"bare quote", hdr + "1;S;;2026-11-03T10:15:00Z;R;1\"0;EUR;\n" + good, "R:malformed_csv@2 E@3"},
		{"unclosed quote", hdr + good + "1;S;;2026-11-03T10:15:00Z;R;10;EUR;\"open\n", "E@2 R:malformed_csv@3"},
		{"bad header", "no;\"ki\"nd\n" + good, "R:malformed_csv@1"},
		{"ignored", hdr + "1;T;;2026-11-03T10:15:00Z;R;10.00;EUR;\n", "S:ignored_type@2"},
		{"cancel without ref", hdr + "1;V;;2026-11-03T10:15:00Z;R;10.00;EUR;\n", "R:missing_field:ref_txn_id@2"},
		{"cancel", hdr + "2;V;1;2026-11-03T10:15:00Z;R;10.00;EUR;\n", "E@2"},
		{"missing column", "no;kind;at;rep;amt;note;x;y\n1;S;2026-11-03T10:15:00Z;R;1;n;x;y\n", "R:missing_field:amount.currency@2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := summary(collect(t, m, tc.in)); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	out := collect(t, m, hdr+"1;S;;2026-11-03T10:15:00Z;R;10.00;EUR;\"a\nb\"\n")
	if got := out[0].Event.Attributes["note"]; got != "a\nb" {
		t.Errorf("note %q", got)
	}
	if got := string(out[0].Raw); !strings.HasPrefix(got, "1;S;") || !strings.HasSuffix(got, "b\"") {
		t.Errorf("raw %q", got)
	}
}

func TestCSVColumns(t *testing.T) {
	m := mustMapper(t, strings.Replace(csvCfg, `csv: {delimiter: ";"}`, `csv: {delimiter: "|", header: false, columns: [no, kind, orig, at, rep, amt, cur, note]}`, 1))
	got := summary(collect(t, m, "1|S||2026-11-03T10:15:00Z|R|10.00|EUR|\n"))
	if got != "E@1" {
		t.Fatalf("got %q", got)
	}
}

const cdcCfg = `source: erp
format: debezium
type: {field: status, map: {inv: sale, can: cancel}, ignore: [draft]}
fields: {txn_id: no, event_time: at, rep_id: rep, amount.value: amt, amount.currency: cur}
`

func cdcRow(status string) string {
	return `{"no":"SO-1","status":"` + status + `","at":"2026-11-03T10:15:00Z","rep":"R","amt":"5.00","cur":"EUR"}`
}

func envelope(op, before, after string) string {
	return `{"before":` + before + `,"after":` + after + `,"op":"` + op + `","source":{"ts_ms":1793800000000},"ts_ms":1793800000100}`
}

func TestDebezium(t *testing.T) {
	m := mustMapper(t, cdcCfg)
	for _, tc := range []struct{ name, in, want string }{
		{"create sale", envelope("c", "null", cdcRow("inv")), "E@1"},
		{"snapshot sale", envelope("r", "null", cdcRow("inv")), "E@1"},
		{"wrapped", `{"schema":{"type":"struct"},"payload":` + envelope("c", "null", cdcRow("inv")) + `}`, "E@1"},
		{"create draft", envelope("c", "null", cdcRow("draft")), "S:ignored_type@1"},
		{"create unknown", envelope("c", "null", cdcRow("hold")), "R:unmapped_type:type@1"},
		{"update to sale", envelope("u", cdcRow("draft"), cdcRow("inv")), "E@1"},
		{"update no change", envelope("u", cdcRow("inv"), cdcRow("inv")), "S:cdc_no_change@1"},
		{"update to cancel", envelope("u", cdcRow("inv"), cdcRow("can")), "E@1"},
		{"update cancel again", envelope("u", cdcRow("can"), cdcRow("can")), "S:cdc_no_change@1"},
		{"update without before", envelope("u", "null", cdcRow("inv")), "E@1"},
		{"update to draft", envelope("u", cdcRow("inv"), cdcRow("draft")), "S:ignored_type@1"},
		{"update no after", envelope("u", cdcRow("inv"), "null"), "R:malformed_cdc@1"},
		{"delete", envelope("d", cdcRow("inv"), "null"), "E@1"},
		{"delete draft", envelope("d", cdcRow("draft"), "null"), "S:ignored_type@1"},
		{"delete cancelled", envelope("d", cdcRow("can"), "null"), "S:cdc_no_change@1"},
		{"delete no before", envelope("d", "null", "null"), "R:malformed_cdc@1"},
		{"truncate", envelope("t", "null", "null"), "R:malformed_cdc@1"},
		{"no op", `{"after":` + cdcRow("inv") + `}`, "R:malformed_cdc@1"},
		{"payload not object", `{"payload": 3}`, "R:malformed_cdc@1"},
		{"tombstone", "", "S:cdc_tombstone@1"},
		{"null", "null", "S:cdc_tombstone@1"},
		{"null payload", `{"schema":null,"payload":null}`, "S:cdc_tombstone@1"},
		{"malformed", `{"op":`, "R:malformed_json@1"},
		{"lines", envelope("c", "null", cdcRow("inv")) + "\n\n" + envelope("d", cdcRow("inv"), "null") + "\nnull\n", "E@1 E@3 S:cdc_tombstone@4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := summary(collect(t, m, tc.in)); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	ev := collect(t, m, envelope("u", cdcRow("inv"), cdcRow("can")))[0].Event
	if ev.Type != canonical.Cancel || ev.RefTxnID != "SO-1" || ev.EventTime.UnixMilli() != 1793800000000 {
		t.Errorf("cancel %+v", ev)
	}
	ev = collect(t, m, envelope("c", "null", cdcRow("inv")))[0].Event
	if ev.EventTime.Format("15:04") != "10:15" {
		t.Errorf("sale time %v: want the mapped invoice time", ev.EventTime)
	}
	noTime := strings.Replace(cdcRow("inv"), `"at":"2026-11-03T10:15:00Z",`, "", 1)
	if ev := collect(t, m, envelope("c", "null", noTime))[0].Event; ev == nil || ev.EventTime.UnixMilli() != 1793800000000 {
		t.Errorf("sale without its time should take source.ts_ms: %+v", ev)
	}
}

func TestConcurrentMap(t *testing.T) {
	m := mustMapper(t, jsonCfg)
	done := make(chan string)
	for range 8 {
		go func() {
			var got string
			for range 100 {
				got = summary(collect(t, m, rec+"\n"+rec))
			}
			done <- got
		}()
	}
	for range 8 {
		if got := <-done; got != "E@1 E@2" {
			t.Errorf("got %q", got)
		}
	}
}
