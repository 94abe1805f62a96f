package program

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
	"github.com/accrue/accrue/transforms/reference"
)

// Limits of a document. They bound what one document can make Parse and the
// engine do; real programs are far below them.
const (
	// MaxDocumentLen is the largest document Parse reads, in bytes.
	MaxDocumentLen = 1 << 20
	// MaxExprLen is the longest expression, in bytes.
	MaxExprLen = 4096
	// MaxIDLen is the longest id of a program, spiff or badge.
	MaxIDLen = 64
	maxBands = 100
	maxLevel = 20
)

// idPattern is what ids of programs, spiffs and badges look like: they go
// into record keys (id@version) and output events.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// The keys of a document, in the order the reference lists them.
var (
	topKeys          = []string{"id", "version", "name", "currency", "timezone", "period", "effective_from", "effective_to", "participants", "credit", "quota", "tiers", "cap", "spiffs", "clawback", "overrides", "nudges", "badges"}
	participantsKeys = []string{"roles", "reps"}
	creditKeys       = []string{"filter", "measure"}
	quotaKeys        = []string{"default", "by_role", "by_rep"}
	tiersKeys        = []string{"basis", "method", "bands"}
	bandKeys         = []string{"from", "rate"}
	capKeys          = []string{"amount"}
	spiffKeys        = []string{"id", "when", "fixed", "rate", "max_per_period"}
	clawbackKeys     = []string{"window_days"}
	overrideKeys     = []string{"level", "rate"}
	nudgesKeys       = []string{"attainment_crossed", "near_next_tier"}
	nearNextTierKeys = []string{"within"}
	badgeKeys        = []string{"id", "metric", "at_least"}

	periods  = []string{string(Month), string(Quarter), string(Year)}
	measures = []string{string(Amount), string(Margin), string(Quantity), string(Count)}
	bases    = []string{string(Attainment), string(MeasureBase)}
	methods  = []string{string(Marginal), string(Retroactive)}
	metrics  = []string{MetricCount, MetricMeasure, MetricAttainment, MetricEarned}
)

// Parse reads a program document (PROGRAMS.md §3; the reference is
// docs/programs/README.md) and checks it completely. file names the
// document in problems. It returns the Program, or a nil Program and a
// Problems error listing every problem found, each with its line and
// column. Parse does not keep doc: Program.Document is a copy.
//
// Decimals are read from their text, never through a float. Parse is safe
// for concurrent use.
func Parse(file string, doc []byte) (*Program, error) {
	d := &decoder{doc: doc}
	p := d.parse(doc)
	if len(d.probs) > 0 {
		sort.SliceStable(d.probs, func(i, j int) bool {
			a, b := d.probs[i].pos, d.probs[j].pos
			return a.line < b.line || a.line == b.line && a.col < b.col
		})
		ps := make(Problems, len(d.probs))
		for i, q := range d.probs {
			if q.pos.line < 1 {
				q.pos = start
			}
			ps[i] = Problem{File: file, Line: q.pos.line, Column: max(q.pos.col, 1), Path: q.path, Msg: q.msg}
		}
		return nil, ps
	}
	p.Document = append([]byte(nil), doc...)
	p.Digest = digest(doc)
	return p, nil
}

// decoder walks a node tree into a Program, collecting every problem.
type decoder struct {
	doc   []byte
	lines []string // doc split in lines, made when an expression needs it
	probs []problem
	// basisPos is where tiers.basis was written; quotaDefault says
	// whether quota.default was (its value may still be wrong).
	basisPos     pos
	quotaDefault bool
}

