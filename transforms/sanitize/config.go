package sanitize

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Config configures the gatekeepers: a Policy for every source, and
// per-source overrides of it. Build one in Go or read one with ParseConfig;
// Compile checks it.
//
//	defaults:
//	  required: [rep_id, amount.value, amount.currency, event_time]
//	  currencies: iso4217          # or an explicit list [USD, EUR]
//	  amount: {min: "0", max: "10000000"}
//	  event_time: {future_tolerance: 10m, horizon: 400d}
//	  normalize: {trim: true, upper: [amount.currency], lower: [rep_id]}
//	  rules:
//	    - {name: no_test_accounts, when: 'account_id startsWith "TEST-"', reason: test_account}
//	  dedupe: {window: 720h}
//	sources:
//	  pos-apac: {amount: {max: "50000"}, currencies: [JPY, SGD]}
type Config struct {
	// Defaults applies to every source.
	Defaults Policy `yaml:"defaults"`
	// Sources overrides Defaults for the sources named, setting by
	// setting: what a source's policy leaves out, it takes from Defaults.
	Sources map[string]Policy `yaml:"sources"`

	// pos maps a setting's path ("defaults.amount.max") to where it was
	// read, for ParseConfig's documents.
	pos map[string]Pos
}

// Policy is what the gatekeepers check for a source. Every setting is
// optional; absent (nil) settings are inherited from Config.Defaults by a
// source's policy, and are off in Defaults.
type Policy struct {
	// Required lists fields that must be present beyond what
	// canonical.Event.Validate requires (Fields lists the names). A
	// source's list replaces the defaults' list; an empty list requires
	// nothing more.
	Required []string `yaml:"required"`
	// Currencies lists the currencies allowed for amount and margin:
	// ISO 4217 codes, or "iso4217" for every active code (the default).
	// A code outside ISO 4217 is always refused.
	Currencies Currencies `yaml:"currencies"`
	// Amount bounds amount.value.
	Amount *AmountBounds `yaml:"amount"`
	// EventTime bounds event_time relative to the clock.
	EventTime *EventTimeWindow `yaml:"event_time"`
	// Normalize rewrites fields before any check.
	Normalize *Normalize `yaml:"normalize"`
	// Rules are custom checks. A source's rules come after the defaults'
	// rules; one with the name of a default rule replaces it, in its place.
	Rules []Rule `yaml:"rules"`
	// Dedupe sets the deduplication window.
	Dedupe *Dedupe `yaml:"dedupe"`
}

// Currencies is a list of ISO 4217 codes; the word "iso4217" stands for all
// of them. In YAML it is a list or a single word.
type Currencies []string

// AnyISO4217 is the Currencies entry that allows every active ISO 4217 code.
const AnyISO4217 = "iso4217"

// UnmarshalYAML reads a list or a single word.
func (c *Currencies) UnmarshalYAML(unmarshal func(any) error) error {
	var one string
	if err := unmarshal(&one); err == nil {
		*c = Currencies{one}
		return nil
	}
	var list []string
	if err := unmarshal(&list); err != nil {
		return err
	}
	*c = list
	return nil
}

// AmountBounds bounds amount.value, both ends inclusive. Min and Max are
// plain decimal strings ("0", "10000000"); empty is no bound (in a source's
// policy: the defaults' bound). An adjustment, which is signed, is bounded
// by its absolute value.
type AmountBounds struct {
	Min string `yaml:"min"`
	Max string `yaml:"max"`
}

// EventTimeWindow bounds event_time relative to the clock passed to Check.
// Durations are Go durations ("10m", "36h") or whole days ("400d"); empty
// is no bound (in a source's policy: the defaults' bound).
type EventTimeWindow struct {
	// FutureTolerance is how far ahead of the clock an event may be.
	FutureTolerance string `yaml:"future_tolerance"`
	// Horizon is how far behind the clock an event may be.
	Horizon string `yaml:"horizon"`
}

// Normalize rewrites string fields in place before the checks. Fields
// lists the names that Upper and Lower accept.
type Normalize struct {
	// Trim removes leading and trailing white space from every
	// identifier and currency (Fields); attributes are left alone.
	Trim *bool `yaml:"trim"`
	// Upper and Lower change the case of the fields listed.
	Upper []string `yaml:"upper"`
	Lower []string `yaml:"lower"`
}

// Rule refuses the events for which When is true.
//
// When is an expression of github.com/expr-lang/expr that must yield a
// boolean. It sees: type, source, txn_id, ref_txn_id, rep_id, account_id,
// product_id (strings), quantity (number, 0 when absent), amount (number),
// currency (string, amount's currency) and attributes (map of strings).
// Numbers there are approximations for comparisons only: money is never
// computed in rules.
type Rule struct {
	// Name identifies the rule: lower snake_case, unique in a policy.
	Name string `yaml:"name"`
	When string `yaml:"when"`
	// Reason is the reject reason code; default "rule:<name>".
	Reason string `yaml:"reason"`
}

