package mapping

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accrue/accrue/connectors/canonical"
)

// Format is how a source frames and encodes its records.
type Format string

// The formats a Mapper decodes.
const (
	// JSON is one object, an array of objects, or NDJSON (an object a line).
	JSON Format = "json"
	// CSV is delimited text, a header row naming the columns unless
	// CSV.Columns names them.
	CSV Format = "csv"
	// Debezium is Debezium change-data-capture envelopes, one per payload
	// or one a line, with or without the schema/payload wrapper.
	Debezium Format = "debezium"
)

// Time layouts with a name; anything else is a Go reference layout.
const (
	LayoutRFC3339 = "rfc3339"
	LayoutUnixS   = "unix_s"
	LayoutUnixMs  = "unix_ms"
	LayoutUnixUs  = "unix_us"
)

// Config is one source's mapping: how its records are framed, where each
// canonical field is found in them and how values are read. It is usually
// read from YAML with Load or Parse; a Config built in code is checked the
// same way by New.
type Config struct {
	// Name is where the config came from (a file name), for messages.
	Name string
	// Source is the canonical source of every event mapped.
	Source string
	Format Format
	CSV    CSVOptions
	Time   TimeOptions
	Number NumberOptions
	Type   TypeRule
	// Fields maps a canonical field ("txn_id", "amount.value",
	// "attributes.channel") to a path in the source record: dotted keys
	// with [i] for array elements ("lines[0].sku"); for CSV, a column name.
	Fields map[string]string
	// Defaults are used where the mapped source value is absent or empty,
	// or the field is not mapped.
	Defaults map[string]string
	// Constants set a canonical field to one value for every record.
	Constants map[string]string
	// Splits, where given, reads the credit splits from an array.
	Splits *SplitsRule

	pos map[string]Pos // config path → position, when parsed from YAML
}

// CSVOptions frame CSV records.
type CSVOptions struct {
	// Delimiter is one character; "," when empty.
	Delimiter string
	// Header says the first row names the columns. Parse sets it unless
	// the file says header: false; without it Columns names them.
	Header  bool
	Columns []string
}

// TimeOptions say how event_time is read.
type TimeOptions struct {
	// Layout is rfc3339 (the default), unix_s, unix_ms, unix_us or a Go
	// reference layout ("2006-01-02 15:04:05").
	Layout string
	// Zone is an IANA zone for times written without a UTC offset.
	Zone string
}

// NumberOptions say how decimals are written by the source; the canonical
// form is always "-1234.56".
type NumberOptions struct {
	// Decimal is the decimal separator, "." (default) or ",".
	Decimal string
	// Group is a thousands separator to drop ("", ",", ".", " ", "'", "_").
	Group string
}

// TypeRule says how the canonical type of a record is found: a constant
// Value, or the source Field looked up in Map. Field values listed in
// Ignore are skipped (not rejected); any other unmapped value is rejected.
type TypeRule struct {
	Value  string
	Field  string
	Map    map[string]string
	Ignore []string
}

// SplitsRule reads splits from the array at Path; Rep and Share are paths
// inside each element.
type SplitsRule struct {
	Path, Rep, Share string
}

// Problem is one thing wrong with a config.
type Problem struct {
	Pos  Pos    // zero when unknown (a Config built in code)
	Path string // config path: "fields.amount.value"
	Msg  string
}

// ConfigError lists every problem found in a config.
type ConfigError struct {
	Name     string
	Problems []Problem
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	name := e.Name
	if name == "" {
		name = "mapping config"
	}
	if len(e.Problems) == 1 {
		fmt.Fprintf(&b, "%s: 1 problem:", name)
	} else {
		fmt.Fprintf(&b, "%s: %d problems:", name, len(e.Problems))
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(name)
		if p.Pos.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", p.Pos.Line, p.Pos.Column)
		}
		b.WriteString(": ")
		if p.Path != "" {
			b.WriteString(p.Path)
			b.WriteString(": ")
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}

// Canonical fields that Fields, Defaults and Constants may name, besides
// "attributes.<name>". The type is set by Type, the source by Source and
// splits by Splits.
var canonicalFields = []string{
	"event_id", "txn_id", "ref_txn_id", "event_time", "rep_id", "account_id", "product_id",
	"quantity", "amount.value", "amount.currency", "margin.value", "margin.currency",
}

func knownField(f string) bool {
	if name, ok := strings.CutPrefix(f, "attributes."); ok {
		return name != ""
	}
	return contains(canonicalFields, f)
}

func decimalField(f string) bool {
	return f == "quantity" || f == "amount.value" || f == "margin.value"
}

// Load reads and checks the config file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	return Parse(b, path)
}