func (d *decoder) errf(p pos, path, format string, args ...any) {
	d.probs = append(d.probs, problem{pos: p, path: path, msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) parse(doc []byte) *Program {
	if len(doc) > MaxDocumentLen {
		d.errf(start, "", "the document is %d bytes, more than the %d a program may have", len(doc), MaxDocumentLen)
		return nil
	}
	if !utf8.Valid(doc) {
		d.errf(invalidUTF8(doc), "", "the document is not UTF-8 text")
		return nil
	}
	root, probs := parseYAML(doc)
	d.probs = append(d.probs, probs...)
	if root.kind != mapping {
		if len(d.probs) == 0 {
			d.errf(root.pos, "", "a program document is a mapping of keys (id: …, version: …), not %s", root.describe())
		}
		return nil
	}
	p := &Program{}
	top := d.object(root, "", start, topKeys)
	r := reader{d: d}

	if v, ok := top.required("id"); ok {
		p.ID = r.id(v, "id")
	}
	if v, ok := top.required("version"); ok {
		p.Version = r.integer(v, "version", 1)
	}
	if v, ok := top.optional("name"); ok {
		p.Name = r.str(v, "name")
	}
	if p.Name == "" {
		p.Name = p.ID
	}
	if v, ok := top.required("currency"); ok {
		p.Currency = r.currency(v, "currency")
	}
	p.TimezoneName, p.Location = "UTC", time.UTC
	if v, ok := top.optional("timezone"); ok {
		p.TimezoneName, p.Location = r.timezone(v, "timezone")
	}
	if v, ok := top.required("period"); ok {
		p.Period = Period(r.enum(v, "period", "period", periods))
	}
	fromOK := false
	if v, ok := top.required("effective_from"); ok {
		p.EffectiveFrom, fromOK = r.date(v, "effective_from")
	}
	if v, ok := top.optional("effective_to"); ok {
		var toOK bool
		p.EffectiveTo, toOK = r.date(v, "effective_to")
		p.HasEnd = true
		if fromOK && toOK && p.EffectiveTo < p.EffectiveFrom {
			d.errf(v.pos, "effective_to", "%s is before effective_from %s", p.EffectiveTo, p.EffectiveFrom)
		}
	}
	if v, ok := top.optional("participants"); ok {
		o := d.object(v, "participants", v.pos, participantsKeys)
		if v, ok := o.optional("roles"); ok {
			p.Participants.Roles = r.names(v, "participants.roles")
		}
		if v, ok := o.optional("reps"); ok {
			p.Participants.Reps = r.names(v, "participants.reps")
		}
	}
	measurePos := pos{}
	if v, ok := top.required("credit"); ok {
		o := d.object(v, "credit", top.keyPos("credit"), creditKeys)
		if v, ok := o.optional("filter"); ok {
			p.Credit.Filter = r.expr(v, "credit.filter")
		}
		if v, ok := o.required("measure"); ok {
			p.Credit.Measure = Measure(r.enum(v, "credit.measure", "measure", measures))
			measurePos = v.pos
		}
	}
	quotaKey, hasQuota := top.optional("quota")
	if hasQuota {
		p.Quota = d.quota(r, quotaKey, top.keyPos("quota"))
	}
	if v, ok := top.required("tiers"); ok {
		d.tiers(r, v, top.keyPos("tiers"), &p.Tiers)
	}
	if v, ok := top.optional("cap"); ok {
		o := d.object(v, "cap", top.keyPos("cap"), capKeys)
		if v, ok := o.required("amount"); ok {
			if c, ok := r.positive(v, "cap.amount"); ok {
				p.Cap = &c
			}
		}
	}
	if v, ok := top.optional("spiffs"); ok {
		p.Spiffs = d.spiffs(r, v)
	}
	if v, ok := top.optional("clawback"); ok {
		o := d.object(v, "clawback", top.keyPos("clawback"), clawbackKeys)
		if v, ok := o.required("window_days"); ok {
			p.Clawback = &Clawback{WindowDays: r.integer(v, "clawback.window_days", 1)}
		}
	}
	if v, ok := top.optional("overrides"); ok {
		p.Overrides = d.overrides(r, v)
		if len(p.Overrides) > 0 && (p.Credit.Measure == Count || p.Credit.Measure == Quantity) {
			d.errf(top.keyPos("overrides"), "overrides",
				"overrides pay a share of amount or margin; this program measures %s (credit.measure at line %d)",
				p.Credit.Measure, measurePos.line)
		}
	}
	var nudges nudgeKeys
	if v, ok := top.optional("nudges"); ok {
		nudges = d.nudges(r, v, top.keyPos("nudges"), &p.Nudges)
	}
	var attainmentBadges []placed
	if v, ok := top.optional("badges"); ok {
		p.Badges, attainmentBadges = d.badges(r, v)
	}

	// What needs a quota: attainment is M / Q, and a rep without Q has
	// none. by_role and by_rep only override the default, so the default
	// is what makes every rep's quota known.
	if !d.quotaDefault {
		add := "add quota.default"
		if hasQuota {
			add = "add default under quota (by_role and by_rep only override it)"
		}
		if p.Tiers.Basis == Attainment {
			d.errf(d.basisPos, "tiers.basis", "attainment bands are fractions of quota and need a quota for every rep: %s", add)
		}
		if nudges.crossed.line > 0 {
			d.errf(nudges.crossed, "nudges.attainment_crossed", "attainment nudges need a quota for every rep: %s", add)
		}
		if nudges.near.line > 0 && p.Tiers.Basis == Attainment {
			d.errf(nudges.near, "nudges.near_next_tier", "with tiers.basis attainment the gap is a fraction of quota and needs a quota for every rep: %s", add)
		}
		for _, b := range attainmentBadges {
			d.errf(b.pos, b.path, "metric attainment needs a quota for every rep: %s", add)
		}
	}
	return p
}

// invalidUTF8 is the position of the first byte that is not UTF-8.
func invalidUTF8(b []byte) pos {
	p := start
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return p
		}
		if r == '\n' {
			p.line++
			p.col = 1
		} else {
			p.col++
		}
		i += n
	}
	return p
}