// Dedupe sets how long a second copy of an event counts as a duplicate.
type Dedupe struct {
	// Window is measured in event time, as a duration like
	// EventTimeWindow's: a copy whose event time lies within Window of
	// the first copy's is a duplicate. Empty or "0" is no limit.
	Window string `yaml:"window"`
}

// Pos is a position in a YAML document, 1-based.
type Pos struct{ Line, Column int }

func (p Pos) String() string { return strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Column) }

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path names the setting: "defaults.amount.max",
	// "sources.pos-apac.rules[0].when".
	Path string
	// Pos is where the setting was read; zero for a Config built in Go.
	Pos Pos
	Err error
}

func (p Problem) Error() string {
	var b strings.Builder
	if p.Pos.Line > 0 {
		b.WriteString(p.Pos.String())
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Err.Error())
	return b.String()
}

// ConfigError lists every problem found in a configuration, in document
// order where positions are known.
type ConfigError struct {
	Problems []Problem
}

func (e *ConfigError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return "sanitize: invalid config: " + strings.Join(msgs, "; ")
}

// Unwrap returns the problems' errors.
func (e *ConfigError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p.Err
	}
	return errs
}

// maxConfigSize bounds a configuration document.
const maxConfigSize = 1 << 20

// ParseConfig reads a YAML configuration. Unknown keys, duplicate keys and
// values of the wrong kind are refused with their line and column, as a
// *ConfigError. ParseConfig does not check the values themselves (Compile
// does, and reports the positions ParseConfig recorded).
func ParseConfig(data []byte) (cfgOut *Config, errOut error) {
	defer func() {
		// The YAML decoder is third-party code fed arbitrary bytes; a
		// panic in it (go-yaml 1.19.2 on a tag before a list) is a
		// document that cannot be read, not a crash.
		if r := recover(); r != nil {
			cfgOut, errOut = nil, &ConfigError{[]Problem{{Pos: Pos{1, 1}, Err: fmt.Errorf("cannot read the YAML: %v", r)}}}
		}
	}()
	if len(data) > maxConfigSize {
		return nil, &ConfigError{[]Problem{{Err: fmt.Errorf("document is %d bytes, more than %d", len(data), maxConfigSize)}}}
	}
	var cfg Config
	if err := yaml.UnmarshalWithOptions(data, &cfg, yaml.Strict()); err != nil {
		return nil, &ConfigError{[]Problem{yamlProblem(err)}}
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, &ConfigError{[]Problem{yamlProblem(err)}}
	}
	cfg.pos = map[string]Pos{}
	for _, d := range f.Docs {
		walk(d.Body, "", cfg.pos)
	}
	return &cfg, nil
}

// yamlProblem turns a go-yaml error into a Problem with its position.
func yamlProblem(err error) Problem {
	var ye yaml.Error
	if errors.As(err, &ye) {
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			return Problem{Pos: Pos{tk.Position.Line, tk.Position.Column}, Err: errors.New(ye.GetMessage())}
		}
		return Problem{Err: errors.New(ye.GetMessage())}
	}
	return Problem{Err: err}
}

// walk records the position of every value under n, by path.
func walk(n ast.Node, path string, pos map[string]Pos) {
	if n == nil {
		return
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		if _, seen := pos[path]; !seen {
			pos[path] = Pos{tk.Position.Line, tk.Position.Column}
		}
	}
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch n := n.(type) {
	case *ast.MappingNode:
		for _, mv := range n.Values {
			walk(mv, path, pos)
		}
	case *ast.MappingValueNode:
		key := ""
		if n.Key != nil {
			if s, ok := n.Key.(*ast.StringNode); ok {
				key = s.Value
			} else if tk := n.Key.GetToken(); tk != nil {
				key = tk.Value
			}
		}
		walk(n.Value, join(key), pos)
	case *ast.SequenceNode:
		for i, v := range n.Values {
			walk(v, path+"["+strconv.Itoa(i)+"]", pos)
		}
	case *ast.AnchorNode:
		walk(n.Value, path, pos)
	case *ast.TagNode:
		walk(n.Value, path, pos)
	}
}

// at returns the recorded position of path, or of its nearest recorded
// parent.
func (c *Config) at(path string) Pos {
	for p := path; p != ""; {
		if pos, ok := c.pos[p]; ok {
			return pos
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return Pos{}
}

// parseDuration reads a Go duration or a whole number of days ("400d").
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || n > 100*366 {
			return 0, fmt.Errorf("%q is not a duration (Go syntax such as 10m or 36h, or whole days such as 400d)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (Go syntax such as 10m or 36h, or whole days such as 400d)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// sortProblems orders problems by position, those without one last, in
// the order found.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].Pos, ps[j].Pos
		if a.Line == 0 || b.Line == 0 {
			return a.Line != 0 && b.Line == 0
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}
