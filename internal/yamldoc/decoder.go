package yamldoc

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // a document valid on one machine is valid on every machine
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/transforms/currency"
)

// MaxDocumentLen is the largest document a Decoder reads, in bytes.
const MaxDocumentLen = 1 << 20

// Problem is one thing wrong with a document, at its place in the file.
// Line and Column are 1-based; Column counts characters.
type Problem struct {
	File   string
	Line   int
	Column int
	// Path is the key at fault, as written: "rewards[1].amount". Empty
	// for problems of the whole document.
	Path string
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", p.File, p.Line, p.Column)
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in a document, in document order. It is
// the error a document's parser returns; errors.As finds it.
type Problems []Problem

// Error prints one problem a line: "file:line:col: path: msg".
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

type problem struct {
	pos  Pos
	path string
	msg  string
}

// Decoder walks a document's nodes, collecting every problem.
type Decoder struct {
	file  string
	probs []problem
}

// NewDecoder returns a Decoder whose problems name file.
func NewDecoder(file string) *Decoder { return &Decoder{file: file} }

// Open reads doc, a document of the kind what names ("contest"), and
// returns its root node and a Decoder holding the problems found so far
// (size, encoding, YAML syntax). The root is a Mapping unless there was a
// problem; a caller reads it with Object and then calls Err.
func Open(file string, doc []byte, what string) (Node, *Decoder) {
	d := NewDecoder(file)
	if len(doc) > MaxDocumentLen {
		d.Errf(Start, "", "the document is %d bytes, more than the %d a %s document may have", len(doc), MaxDocumentLen, what)
		return Node{}, d
	}
	root := d.Read(doc, what)
	if root.Kind != Mapping && !d.Failed() {
		d.Errf(root.Pos, "", "a %s document is a mapping of keys, not %s", what, root.Describe())
	}
	return root, d
}

// Read reads doc, one YAML document of the kind what names, into its node
// tree, recording what is wrong with its encoding and YAML. It does not
// bound doc's size or look at the root's kind: Open does, for a caller
// that needs no other words for those problems. After a problem the tree
// may be empty.
func (d *Decoder) Read(doc []byte, what string) Node {
	if !utf8.Valid(doc) {
		d.Errf(invalidUTF8(doc), "", "the document is not UTF-8 text")
		return Node{}
	}
	root, probs := parse(doc, what)
	d.probs = append(d.probs, probs...)
	return root
}

// Errf records a problem at p.
func (d *Decoder) Errf(p Pos, path, format string, args ...any) {
	d.probs = append(d.probs, problem{pos: p, path: path, msg: fmt.Sprintf(format, args...)})
}

// Failed reports whether any problem was found.
func (d *Decoder) Failed() bool { return len(d.probs) > 0 }

// Err returns the problems found, in document order, as Problems; nil
// when there is none.
func (d *Decoder) Err() error {
	if len(d.probs) == 0 {
		return nil
	}
	sort.SliceStable(d.probs, func(i, j int) bool {
		a, b := d.probs[i].pos, d.probs[j].pos
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
	ps := make(Problems, len(d.probs))
	for i, q := range d.probs {
		if q.pos.Line < 1 {
			q.pos = Start
		}
		ps[i] = Problem{File: d.file, Line: q.pos.Line, Column: max(q.pos.Col, 1), Path: q.path, Msg: q.msg}
	}
	return ps
}

func invalidUTF8(b []byte) Pos {
	p := Start
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return p
		}
		if r == '\n' {
			p.Line++
			p.Col = 1
		} else {
			p.Col++
		}
		i += n
	}
	return p
}

// Object is a mapping being read: its keys by name, and where to report
// the ones that are missing.
type Object struct {
	d         *Decoder
	path      string
	at        Pos
	keys      map[string]Pair
	order     []string
	bad       bool
	suggested map[string]bool
}

// Object reads n as a mapping with the known keys; at is where n's own key
// was written (where a missing key is reported). Unknown and duplicate keys
// are problems, with the nearest known key as a suggestion. known nil
// accepts any key (a map of names).
func (d *Decoder) Object(n Node, path string, at Pos, known []string) *Object {
	o := &Object{d: d, path: path, at: at, keys: map[string]Pair{}}
	if n.Kind != Mapping {
		what := "a mapping of keys"
		if len(known) > 0 {
			what = fmt.Sprintf("a mapping of keys (%s)", strings.Join(known, ", "))
		}
		d.Errf(n.Pos, path, "want %s, got %s", what, n.Describe())
		o.bad = true
		return o
	}
	for _, k := range n.Keys {
		kp := Join(path, k.Name)
		if _, dup := o.keys[k.Name]; dup {
			d.Errf(k.Pos, kp, "%s is given twice", k.Name)
			continue
		}
		if known != nil && !contains(known, k.Name) {
			if s := nearest(k.Name, known); s != "" {
				d.Errf(k.Pos, kp, "unknown key %q; did you mean %q?", k.Name, s)
				if o.suggested == nil {
					o.suggested = map[string]bool{}
				}
				o.suggested[s] = true
			} else {
				d.Errf(k.Pos, kp, "unknown key %q (known: %s)", k.Name, strings.Join(known, ", "))
			}
			continue
		}
		o.keys[k.Name] = k
		o.order = append(o.order, k.Name)
	}
	return o
}

// Names are the keys read, in document order.
func (o *Object) Names() []string { return o.order }

// Pair returns key as written.
func (o *Object) Pair(key string) Pair { return o.keys[key] }

// Required returns the value of key, or reports that it is missing or
// empty.
func (o *Object) Required(key string) (Node, bool) {
	k, ok := o.keys[key]
	if !ok {
		if !o.bad && !o.suggested[key] {
			o.d.Errf(o.at, Join(o.path, key), "%s is missing", key)
		}
		return Node{}, false
	}
	if k.Val.IsNull() {
		o.d.Errf(k.Pos, Join(o.path, key), "%s has no value", key)
		return Node{}, false
	}
	return k.Val, true
}

// Optional returns the value of key. A key written without a value is a
// problem, not an absent key.
func (o *Object) Optional(key string) (Node, bool) {
	k, ok := o.keys[key]
	if !ok {
		return Node{}, false
	}
	if k.Val.IsNull() {
		o.d.Errf(k.Pos, Join(o.path, key), "%s has no value: give one, or leave the key out", key)
		return Node{}, false
	}
	return k.Val, true
}

// At is where the mapping's own key was written: where a missing key is
// reported.
func (o *Object) At() Pos { return o.at }

// IsMapping reports whether the value read was a mapping. When it was not,
// that is its one problem, and Required reports no key missing.
func (o *Object) IsMapping() bool { return !o.bad }

// KeyPos is where key was written, or where the mapping was.
func (o *Object) KeyPos(key string) Pos {
	if k, ok := o.keys[key]; ok {
		return k.Pos
	}
	return o.at
}

// Has reports whether key was written.
func (o *Object) Has(key string) bool { _, ok := o.keys[key]; return ok }

// Join joins a path and a key.
func Join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// MaxIDLen is the longest id.
const MaxIDLen = 64

// Str reads text. Numbers and booleans are refused rather than turned into
// text: other YAML tools would read them differently.
func (d *Decoder) Str(n Node, path string) (string, bool) {
	if n.Kind != Scalar || n.Tag != String {
		hint := ""
		if n.Kind == Scalar && (n.Tag == Int || n.Tag == Float || n.Tag == Bool) {
			hint = fmt.Sprintf(` (write "%s" in quotes)`, Clip(n.Text))
		}
		d.Errf(n.Pos, path, "want text, got %s%s", n.Describe(), hint)
		return "", false
	}
	return n.Text, true
}

// ID reads an id: letters, digits, '.', '_' and '-', starting with a letter
// or digit, at most MaxIDLen bytes.
func (d *Decoder) ID(n Node, path string) (string, bool) {
	s, ok := d.Str(n, path)
	switch {
	case !ok:
	case s == "":
		d.Errf(n.Pos, path, "the id is empty")
	case len(s) > MaxIDLen:
		d.Errf(n.Pos, path, "the id is %d bytes long, more than %d", len(s), MaxIDLen)
	case !idPattern.MatchString(s):
		d.Errf(n.Pos, path, "%q is not an id: use letters, digits, '.', '_' and '-', starting with a letter or digit", Clip(s))
	default:
		return s, true
	}
	return "", false
}

// Int reads a whole number in [lo, hi].
func (d *Decoder) Int(n Node, path string, lo, hi int) (int, bool) {
	if n.Kind != Scalar || n.Tag != Int {
		d.Errf(n.Pos, path, "want a whole number, got %s", n.Describe())
		return 0, false
	}
	digits := strings.TrimPrefix(n.Text, "-")
	if digits == "" || strings.Trim(digits, "0123456789") != "" || len(digits) > 1 && digits[0] == '0' {
		d.Errf(n.Pos, path, "want a whole number in decimal digits without leading zeros, got %s", n.Describe())
		return 0, false
	}
	v, err := strconv.Atoi(n.Text)
	if err != nil || v > math.MaxInt32 {
		d.Errf(n.Pos, path, "%s is too large", Clip(n.Text))
		return 0, false
	}
	if v < lo || v > hi {
		d.Errf(n.Pos, path, "want a number from %d to %d, got %d", lo, hi, v)
		return 0, false
	}
	return v, true
}

// Bool reads true or false.
func (d *Decoder) Bool(n Node, path string) (bool, bool) {
	if n.Kind != Scalar || n.Tag != Bool {
		d.Errf(n.Pos, path, "want true or false, got %s", n.Describe())
		return false, false
	}
	return strings.EqualFold(n.Text, "true"), true
}

// Decimal reads an exact decimal written as a number or as text, from its
// text (never through a float).
func (d *Decoder) Decimal(n Node, path string) (decimal.Decimal, bool) {
	if n.Kind != Scalar || n.Tag == Null || n.Tag == Bool {
		d.Errf(n.Pos, path, `want a decimal such as "100.50", got %s`, n.Describe())
		return decimal.Decimal{}, false
	}
	x, err := canonical.ParseDecimal(n.Text)
	if err != nil {
		d.Errf(n.Pos, path, `want a plain decimal such as "100.50" (digits, an optional sign and point), got %s`, n.Describe())
		return decimal.Decimal{}, false
	}
	return x, true
}

// Positive reads a decimal above 0.
func (d *Decoder) Positive(n Node, path string) (decimal.Decimal, bool) {
	x, ok := d.Decimal(n, path)
	if ok && x.Sign() <= 0 {
		d.Errf(n.Pos, path, "want more than 0, got %s", x)
		return x, false
	}
	return x, ok
}

// Enum reads one of choices; what names the thing in messages.
func (d *Decoder) Enum(n Node, path, what string, choices []string) (string, bool) {
	if n.Kind != Scalar || n.Tag != String {
		d.Errf(n.Pos, path, "want %s, got %s", OneOf(choices), n.Describe())
		return "", false
	}
	if contains(choices, n.Text) {
		return n.Text, true
	}
	msg := fmt.Sprintf("unknown %s %q (want %s)", what, Clip(n.Text), OneOf(choices))
	if s := nearest(n.Text, choices); s != "" {
		msg = fmt.Sprintf("unknown %s %q; did you mean %q?", what, Clip(n.Text), s)
	}
	d.Errf(n.Pos, path, "%s", msg)
	return "", false
}

// Currency reads an active ISO 4217 code with a minor unit.
func (d *Decoder) Currency(n Node, path string) (string, bool) {
	s, ok := d.Str(n, path)
	if !ok {
		return "", false
	}
	c, ok := currency.Lookup(s)
	switch {
	case !ok:
		if _, upper := currency.Lookup(strings.ToUpper(s)); upper {
			d.Errf(n.Pos, path, "%q is not an ISO 4217 code; did you mean %q?", Clip(s), strings.ToUpper(s))
		} else {
			d.Errf(n.Pos, path, "%q is not an active ISO 4217 currency code", Clip(s))
		}
	case !c.HasMinorUnits():
		d.Errf(n.Pos, path, "%s (%s) has no minor unit to round money to", s, c.Name)
	default:
		return s, true
	}
	return "", false
}

// Timezone reads an IANA zone name.
func (d *Decoder) Timezone(n Node, path string) (*time.Location, bool) {
	s, ok := d.Str(n, path)
	if !ok {
		return nil, false
	}
	if loc, err := LoadZone(s); err == nil {
		return loc, true
	}
	d.Errf(n.Pos, path, "%q is not an IANA time zone (such as UTC or Europe/Paris)", Clip(s))
	return nil, false
}

// LoadZone loads an IANA zone by name, refusing "" and "Local" (which
// would mean the machine's zone).
func LoadZone(s string) (*time.Location, error) {
	if s == "" || s == "Local" || len(s) > 64 {
		return nil, fmt.Errorf("%q is not an IANA time zone", s)
	}
	return time.LoadLocation(s)
}

// ClockTime reads a time of day "HH:MM" (00:00 to 24:00) and returns the
// minutes since midnight.
func (d *Decoder) ClockTime(n Node, path string) (int, bool) {
	s, ok := d.Str(n, path)
	if !ok {
		return 0, false
	}
	if m, ok := ParseClock(s); ok {
		return m, true
	}
	d.Errf(n.Pos, path, "want a time of day HH:MM such as \"21:00\", got %s", n.Describe())
	return 0, false
}

// ParseClock reads "HH:MM" as minutes since midnight (24:00 is 1440).
func ParseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, false
	}
	return h*60 + m, true
}