// object is a mapping being read: its keys by name, where to report the
// ones that are missing.
type object struct {
	d    *decoder
	path string
	at   pos // where a missing key is reported: the mapping's key
	keys map[string]pair
	// bad is set when the value is not a mapping at all: that is the one
	// problem, not each key it lacks. suggested are the keys offered for
	// misspelt ones: "did you mean" says they are missing.
	bad       bool
	suggested map[string]bool
}

// object reads n as a mapping with the known keys. Unknown and duplicate
// keys are problems (with the nearest known key as a suggestion); the
// returned object holds the others. at is where n's own key was written.
func (d *decoder) object(n node, path string, at pos, known []string) *object {
	o := &object{d: d, path: path, at: at, keys: map[string]pair{}}
	if n.kind != mapping {
		what := "a mapping of keys"
		if path != "" {
			what = fmt.Sprintf("a mapping of keys (%s)", strings.Join(known, ", "))
		}
		d.errf(n.pos, path, "want %s, got %s", what, n.describe())
		o.bad = true
		return o
	}
	for _, k := range n.keys {
		kp := join(path, k.name)
		if _, dup := o.keys[k.name]; dup {
			d.errf(k.pos, kp, "%s is given twice", k.name)
			continue
		}
		if !contains(known, k.name) {
			if s := nearest(k.name, known); s != "" {
				d.errf(k.pos, kp, "unknown key %q; did you mean %q?", k.name, s)
				if o.suggested == nil {
					o.suggested = map[string]bool{}
				}
				o.suggested[s] = true
			} else {
				d.errf(k.pos, kp, "unknown key %q (known: %s)", k.name, strings.Join(known, ", "))
			}
			continue
		}
		o.keys[k.name] = k
	}
	return o
}

// required returns the value of key, or reports that it is missing or
// empty.
func (o *object) required(key string) (node, bool) {
	k, ok := o.keys[key]
	if !ok {
		if !o.bad && !o.suggested[key] {
			o.d.errf(o.at, join(o.path, key), "%s is missing", key)
		}
		return node{}, false
	}
	if k.val.isNull() {
		o.d.errf(k.pos, join(o.path, key), "%s has no value", key)
		return node{}, false
	}
	return k.val, true
}

// optional returns the value of key. A key written without a value is a
// problem, not an absent key: "effective_to:" is more likely a date
// forgotten than a program without an end.
func (o *object) optional(key string) (node, bool) {
	k, ok := o.keys[key]
	if !ok {
		return node{}, false
	}
	if k.val.isNull() {
		o.d.errf(k.pos, join(o.path, key), "%s has no value: give one, or leave the key out", key)
		return node{}, false
	}
	return k.val, true
}

// keyPos is where key was written, or where the mapping was.
func (o *object) keyPos(key string) pos {
	if k, ok := o.keys[key]; ok {
		return k.pos
	}
	return o.at
}