// Parse reads and checks a YAML config; name is used in messages. The
// error, when not nil, is a *ConfigError listing every problem with its
// line and column.
func Parse(b []byte, name string) (*Config, error) {
	root, probs := parseYAML(b)
	if len(probs) > 0 {
		return nil, &ConfigError{Name: name, Problems: probs}
	}
	d := &decoder{pos: map[string]Pos{}}
	c := &Config{Name: name, pos: d.pos, CSV: CSVOptions{Header: true}}
	top := []string{"source", "format", "csv", "time", "number", "type", "fields", "defaults", "constants", "splits"}
	d.fields(root, "", top, func(k ykey, p string) {
		switch k.name {
		case "source":
			c.Source = d.str(k.val, p)
		case "format":
			c.Format = Format(d.str(k.val, p))
		case "csv":
			d.fields(k.val, p, []string{"delimiter", "header", "columns"}, func(k ykey, p string) {
				switch k.name {
				case "delimiter":
					c.CSV.Delimiter = d.str(k.val, p)
				case "header":
					c.CSV.Header = d.boolean(k.val, p)
				case "columns":
					c.CSV.Columns = d.strs(k.val, p)
				}
			})
		case "time":
			d.fields(k.val, p, []string{"layout", "zone"}, func(k ykey, p string) {
				if k.name == "layout" {
					c.Time.Layout = d.str(k.val, p)
				} else {
					c.Time.Zone = d.str(k.val, p)
				}
			})
		case "number":
			d.fields(k.val, p, []string{"decimal", "group"}, func(k ykey, p string) {
				if k.name == "decimal" {
					c.Number.Decimal = d.str(k.val, p)
				} else {
					c.Number.Group = d.str(k.val, p)
				}
			})
		case "type":
			d.fields(k.val, p, []string{"value", "field", "map", "ignore"}, func(k ykey, p string) {
				switch k.name {
				case "value":
					c.Type.Value = d.str(k.val, p)
				case "field":
					c.Type.Field = d.str(k.val, p)
				case "map":
					c.Type.Map = map[string]string{}
					d.fields(k.val, p, nil, func(k ykey, p string) {
						c.Type.Map[k.name] = d.str(k.val, p)
					})
				case "ignore":
					c.Type.Ignore = d.strs(k.val, p)
				}
			})
		case "fields":
			c.Fields = map[string]string{}
			d.flat(k.val, p, "", c.Fields)
		case "defaults":
			c.Defaults = map[string]string{}
			d.flat(k.val, p, "", c.Defaults)
		case "constants":
			c.Constants = map[string]string{}
			d.flat(k.val, p, "", c.Constants)
		case "splits":
			c.Splits = &SplitsRule{}
			d.fields(k.val, p, []string{"path", "rep", "share"}, func(k ykey, p string) {
				switch k.name {
				case "path":
					c.Splits.Path = d.str(k.val, p)
				case "rep":
					c.Splits.Rep = d.str(k.val, p)
				case "share":
					c.Splits.Share = d.str(k.val, p)
				}
			})
		}
	})
	if len(d.probs) > 0 {
		return nil, &ConfigError{Name: name, Problems: d.probs}
	}
	if _, err := compile(c); err != nil {
		return nil, err
	}
	return c, nil
}

// checker collects problems found after decoding, placing each at the
// position of the config path it is about (or the nearest parent).
type checker struct {
	c     *Config
	probs []Problem
}