// Duration reads a Go duration such as "24h" or "90m", at least lo.
func (d *Decoder) Duration(n Node, path string, lo time.Duration) (time.Duration, bool) {
	s, ok := d.Str(n, path)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.Errf(n.Pos, path, "want a duration such as \"24h\" or \"90m\", got %s", n.Describe())
		return 0, false
	}
	if v < lo {
		d.Errf(n.Pos, path, "want at least %v, got %v", lo, v)
		return 0, false
	}
	return v, true
}

// Names reads a list of distinct, non-empty names.
func (d *Decoder) Names(n Node, path string) []string {
	if n.Kind != Sequence {
		d.Errf(n.Pos, path, "want a list, got %s", n.Describe())
		return nil
	}
	out := make([]string, 0, len(n.Items))
	seen := map[string]bool{}
	for i, it := range n.Items {
		p := fmt.Sprintf("%s[%d]", path, i)
		s, ok := d.Str(it, p)
		switch {
		case !ok:
		case s == "":
			d.Errf(it.Pos, p, "a name is empty")
		case seen[s]:
			d.Errf(it.Pos, p, "%q is listed twice", Clip(s))
		default:
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// OneOf writes a list of choices for a message: "a, b or c".
func OneOf(choices []string) string {
	switch len(choices) {
	case 0:
		return ""
	case 1:
		return choices[0]
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}

// nearest returns the candidate closest to s by edit distance when it is
// close enough to be a likely misspelling, else "".
func nearest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		dd := editDistance(strings.ToLower(s), c)
		if bestD < 0 || dd < bestD {
			best, bestD = c, dd
		}
	}
	limit := max(2, len(best)/3)
	if bestD < 0 || bestD > limit || bestD >= len(s) {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