func join(a, b string) string {
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

func (d *decoder) quota(r reader, n node, at pos) *Quota {
	o := d.object(n, "quota", at, quotaKeys)
	q := &Quota{}
	if v, ok := o.optional("default"); ok {
		d.quotaDefault = true
		if x, ok := r.positive(v, "quota.default"); ok {
			q.Default = decimal.NullDecimal{Decimal: x, Valid: true}
		}
	}
	if v, ok := o.optional("by_role"); ok {
		q.ByRole = d.quotaMap(r, v, "quota.by_role")
	}
	if v, ok := o.optional("by_rep"); ok {
		q.ByRep = d.quotaMap(r, v, "quota.by_rep")
	}
	if n.kind == mapping && len(n.keys) == 0 {
		d.errf(at, "quota", "quota is empty: give default, by_role or by_rep, or leave quota out")
	}
	return q
}

func (d *decoder) quotaMap(r reader, n node, path string) map[string]decimal.Decimal {
	if n.kind != mapping {
		d.errf(n.pos, path, "want a mapping of names to quotas, got %s", n.describe())
		return nil
	}
	out := make(map[string]decimal.Decimal, len(n.keys))
	for _, k := range n.keys {
		p := path + "." + k.name
		if k.name == "" {
			d.errf(k.pos, p, "a name is empty")
			continue
		}
		if _, dup := out[k.name]; dup {
			d.errf(k.pos, p, "%s is given twice", k.name)
			continue
		}
		if k.val.isNull() {
			d.errf(k.pos, p, "%s has no quota", k.name)
			continue
		}
		if x, ok := r.positive(k.val, p); ok {
			out[k.name] = x
		}
	}
	return out
}

func (d *decoder) tiers(r reader, n node, at pos, t *Tiers) {
	o := d.object(n, "tiers", at, tiersKeys)
	if v, ok := o.required("basis"); ok {
		t.Basis = Basis(r.enum(v, "tiers.basis", "basis", bases))
		d.basisPos = v.pos
	}
	if v, ok := o.required("method"); ok {
		t.Method = Method(r.enum(v, "tiers.method", "method", methods))
	}
	v, ok := o.required("bands")
	if !ok {
		return
	}
	if v.kind != sequence {
		d.errf(v.pos, "tiers.bands", "want a list of bands ({from, rate}), got %s", v.describe())
		return
	}
	if len(v.items) == 0 {
		d.errf(v.pos, "tiers.bands", "no bands: give at least {from: \"0\", rate: …}")
		return
	}
	if len(v.items) > maxBands {
		d.errf(v.pos, "tiers.bands", "%d bands, more than %d", len(v.items), maxBands)
		return
	}
	prevOK := false
	var prev decimal.Decimal
	for i, it := range v.items {
		path := fmt.Sprintf("tiers.bands[%d]", i)
		bo := d.object(it, path, it.pos, bandKeys)
		var b Band
		fromOK, rateOK := false, false
		if fv, ok := bo.required("from"); ok {
			b.From, fromOK = r.decimal(fv, path+".from")
			switch {
			case !fromOK:
			case i == 0 && (!b.From.IsZero() || strings.HasPrefix(fv.text, "-")):
				d.errf(fv.pos, path+".from", "the first band starts at 0, not %s", clip(fv.text))
			case i > 0 && prevOK && b.From.LessThanOrEqual(prev):
				d.errf(fv.pos, path+".from", "bands rise strictly: %s does not rise above the previous band's %s", b.From, prev)
			}
		}
		if rv, ok := bo.required("rate"); ok {
			b.Rate, rateOK = r.nonNegative(rv, path+".rate")
		}
		prev, prevOK = b.From, fromOK
		if fromOK && rateOK {
			t.Bands = append(t.Bands, b)
		}
	}
}

func (d *decoder) spiffs(r reader, n node) []Spiff {
	if n.kind != sequence {
		d.errf(n.pos, "spiffs", "want a list of spiffs, got %s", n.describe())
		return nil
	}
	var out []Spiff
	seen := map[string]int{}
	for i, it := range n.items {
		path := fmt.Sprintf("spiffs[%d]", i)
		o := d.object(it, path, it.pos, spiffKeys)
		var s Spiff
		if v, ok := o.required("id"); ok {
			s.ID = r.id(v, path+".id")
			if j, dup := seen[s.ID]; dup && s.ID != "" {
				d.errf(v.pos, path+".id", "spiff %q is also spiffs[%d]; ids are unique", s.ID, j)
			} else if s.ID != "" {
				seen[s.ID] = i
			}
		}
		if v, ok := o.optional("when"); ok {
			s.When = r.expr(v, path+".when")
		}
		fixed, hasFixed := o.optional("fixed")
		rate, hasRate := o.optional("rate")
		switch {
		case hasFixed && hasRate:
			d.errf(o.keyPos("rate"), path, "a spiff pays fixed or rate, not both")
		case !hasFixed && !hasRate && !o.bad:
			d.errf(o.at, path, "a spiff pays fixed (an amount per sale) or rate (a share of the credited amount): give one")
		}
		if hasFixed {
			if x, ok := r.positive(fixed, path+".fixed"); ok {
				s.Fixed = decimal.NullDecimal{Decimal: x, Valid: true}
			}
		}
		if hasRate {
			if x, ok := r.positive(rate, path+".rate"); ok {
				s.Rate = decimal.NullDecimal{Decimal: x, Valid: true}
			}
		}
		if v, ok := o.optional("max_per_period"); ok {
			s.MaxPerPeriod = r.integer(v, path+".max_per_period", 1)
			if !hasFixed {
				d.errf(o.keyPos("max_per_period"), path+".max_per_period",
					"max_per_period caps a fixed spiff (total at most max_per_period × fixed); this spiff has no fixed")
			}
		}
		out = append(out, s)
	}
	return out
}

func (d *decoder) overrides(r reader, n node) []Override {
	if n.kind != sequence {
		d.errf(n.pos, "overrides", "want a list of overrides ({level, rate}), got %s", n.describe())
		return nil
	}
	var out []Override
	at := map[int]int{}    // level → index
	where := map[int]pos{} // level → where it was written
	levelsOK := true
	for i, it := range n.items {
		path := fmt.Sprintf("overrides[%d]", i)
		o := d.object(it, path, it.pos, overrideKeys)
		var ov Override
		if v, ok := o.required("level"); ok {
			ov.Level = r.integer(v, path+".level", 1)
			switch {
			case ov.Level == 0:
				levelsOK = false
			case ov.Level > maxLevel:
				d.errf(v.pos, path+".level", "level %d is deeper than %d", ov.Level, maxLevel)
				levelsOK = false
			default:
				if j, dup := at[ov.Level]; dup {
					d.errf(v.pos, path+".level", "level %d is also overrides[%d]", ov.Level, j)
					levelsOK = false
				} else {
					at[ov.Level], where[ov.Level] = i, v.pos
				}
			}
		} else {
			levelsOK = false
		}
		if v, ok := o.required("rate"); ok {
			ov.Rate, _ = r.nonNegative(v, path+".rate")
		}
		out = append(out, ov)
	}
	if levelsOK {
		// Every level is 1..maxLevel and distinct: a gap shows as a level
		// above the count. Report it at the first level past the gap.
		for l := 1; l <= len(out); l++ {
			if _, ok := at[l]; ok {
				continue
			}
			next := l + 1
			for ; next <= maxLevel; next++ {
				if _, ok := at[next]; ok {
					break
				}
			}
			d.errf(where[next], fmt.Sprintf("overrides[%d].level", at[next]),
				"level %d skips level %d: levels go 1 (the manager), 2 (the manager's manager), … without a gap", next, l)
			break
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Level < out[j].Level })
	return out
}

// nudgeKeys says where the nudges that need a quota were written.
type nudgeKeys struct{ crossed, near pos }

func (d *decoder) nudges(r reader, n node, at pos, nu *Nudges) nudgeKeys {
	var w nudgeKeys
	o := d.object(n, "nudges", at, nudgesKeys)
	if v, ok := o.optional("attainment_crossed"); ok {
		w.crossed = o.keyPos("attainment_crossed")
		if v.kind != sequence {
			d.errf(v.pos, "nudges.attainment_crossed", "want a list of thresholds (fractions of quota), got %s", v.describe())
		} else {
			var prev decimal.Decimal
			for i, it := range v.items {
				path := fmt.Sprintf("nudges.attainment_crossed[%d]", i)
				x, ok := r.positive(it, path)
				if !ok {
					continue
				}
				if i > 0 && x.LessThanOrEqual(prev) {
					d.errf(it.pos, path, "thresholds rise strictly: %s does not rise above %s", x, prev)
				}
				prev = x
				nu.AttainmentCrossed = append(nu.AttainmentCrossed, x)
			}
		}
	}
	if v, ok := o.optional("near_next_tier"); ok {
		w.near = o.keyPos("near_next_tier")
		no := d.object(v, "nudges.near_next_tier", w.near, nearNextTierKeys)
		if v, ok := no.required("within"); ok {
			if x, ok := r.positive(v, "nudges.near_next_tier.within"); ok {
				nu.NearNextTierWithin = decimal.NullDecimal{Decimal: x, Valid: true}
			}
		}
	}
	return w
}

// placed is a position with the path written there.
type placed struct {
	pos
	path string
}

func (d *decoder) badges(r reader, n node) ([]Badge, []placed) {
	if n.kind != sequence {
		d.errf(n.pos, "badges", "want a list of badges ({id, metric, at_least}), got %s", n.describe())
		return nil, nil
	}
	var out []Badge
	var attainment []placed
	seen := map[string]int{}
	for i, it := range n.items {
		path := fmt.Sprintf("badges[%d]", i)
		o := d.object(it, path, it.pos, badgeKeys)
		var b Badge
		if v, ok := o.required("id"); ok {
			b.ID = r.id(v, path+".id")
			if j, dup := seen[b.ID]; dup && b.ID != "" {
				d.errf(v.pos, path+".id", "badge %q is also badges[%d]; ids are unique", b.ID, j)
			} else if b.ID != "" {
				seen[b.ID] = i
			}
		}
		if v, ok := o.required("metric"); ok {
			b.Metric = r.enum(v, path+".metric", "metric", metrics)
			if b.Metric == MetricAttainment {
				attainment = append(attainment, placed{v.pos, path + ".metric"})
			}
		}
		if v, ok := o.required("at_least"); ok {
			b.AtLeast, _ = r.positive(v, path+".at_least")
		}
		out = append(out, b)
	}
	return out, attainment
}

// reader reads scalars, reporting what is wrong with them.
type reader struct{ d *decoder }

// str reads text. Numbers and booleans are refused rather than turned into
// text: `id: 017` would otherwise be read differently by other YAML tools.
func (r reader) str(n node, path string) string {
	if n.kind != scalar || n.tag != tString {
		hint := ""
		if n.kind == scalar && (n.tag == tInt || n.tag == tFloat || n.tag == tBool) {
			hint = fmt.Sprintf(` (write "%s" in quotes)`, clip(n.text))
		}
		r.d.errf(n.pos, path, "want text, got %s%s", n.describe(), hint)
		return ""
	}
	return n.text
}

// id reads an id: letters, digits, '.', '_' and '-', starting with a
// letter or digit.
func (r reader) id(n node, path string) string {
	s := r.str(n, path)
	switch {
	case n.kind != scalar || n.tag != tString:
		return ""
	case s == "":
		r.d.errf(n.pos, path, "the id is empty")
	case len(s) > MaxIDLen:
		r.d.errf(n.pos, path, "the id is %d bytes long, more than %d", len(s), MaxIDLen)
	case !idPattern.MatchString(s):
		r.d.errf(n.pos, path, "%q is not an id: use letters, digits, '.', '_' and '-', starting with a letter or digit", clip(s))
	default:
		return s
	}
	return ""
}

// names reads a list of distinct, non-empty names (roles, rep ids).
func (r reader) names(n node, path string) []string {
	if n.kind != sequence {
		r.d.errf(n.pos, path, "want a list, got %s", n.describe())
		return nil
	}
	out := make([]string, 0, len(n.items))
	seen := map[string]bool{}
	for i, it := range n.items {
		p := fmt.Sprintf("%s[%d]", path, i)
		s := r.str(it, p)
		switch {
		case it.kind != scalar || it.tag != tString:
		case s == "":
			r.d.errf(it.pos, p, "a name is empty")
		case seen[s]:
			r.d.errf(it.pos, p, "%q is listed twice", clip(s))
		default:
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// integer reads a whole number of at least min, written as a plain YAML
// number.
func (r reader) integer(n node, path string, min int) int {
	if n.kind != scalar || n.tag != tInt {
		r.d.errf(n.pos, path, "want a whole number, got %s", n.describe())
		return 0
	}
	s := n.text
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		r.d.errf(n.pos, path, "want a whole number in decimal digits, got %s", n.describe())
		return 0
	}
	if len(digits) > 1 && digits[0] == '0' {
		r.d.errf(n.pos, path, "write %s without leading zeros (YAML may read them as octal)", strings.TrimLeft(digits, "0"))
		return 0
	}
	v, err := strconv.Atoi(s)
	if err != nil || v > math.MaxInt32 {
		r.d.errf(n.pos, path, "%s is too large", clip(s))
		return 0
	}
	if v < min {
		r.d.errf(n.pos, path, "want at least %d, got %d", min, v)
		return 0
	}
	return v
}

// decimal reads an exact decimal written as a number (0.05) or as text
// ("0.05"), from its text.
func (r reader) decimal(n node, path string) (decimal.Decimal, bool) {
	if n.kind != scalar || n.tag == tNull || n.tag == tBool {
		r.d.errf(n.pos, path, `want a decimal such as "0.05", got %s`, n.describe())
		return decimal.Decimal{}, false
	}
	s := n.text
	if digits := strings.TrimLeft(s, "+-"); n.tag == tInt && len(digits) > 1 && digits[0] == '0' && strings.Trim(digits, "0123456789") == "" {
		r.d.errf(n.pos, path, "write %s without leading zeros, or quote it (YAML may read them as octal)", clip(s))
		return decimal.Decimal{}, false
	}
	x, err := canonical.ParseDecimal(s)
	if err != nil {
		r.d.errf(n.pos, path, `want a plain decimal such as "0.05" (digits, an optional sign and point), got %s`, n.describe())
		return decimal.Decimal{}, false
	}
	return x, true
}

func (r reader) positive(n node, path string) (decimal.Decimal, bool) {
	x, ok := r.decimal(n, path)
	if ok && x.Sign() <= 0 {
		r.d.errf(n.pos, path, "want more than 0, got %s", x)
		return x, false
	}
	return x, ok
}

func (r reader) nonNegative(n node, path string) (decimal.Decimal, bool) {
	x, ok := r.decimal(n, path)
	if ok && (x.Sign() < 0 || strings.HasPrefix(n.text, "-")) {
		r.d.errf(n.pos, path, "a rate cannot be negative, got %s", clip(n.text))
		return x, false
	}
	return x, ok
}

// enum reads one of choices; what names the thing in messages.
func (r reader) enum(n node, path, what string, choices []string) string {
	if n.kind != scalar || n.tag != tString {
		r.d.errf(n.pos, path, "want %s, got %s", oneOf(choices), n.describe())
		return ""
	}
	if contains(choices, n.text) {
		return n.text
	}
	msg := fmt.Sprintf("unknown %s %q (want %s)", what, clip(n.text), oneOf(choices))
	if s := nearest(n.text, choices); s != "" {
		msg = fmt.Sprintf("unknown %s %q; did you mean %q?", what, clip(n.text), s)
	}
	r.d.errf(n.pos, path, "%s", msg)
	return ""
}

// currency reads an ISO 4217 code that has a minor unit (money is rounded
// to it).
func (r reader) currency(n node, path string) string {
	s := r.str(n, path)
	if n.kind != scalar || n.tag != tString {
		return ""
	}
	c, ok := currency.Lookup(s)
	switch {
	case !ok && currencyKnownUpper(s):
		r.d.errf(n.pos, path, "%q is not an ISO 4217 code; did you mean %q?", clip(s), strings.ToUpper(s))
	case !ok:
		r.d.errf(n.pos, path, "%q is not an active ISO 4217 currency code", clip(s))
	case !c.HasMinorUnits():
		r.d.errf(n.pos, path, "%s (%s) has no minor unit to round pay to", s, c.Name)
	default:
		return s
	}
	return ""
}

func currencyKnownUpper(s string) bool {
	_, ok := currency.Lookup(strings.ToUpper(s))
	return ok
}

// timezone reads an IANA zone name.
func (r reader) timezone(n node, path string) (string, *time.Location) {
	s := r.str(n, path)
	if n.kind != scalar || n.tag != tString {
		return "UTC", time.UTC
	}
	if s == "" || s == "Local" || len(s) > 64 {
		r.d.errf(n.pos, path, "%q is not an IANA time zone (such as UTC or Europe/Paris)", clip(s))
		return "UTC", time.UTC
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		r.d.errf(n.pos, path, "%q is not an IANA time zone (such as UTC or Europe/Paris)", clip(s))
		return "UTC", time.UTC
	}
	return s, loc
}

// date reads YYYY-MM-DD as a local calendar date.
func (r reader) date(n node, path string) (reference.Date, bool) {
	if n.kind != scalar || n.tag != tString || n.text == "" {
		r.d.errf(n.pos, path, "want a date YYYY-MM-DD, got %s", n.describe())
		return 0, false
	}
	day, err := reference.ParseDate(n.text)
	if err != nil {
		r.d.errf(n.pos, path, "want a date YYYY-MM-DD, got %s", n.describe())
		return 0, false
	}
	return day, true
}