func (k *checker) errf(path, format string, args ...any) {
	p := Pos{}
	for q := path; q != ""; {
		if pos, ok := k.c.pos[q]; ok {
			p = pos
			break
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			break
		}
		q = q[:i]
	}
	if p == (Pos{}) && k.c.pos != nil {
		p = Pos{1, 1}
	}
	k.probs = append(k.probs, Problem{Pos: p, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (k *checker) err() error {
	if len(k.probs) == 0 {
		return nil
	}
	sort.SliceStable(k.probs, func(i, j int) bool {
		a, b := k.probs[i].Pos, k.probs[j].Pos
		return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
	})
	return &ConfigError{Name: k.c.Name, Problems: k.probs}
}

// sorted returns the keys of m in order, so problems come out stable.
func sorted(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// has reports whether a canonical field gets a value from Fields,
// Defaults or Constants.
func (c *Config) has(f string) bool {
	_, a := c.Fields[f]
	_, b := c.Defaults[f]
	_, d := c.Constants[f]
	return a || b || d
}

// checkTime validates the time options and returns the location.
func (k *checker) checkTime() *time.Location {
	c := k.c
	loc := time.UTC
	if c.Time.Zone != "" {
		l, err := time.LoadLocation(c.Time.Zone)
		if err != nil {
			k.errf("time.zone", "unknown time zone %q", c.Time.Zone)
		} else {
			loc = l
		}
	}
	switch c.Time.Layout {
	case "", LayoutRFC3339, LayoutUnixS, LayoutUnixMs, LayoutUnixUs:
		return loc
	}
	ref := time.Date(2026, 11, 3, 0, 0, 0, 0, time.FixedZone("", 5*3600))
	s := ref.Format(c.Time.Layout)
	got, err := time.ParseInLocation(c.Time.Layout, s, time.UTC)
	if err != nil || got.Year() != 2026 || got.Month() != 11 || got.Day() != 3 {
		k.errf("time.layout", "%q is not rfc3339, unix_s, unix_ms, unix_us or a Go layout naming year, month and day (like \"2006-01-02 15:04:05\")", c.Time.Layout)
		return loc
	}
	if !got.Equal(ref) && c.Time.Zone == "" {
		k.errf("time.layout", "layout %q has no UTC offset: give time.zone", c.Time.Layout)
	}
	return loc
}

func (k *checker) checkFieldsMaps() {
	c := k.c
	for _, sec := range []struct {
		name string
		m    map[string]string
	}{{"fields", c.Fields}, {"defaults", c.Defaults}, {"constants", c.Constants}} {
		for _, f := range sorted(sec.m) {
			v := sec.m[f]
			p := sec.name + "." + f
			switch {
			case f == "type" || f == "source" || f == "splits":
				k.errf(p, "%q is set by the %s section, not here", f, f)
				continue
			case !knownField(f):
				k.errf(p, "unknown canonical field %q (want one of %s, or attributes.<name>)", f, strings.Join(canonicalFields, ", "))
				continue
			}
			if strings.TrimSpace(v) == "" {
				k.errf(p, "empty value")
				continue
			}
			if sec.name == "fields" {
				if c.Format != CSV {
					if _, err := compilePath(v); err != nil {
						k.errf(p, "%v", err)
					}
				}
				continue
			}
			switch {
			case f == "event_id" || f == "txn_id" || f == "event_time" || f == "ref_txn_id":
				k.errf(p, "%q comes from each record; it cannot be a %s", f, strings.TrimSuffix(sec.name, "s"))
			case decimalField(f):
				if _, err := canonical.ParseDecimal(v); err != nil {
					k.errf(p, "%v", err)
				}
			}
			if sec.name == "defaults" {
				if _, ok := c.Constants[f]; ok {
					k.errf(p, "%q is also a constant", f)
				}
			}
			if sec.name == "constants" {
				if _, ok := c.Fields[f]; ok {
					k.errf(p, "%q is also mapped in fields", f)
				}
			}
		}
	}
}

func (k *checker) checkRequired() {
	c := k.c
	if _, ok := c.Fields["txn_id"]; !ok {
		k.errf("fields", "txn_id is not mapped")
	}
	if _, ok := c.Fields["event_time"]; !ok && c.Format != Debezium {
		k.errf("fields", "event_time is not mapped")
	}
	if !c.has("rep_id") && c.Splits == nil {
		k.errf("fields", "rep_id is not mapped (nor given in defaults or constants, nor splits)")
	}
	if _, ok := c.Fields["amount.value"]; !ok {
		k.errf("fields", "amount.value is not mapped")
	}
	if !c.has("amount.currency") {
		k.errf("fields", "amount.currency is not mapped (nor given in defaults or constants)")
	}
	if c.has("margin.value") && !c.has("margin.currency") {
		k.errf("fields", "margin.value is mapped but margin.currency is not")
	}
	if c.has("margin.currency") && !c.has("margin.value") {
		k.errf("fields", "margin.currency is mapped but margin.value is not")
	}
	if _, ok := c.Fields["ref_txn_id"]; ok && c.Format == Debezium {
		k.errf("fields.ref_txn_id", "a Debezium cancel refers to its own row's txn_id; ref_txn_id is not mapped")
	}
}

func (k *checker) checkType() {
	t := k.c.Type
	switch {
	case t.Value == "" && t.Field == "":
		k.errf("type", "give type.value (a constant type) or type.field with type.map")
		return
	case t.Value != "" && t.Field != "":
		k.errf("type", "give type.value or type.field, not both")
		return
	}
	if t.Value != "" {
		if !canonical.Type(t.Value).Valid() {
			k.errf("type.value", "%q is not one of sale, return, cancel, adjustment", t.Value)
		}
		if t.Map != nil || t.Ignore != nil {
			k.errf("type", "type.map and type.ignore go with type.field")
		}
		if k.c.Format == Debezium {
			k.errf("type.value", "a Debezium source needs type.field: the status column that says a row is a sale")
		}
		return
	}
	if k.c.Format != CSV {
		if _, err := compilePath(t.Field); err != nil {
			k.errf("type.field", "%v", err)
		}
	}
	if len(t.Map) == 0 {
		k.errf("type", "type.field needs type.map (source value: canonical type)")
	}
	for _, v := range sorted(t.Map) {
		if !canonical.Type(t.Map[v]).Valid() {
			k.errf("type.map."+v, "%q is not one of sale, return, cancel, adjustment", t.Map[v])
		}
	}
	for i, v := range t.Ignore {
		if _, ok := t.Map[v]; ok {
			k.errf(fmt.Sprintf("type.ignore[%d]", i), "%q is both mapped and ignored", v)
		}
	}
}

func (k *checker) checkFormat() {
	c := k.c
	switch c.Format {
	case JSON, Debezium:
		if c.CSV.Delimiter != "" || c.CSV.Columns != nil || c.pos["csv"] != (Pos{}) {
			k.errf("csv", "csv options apply to format csv only")
		}
	case CSV:
		if d := c.CSV.Delimiter; d != "" {
			r, n := utf8.DecodeRuneInString(d)
			if n != len(d) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
				k.errf("csv.delimiter", "%q is not one character other than a quote or newline", d)
			}
		}
		if !c.CSV.Header && len(c.CSV.Columns) == 0 {
			k.errf("csv", "without a header row, csv.columns names the columns")
		}
		if c.CSV.Header && c.CSV.Columns != nil {
			k.errf("csv.columns", "csv.columns goes with header: false")
		}
		seen := map[string]bool{}
		for i, col := range c.CSV.Columns {
			if seen[col] {
				k.errf(fmt.Sprintf("csv.columns[%d]", i), "column %q is named twice", col)
			}
			seen[col] = true
		}
		if c.Splits != nil {
			k.errf("splits", "splits need an array; a CSV record has none")
		}
	case "":
		k.errf("format", "format is missing (json, csv or debezium)")
	default:
		k.errf("format", "%q is not json, csv or debezium", c.Format)
	}
}

func (k *checker) checkNumber() {
	n := k.c.Number
	if n.Decimal != "" && n.Decimal != "." && n.Decimal != "," {
		k.errf("number.decimal", "%q is not \".\" or \",\"", n.Decimal)
	}
	if n.Group != "" && !contains([]string{",", ".", " ", "'", "_"}, n.Group) {
		k.errf("number.group", "%q is not one of \",\", \".\", \" \", \"'\", \"_\"", n.Group)
	}
	dec := n.Decimal
	if dec == "" {
		dec = "."
	}
	if n.Group == dec {
		k.errf("number.group", "the group separator %q is also the decimal separator", n.Group)
	}
}

func (k *checker) checkSplits() {
	s := k.c.Splits
	if s == nil {
		return
	}
	for _, f := range []struct{ name, v string }{{"path", s.Path}, {"rep", s.Rep}, {"share", s.Share}} {
		if f.v == "" {
			k.errf("splits", "splits.%s is missing", f.name)
			continue
		}
		if _, err := compilePath(f.v); err != nil {
			k.errf("splits."+f.name, "%v", err)
		}
	}
}
