package mapping

import (
	"errors"
	"strings"
	"testing"
)

const minimalJSON = `source: s
format: json
type: {value: sale}
fields:
  txn_id: id
  event_time: at
  rep_id: rep
  amount.value: amt
  amount.currency: cur
`

func TestParseMinimal(t *testing.T) {
	c, err := Parse([]byte(minimalJSON), "min.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != "s" || c.Format != JSON || c.Fields["amount.value"] != "amt" {
		t.Fatalf("%+v", c)
	}
}

func TestParseNestedFields(t *testing.T) {
	doc := strings.Replace(minimalJSON, "  amount.value: amt\n  amount.currency: cur\n", "  amount:\n    value: amt\n    currency: cur\n  attributes:\n    channel: ch\n", 1)
	c, err := Parse([]byte(doc), "n.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Fields["amount.currency"] != "cur" || c.Fields["attributes.channel"] != "ch" {
		t.Fatalf("%v", c.Fields)
	}
}

// Every problem is listed, each at its line and column.
func TestParseListsEveryProblem(t *testing.T) {
	doc := `source: s
format: json
colour: blue
time: {layout: "yesterday", zone: Mars/Olympus}
type:
  field: status
  map: {won: sale, lost: bogus}
fields:
  txn_id: id
  rep_id: owner..email
  amount.value: amt
  amount.currency: cur
  widget: w
constants:
  quantity: lots
`
	_, err := Parse([]byte(doc), "bad.yaml")
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err %v, want *ConfigError", err)
	}
	want := []struct {
		line int
		frag string
	}{
		{3, `unknown key "colour"`},
	}
	for _, w := range want {
		found := false
		for _, p := range ce.Problems {
			if p.Pos.Line == w.line && strings.Contains(p.Msg, w.frag) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem %q at line %d in:\n%v", w.frag, w.line, err)
		}
	}
	// Decoding problems stop before the semantic checks; fix them and the
	// rest are listed together.
	doc = strings.Replace(doc, "colour: blue\n", "", 1)
	_, err = Parse([]byte(doc), "bad.yaml")
	if !errors.As(err, &ce) {
		t.Fatalf("err %v", err)
	}
	for _, w := range []struct {
		line, col int
		frag      string
	}{
		{3, 8, "yesterday"},
		{3, 29, "Mars/Olympus"},
		{6, 20, `"bogus" is not one of`},
		{9, 3, "owner..email"},
		{12, 3, `unknown canonical field "widget"`},
		{14, 3, `"lots" is not a plain decimal`},
		{7, 1, "event_time is not mapped"},
	} {
		found := false
		for _, p := range ce.Problems {
			if p.Pos.Line == w.line && (w.col == 0 || p.Pos.Column == w.col) && strings.Contains(p.Msg, w.frag) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem %q at %d:%d in:\n%v", w.frag, w.line, w.col, err)
		}
	}
	if !strings.Contains(err.Error(), "bad.yaml:9:3: fields.rep_id:") {
		t.Errorf("message lacks file:line:col: %v", err)
	}
}

func TestParseProblems(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"syntax", "source: [unclosed\n", "bad.yaml:"},
		{"no format", strings.Replace(minimalJSON, "format: json\n", "", 1), "format is missing"},
		{"bad format", strings.Replace(minimalJSON, "format: json", "format: xml", 1), `"xml" is not json, csv or debezium`},
		{"no source", strings.Replace(minimalJSON, "source: s\n", "", 1), "source is missing"},
		{"no type", strings.Replace(minimalJSON, "type: {value: sale}\n", "", 1), "give type.value"},
		{"type both", strings.Replace(minimalJSON, "type: {value: sale}", "type: {value: sale, field: x, map: {a: sale}}", 1), "not both"},
		{"bad type", strings.Replace(minimalJSON, "value: sale", "value: gift", 1), `"gift" is not one of`},
		{"field without map", strings.Replace(minimalJSON, "type: {value: sale}", "type: {field: st}", 1), "needs type.map"},
		{"ignored and mapped", strings.Replace(minimalJSON, "type: {value: sale}", "type: {field: st, map: {a: sale}, ignore: [a]}", 1), "both mapped and ignored"},
		{"no txn", strings.Replace(minimalJSON, "  txn_id: id\n", "", 1), "txn_id is not mapped"},
		{"no rep", strings.Replace(minimalJSON, "  rep_id: rep\n", "", 1), "rep_id is not mapped"},
		{"no amount", strings.Replace(minimalJSON, "  amount.value: amt\n", "", 1), "amount.value is not mapped"},
		{"no currency", strings.Replace(minimalJSON, "  amount.currency: cur\n", "", 1), "amount.currency is not mapped"},
		{"margin alone", minimalJSON + "  margin.value: m\n", "margin.currency is not"},
		{"type in fields", minimalJSON + "  type: t\n", "set by the type section"},
		{"const txn", minimalJSON + "constants: {txn_id: x}\n", "comes from each record"},
		{"const and field", minimalJSON + "constants: {rep_id: R-1}\n", "also mapped in fields"},
		{"default and const", minimalJSON + "constants: {account_id: a}\ndefaults: {account_id: b}\n", "also a constant"},
		{"bad path", strings.Replace(minimalJSON, "txn_id: id", "txn_id: lines[x].id", 1), "not an array index"},
		{"unclosed", strings.Replace(minimalJSON, "txn_id: id", "txn_id: lines[0", 1), "unclosed"},
		{"csv on json", minimalJSON + "csv: {delimiter: ';'}\n", "format csv only"},
		{"csv delim", strings.Replace(minimalJSON, "format: json", "format: csv\ncsv: {delimiter: ';;'}", 1), "not one character"},
		{"csv no columns", strings.Replace(minimalJSON, "format: json", "format: csv\ncsv: {header: false}", 1), "csv.columns names"},
		{"csv splits", strings.Replace(minimalJSON, "format: json", "format: csv", 1) + "splits: {path: a, rep: r, share: s}\n", "splits need an array"},
		{"splits incomplete", minimalJSON + "splits: {path: a, rep: r}\n", "splits.share is missing"},
		{"layout no offset", minimalJSON + "time: {layout: '2006-01-02 15:04'}\n", "has no UTC offset"},
		{"number", minimalJSON + "number: {decimal: ',', group: ','}\n", "also the decimal separator"},
		{"debezium ref", strings.Replace(minimalJSON, "format: json", "format: debezium", 1) + "  ref_txn_id: r\n", "refers to its own"},
		{"debezium const type", strings.Replace(minimalJSON, "format: json", "format: debezium", 1), "needs type.field"},
		{"header bool", strings.Replace(minimalJSON, "format: json", "format: csv\ncsv: {header: yes please}", 1), "want true or false"},
		{"duplicate", minimalJSON + "  txn_id: other\n", "bad.yaml:10:3:"},
		{"two docs", minimalJSON + "---\nsource: t\n", "one YAML document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), "bad.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestNewChecksCodeBuiltConfig(t *testing.T) {
	_, err := New(&Config{Source: "s", Format: JSON})
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) < 4 {
		t.Fatalf("err %v", err)
	}
}
