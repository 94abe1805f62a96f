package program

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // a document valid on one machine is valid on every machine

	"github.com/shopspring/decimal"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/internal/yamldoc"
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
	MaxIDLen = yamldoc.MaxIDLen
	maxBands = 100
	maxLevel = 20
)

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
	nudgesKeys       = []string{"attainment_crossed", "near_next_tier", "inactivity", "period_ending"}
	nearNextTierKeys = []string{"within"}
	inactivityKeys   = []string{"days"}
	periodEndingKeys = []string{"days_before", "within"}
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
	d := &decoder{Decoder: yamldoc.NewDecoder(file), doc: doc}
	p := d.parse(doc)
	if err := d.Err(); err != nil {
		return nil, err
	}
	p.Document = append([]byte(nil), doc...)
	p.Digest = digest(doc)
	return p, nil
}

// decoder walks a node tree into a Program, collecting every problem.
type decoder struct {
	*yamldoc.Decoder
	doc   []byte
	lines []string // doc split in lines, made when an expression needs it
	// basisPos is where tiers.basis was written; quotaDefault says
	// whether quota.default was (its value may still be wrong).
	basisPos     yamldoc.Pos
	quotaDefault bool
}

func (d *decoder) parse(doc []byte) *Program {
	if len(doc) > MaxDocumentLen {
		d.Errf(yamldoc.Start, "", "the document is %d bytes, more than the %d a program may have", len(doc), MaxDocumentLen)
		return nil
	}
	root := d.Read(doc, "program")
	if root.Kind != yamldoc.Mapping {
		if !d.Failed() {
			d.Errf(root.Pos, "", "a program document is a mapping of keys (id: …, version: …), not %s", root.Describe())
		}
		return nil
	}
	p := &Program{}
	top := d.Object(root, "", yamldoc.Start, topKeys)
	r := reader{d: d}

	if v, ok := top.Required("id"); ok {
		p.ID = r.id(v, "id")
	}
	if v, ok := top.Required("version"); ok {
		p.Version = r.integer(v, "version", 1)
	}
	if v, ok := top.Optional("name"); ok {
		p.Name = r.str(v, "name")
	}
	if p.Name == "" {
		p.Name = p.ID
	}
	if v, ok := top.Required("currency"); ok {
		p.Currency = r.currency(v, "currency")
	}
	p.TimezoneName, p.Location = "UTC", time.UTC
	if v, ok := top.Optional("timezone"); ok {
		p.TimezoneName, p.Location = r.timezone(v, "timezone")
	}
	if v, ok := top.Required("period"); ok {
		p.Period = Period(r.enum(v, "period", "period", periods))
	}
	fromOK := false
	if v, ok := top.Required("effective_from"); ok {
		p.EffectiveFrom, fromOK = r.date(v, "effective_from")
	}
	if v, ok := top.Optional("effective_to"); ok {
		var toOK bool
		p.EffectiveTo, toOK = r.date(v, "effective_to")
		p.HasEnd = true
		if fromOK && toOK && p.EffectiveTo < p.EffectiveFrom {
			d.Errf(v.Pos, "effective_to", "%s is before effective_from %s", p.EffectiveTo, p.EffectiveFrom)
		}
	}
	if v, ok := top.Optional("participants"); ok {
		o := d.Object(v, "participants", v.Pos, participantsKeys)
		if v, ok := o.Optional("roles"); ok {
			p.Participants.Roles = r.names(v, "participants.roles")
		}
		if v, ok := o.Optional("reps"); ok {
			p.Participants.Reps = r.names(v, "participants.reps")
		}
	}
	measurePos := yamldoc.Pos{}
	if v, ok := top.Required("credit"); ok {
		o := d.Object(v, "credit", top.KeyPos("credit"), creditKeys)
		if v, ok := o.Optional("filter"); ok {
			p.Credit.Filter = r.expr(v, "credit.filter")
		}
		if v, ok := o.Required("measure"); ok {
			p.Credit.Measure = Measure(r.enum(v, "credit.measure", "measure", measures))
			measurePos = v.Pos
		}
	}
	quotaKey, hasQuota := top.Optional("quota")
	if hasQuota {
		p.Quota = d.quota(r, quotaKey, top.KeyPos("quota"))
	}
	if v, ok := top.Required("tiers"); ok {
		d.tiers(r, v, top.KeyPos("tiers"), &p.Tiers)
	}
	if v, ok := top.Optional("cap"); ok {
		o := d.Object(v, "cap", top.KeyPos("cap"), capKeys)
		if v, ok := o.Required("amount"); ok {
			if c, ok := r.positive(v, "cap.amount"); ok {
				p.Cap = &c
			}
		}
	}
	if v, ok := top.Optional("spiffs"); ok {
		p.Spiffs = d.spiffs(r, v)
	}
	if v, ok := top.Optional("clawback"); ok {
		o := d.Object(v, "clawback", top.KeyPos("clawback"), clawbackKeys)
		if v, ok := o.Required("window_days"); ok {
			p.Clawback = &Clawback{WindowDays: r.integer(v, "clawback.window_days", 1)}
		}
	}
	if v, ok := top.Optional("overrides"); ok {
		p.Overrides = d.overrides(r, v)
		if len(p.Overrides) > 0 && (p.Credit.Measure == Count || p.Credit.Measure == Quantity) {
			d.Errf(top.KeyPos("overrides"), "overrides",
				"overrides pay a share of amount or margin; this program measures %s (credit.measure at line %d)",
				p.Credit.Measure, measurePos.Line)
		}
	}
	var nudges nudgeKeys
	if v, ok := top.Optional("nudges"); ok {
		nudges = d.nudges(r, v, top.KeyPos("nudges"), &p.Nudges)
		if nudges.ending.Line > 0 && len(p.Tiers.Bands) == 1 {
			d.Errf(nudges.ending, "nudges.period_ending", "the nudge is about the gap to the next band, and tiers.bands has only one band")
		}
	}
	var attainmentBadges []placed
	if v, ok := top.Optional("badges"); ok {
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
			d.Errf(d.basisPos, "tiers.basis", "attainment bands are fractions of quota and need a quota for every rep: %s", add)
		}
		if nudges.crossed.Line > 0 {
			d.Errf(nudges.crossed, "nudges.attainment_crossed", "attainment nudges need a quota for every rep: %s", add)
		}
		if nudges.near.Line > 0 && p.Tiers.Basis == Attainment {
			d.Errf(nudges.near, "nudges.near_next_tier", "with tiers.basis attainment the gap is a fraction of quota and needs a quota for every rep: %s", add)
		}
		if nudges.ending.Line > 0 && p.Tiers.Basis == Attainment {
			d.Errf(nudges.ending, "nudges.period_ending", "with tiers.basis attainment the gap is a fraction of quota and needs a quota for every rep: %s", add)
		}
		for _, b := range attainmentBadges {
			d.Errf(b.Pos, b.path, "metric attainment needs a quota for every rep: %s", add)
		}
	}
	return p
}

func (d *decoder) quota(r reader, n yamldoc.Node, at yamldoc.Pos) *Quota {
	o := d.Object(n, "quota", at, quotaKeys)
	q := &Quota{}
	if v, ok := o.Optional("default"); ok {
		d.quotaDefault = true
		if x, ok := r.positive(v, "quota.default"); ok {
			q.Default = decimal.NullDecimal{Decimal: x, Valid: true}
		}
	}
	if v, ok := o.Optional("by_role"); ok {
		q.ByRole = d.quotaMap(r, v, "quota.by_role")
	}
	if v, ok := o.Optional("by_rep"); ok {
		q.ByRep = d.quotaMap(r, v, "quota.by_rep")
	}
	if n.Kind == yamldoc.Mapping && len(n.Keys) == 0 {
		d.Errf(at, "quota", "quota is empty: give default, by_role or by_rep, or leave quota out")
	}
	return q
}

func (d *decoder) quotaMap(r reader, n yamldoc.Node, path string) map[string]decimal.Decimal {
	if n.Kind != yamldoc.Mapping {
		d.Errf(n.Pos, path, "want a mapping of names to quotas, got %s", n.Describe())
		return nil
	}
	out := make(map[string]decimal.Decimal, len(n.Keys))
	for _, k := range n.Keys {
		p := path + "." + k.Name
		if k.Name == "" {
			d.Errf(k.Pos, p, "a name is empty")
			continue
		}
		if _, dup := out[k.Name]; dup {
			d.Errf(k.Pos, p, "%s is given twice", k.Name)
			continue
		}
		if k.Val.IsNull() {
			d.Errf(k.Pos, p, "%s has no quota", k.Name)
			continue
		}
		if x, ok := r.positive(k.Val, p); ok {
			out[k.Name] = x
		}
	}
	return out
}

func (d *decoder) tiers(r reader, n yamldoc.Node, at yamldoc.Pos, t *Tiers) {
	o := d.Object(n, "tiers", at, tiersKeys)
	if v, ok := o.Required("basis"); ok {
		t.Basis = Basis(r.enum(v, "tiers.basis", "basis", bases))
		d.basisPos = v.Pos
	}
	if v, ok := o.Required("method"); ok {
		t.Method = Method(r.enum(v, "tiers.method", "method", methods))
	}
	v, ok := o.Required("bands")
	if !ok {
		return
	}
	if v.Kind != yamldoc.Sequence {
		d.Errf(v.Pos, "tiers.bands", "want a list of bands ({from, rate}), got %s", v.Describe())
		return
	}
	if len(v.Items) == 0 {
		d.Errf(v.Pos, "tiers.bands", "no bands: give at least {from: \"0\", rate: …}")
		return
	}
	if len(v.Items) > maxBands {
		d.Errf(v.Pos, "tiers.bands", "%d bands, more than %d", len(v.Items), maxBands)
		return
	}
	prevOK := false
	var prev decimal.Decimal
	for i, it := range v.Items {
		path := fmt.Sprintf("tiers.bands[%d]", i)
		bo := d.Object(it, path, it.Pos, bandKeys)
		var b Band
		fromOK, rateOK := false, false
		if fv, ok := bo.Required("from"); ok {
			b.From, fromOK = r.decimal(fv, path+".from")
			switch {
			case !fromOK:
			case i == 0 && (!b.From.IsZero() || strings.HasPrefix(fv.Text, "-")):
				d.Errf(fv.Pos, path+".from", "the first band starts at 0, not %s", yamldoc.Clip(fv.Text))
			case i > 0 && prevOK && b.From.LessThanOrEqual(prev):
				d.Errf(fv.Pos, path+".from", "bands rise strictly: %s does not rise above the previous band's %s", b.From, prev)
			}
		}
		if rv, ok := bo.Required("rate"); ok {
			b.Rate, rateOK = r.nonNegative(rv, path+".rate")
		}
		prev, prevOK = b.From, fromOK
		if fromOK && rateOK {
			t.Bands = append(t.Bands, b)
		}
	}
}

func (d *decoder) spiffs(r reader, n yamldoc.Node) []Spiff {
	if n.Kind != yamldoc.Sequence {
		d.Errf(n.Pos, "spiffs", "want a list of spiffs, got %s", n.Describe())
		return nil
	}
	var out []Spiff
	seen := map[string]int{}
	for i, it := range n.Items {
		path := fmt.Sprintf("spiffs[%d]", i)
		o := d.Object(it, path, it.Pos, spiffKeys)
		var s Spiff
		s.ID = r.uniqueID(o, path, i, "spiff", "spiffs", seen)
		if v, ok := o.Optional("when"); ok {
			s.When = r.expr(v, path+".when")
		}
		fixed, hasFixed := o.Optional("fixed")
		rate, hasRate := o.Optional("rate")
		switch {
		case hasFixed && hasRate:
			d.Errf(o.KeyPos("rate"), path, "a spiff pays fixed or rate, not both")
		case !hasFixed && !hasRate && o.IsMapping():
			d.Errf(o.At(), path, "a spiff pays fixed (an amount per sale) or rate (a share of the credited amount): give one")
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
		if v, ok := o.Optional("max_per_period"); ok {
			s.MaxPerPeriod = r.integer(v, path+".max_per_period", 1)
			if !hasFixed {
				d.Errf(o.KeyPos("max_per_period"), path+".max_per_period",
					"max_per_period caps a fixed spiff (total at most max_per_period × fixed); this spiff has no fixed")
			}
		}
		out = append(out, s)
	}
	return out
}

func (d *decoder) overrides(r reader, n yamldoc.Node) []Override {
	if n.Kind != yamldoc.Sequence {
		d.Errf(n.Pos, "overrides", "want a list of overrides ({level, rate}), got %s", n.Describe())
		return nil
	}
	var out []Override
	at := map[int]int{}            // level → index
	where := map[int]yamldoc.Pos{} // level → where it was written
	levelsOK := true
	for i, it := range n.Items {
		path := fmt.Sprintf("overrides[%d]", i)
		o := d.Object(it, path, it.Pos, overrideKeys)
		var ov Override
		if v, ok := o.Required("level"); ok {
			ov.Level = r.integer(v, path+".level", 1)
			switch {
			case ov.Level == 0:
				levelsOK = false
			case ov.Level > maxLevel:
				d.Errf(v.Pos, path+".level", "level %d is deeper than %d", ov.Level, maxLevel)
				levelsOK = false
			default:
				if j, dup := at[ov.Level]; dup {
					d.Errf(v.Pos, path+".level", "level %d is also overrides[%d]", ov.Level, j)
					levelsOK = false
				} else {
					at[ov.Level], where[ov.Level] = i, v.Pos
				}
			}
		} else {
			levelsOK = false
		}
		if v, ok := o.Required("rate"); ok {
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
			d.Errf(where[next], fmt.Sprintf("overrides[%d].level", at[next]),
				"level %d skips level %d: levels go 1 (the manager), 2 (the manager's manager), … without a gap", next, l)
			break
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Level < out[j].Level })
	return out
}

// nudgeKeys says where the nudges that need a quota or bands were
// written.
type nudgeKeys struct{ crossed, near, ending yamldoc.Pos }

func (d *decoder) nudges(r reader, n yamldoc.Node, at yamldoc.Pos, nu *Nudges) nudgeKeys {
	var w nudgeKeys
	o := d.Object(n, "nudges", at, nudgesKeys)
	if v, ok := o.Optional("attainment_crossed"); ok {
		w.crossed = o.KeyPos("attainment_crossed")
		if v.Kind != yamldoc.Sequence {
			d.Errf(v.Pos, "nudges.attainment_crossed", "want a list of thresholds (fractions of quota), got %s", v.Describe())
		} else {
			var prev decimal.Decimal
			for i, it := range v.Items {
				path := fmt.Sprintf("nudges.attainment_crossed[%d]", i)
				x, ok := r.positive(it, path)
				if !ok {
					continue
				}
				if i > 0 && x.LessThanOrEqual(prev) {
					d.Errf(it.Pos, path, "thresholds rise strictly: %s does not rise above %s", x, prev)
				}
				prev = x
				nu.AttainmentCrossed = append(nu.AttainmentCrossed, x)
			}
		}
	}
	if v, ok := o.Optional("near_next_tier"); ok {
		w.near = o.KeyPos("near_next_tier")
		no := d.Object(v, "nudges.near_next_tier", w.near, nearNextTierKeys)
		if v, ok := no.Required("within"); ok {
			if x, ok := r.positive(v, "nudges.near_next_tier.within"); ok {
				nu.NearNextTierWithin = decimal.NullDecimal{Decimal: x, Valid: true}
			}
		}
	}
	if v, ok := o.Optional("inactivity"); ok {
		io := d.Object(v, "nudges.inactivity", o.KeyPos("inactivity"), inactivityKeys)
		if v, ok := io.Required("days"); ok {
			nu.InactivityDays = r.days(v, "nudges.inactivity.days")
		}
	}
	if v, ok := o.Optional("period_ending"); ok {
		w.ending = o.KeyPos("period_ending")
		eo := d.Object(v, "nudges.period_ending", w.ending, periodEndingKeys)
		if v, ok := eo.Required("days_before"); ok {
			nu.PeriodEndingDaysBefore = r.days(v, "nudges.period_ending.days_before")
		}
		if v, ok := eo.Required("within"); ok {
			if x, ok := r.positive(v, "nudges.period_ending.within"); ok {
				nu.PeriodEndingWithin = decimal.NullDecimal{Decimal: x, Valid: true}
			}
		}
	}
	return w
}

// days reads a number of days of a time-based nudge: 1 to MaxNudgeDays.
func (r reader) days(n yamldoc.Node, path string) int {
	v := r.integer(n, path, 1)
	if v > MaxNudgeDays {
		r.d.Errf(n.Pos, path, "want at most %d days (no period is longer), got %d", MaxNudgeDays, v)
		return 0
	}
	return v
}

// placed is a position with the path written there.
type placed struct {
	yamldoc.Pos
	path string
}

func (d *decoder) badges(r reader, n yamldoc.Node) ([]Badge, []placed) {
	if n.Kind != yamldoc.Sequence {
		d.Errf(n.Pos, "badges", "want a list of badges ({id, metric, at_least}), got %s", n.Describe())
		return nil, nil
	}
	var out []Badge
	var attainment []placed
	seen := map[string]int{}
	for i, it := range n.Items {
		path := fmt.Sprintf("badges[%d]", i)
		o := d.Object(it, path, it.Pos, badgeKeys)
		var b Badge
		b.ID = r.uniqueID(o, path, i, "badge", "badges", seen)
		if v, ok := o.Required("metric"); ok {
			b.Metric = r.enum(v, path+".metric", "metric", metrics)
			if b.Metric == MetricAttainment {
				attainment = append(attainment, placed{v.Pos, path + ".metric"})
			}
		}
		if v, ok := o.Required("at_least"); ok {
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
func (r reader) str(n yamldoc.Node, path string) string {
	s, _ := r.d.Str(n, path)
	return s
}

// id reads an id: letters, digits, '.', '_' and '-', starting with a
// letter or digit, at most MaxIDLen bytes.
func (r reader) id(n yamldoc.Node, path string) string {
	s, _ := r.d.ID(n, path)
	return s
}

// uniqueID reads the id of item i of a list whose ids are unique (spiffs,
// badges); seen maps the ids read so far to their items. what names an
// item in messages, list the list's key.
func (r reader) uniqueID(o *yamldoc.Object, path string, i int, what, list string, seen map[string]int) string {
	v, ok := o.Required("id")
	if !ok {
		return ""
	}
	id := r.id(v, path+".id")
	if j, dup := seen[id]; dup && id != "" {
		r.d.Errf(v.Pos, path+".id", "%s %q is also %s[%d]; ids are unique", what, id, list, j)
	} else if id != "" {
		seen[id] = i
	}
	return id
}

// names reads a list of distinct, non-empty names (roles, rep ids).
func (r reader) names(n yamldoc.Node, path string) []string { return r.d.Names(n, path) }

// integer reads a whole number of at least min, written as a plain YAML
// number.
func (r reader) integer(n yamldoc.Node, path string, min int) int {
	if n.Kind != yamldoc.Scalar || n.Tag != yamldoc.Int {
		r.d.Errf(n.Pos, path, "want a whole number, got %s", n.Describe())
		return 0
	}
	s := n.Text
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		r.d.Errf(n.Pos, path, "want a whole number in decimal digits, got %s", n.Describe())
		return 0
	}
	if len(digits) > 1 && digits[0] == '0' {
		r.d.Errf(n.Pos, path, "write %s without leading zeros (YAML may read them as octal)", strings.TrimLeft(digits, "0"))
		return 0
	}
	v, err := strconv.Atoi(s)
	if err != nil || v > math.MaxInt32 {
		r.d.Errf(n.Pos, path, "%s is too large", yamldoc.Clip(s))
		return 0
	}
	if v < min {
		r.d.Errf(n.Pos, path, "want at least %d, got %d", min, v)
		return 0
	}
	return v
}

// decimal reads an exact decimal written as a number (0.05) or as text
// ("0.05"), from its text.
func (r reader) decimal(n yamldoc.Node, path string) (decimal.Decimal, bool) {
	if n.Kind != yamldoc.Scalar || n.Tag == yamldoc.Null || n.Tag == yamldoc.Bool {
		r.d.Errf(n.Pos, path, `want a decimal such as "0.05", got %s`, n.Describe())
		return decimal.Decimal{}, false
	}
	s := n.Text
	if digits := strings.TrimLeft(s, "+-"); n.Tag == yamldoc.Int && len(digits) > 1 && digits[0] == '0' && strings.Trim(digits, "0123456789") == "" {
		r.d.Errf(n.Pos, path, "write %s without leading zeros, or quote it (YAML may read them as octal)", yamldoc.Clip(s))
		return decimal.Decimal{}, false
	}
	x, err := canonical.ParseDecimal(s)
	if err != nil {
		r.d.Errf(n.Pos, path, `want a plain decimal such as "0.05" (digits, an optional sign and point), got %s`, n.Describe())
		return decimal.Decimal{}, false
	}
	return x, true
}

func (r reader) positive(n yamldoc.Node, path string) (decimal.Decimal, bool) {
	x, ok := r.decimal(n, path)
	if ok && x.Sign() <= 0 {
		r.d.Errf(n.Pos, path, "want more than 0, got %s", x)
		return x, false
	}
	return x, ok
}

func (r reader) nonNegative(n yamldoc.Node, path string) (decimal.Decimal, bool) {
	x, ok := r.decimal(n, path)
	if ok && (x.Sign() < 0 || strings.HasPrefix(n.Text, "-")) {
		r.d.Errf(n.Pos, path, "a rate cannot be negative, got %s", yamldoc.Clip(n.Text))
		return x, false
	}
	return x, ok
}

// enum reads one of choices; what names the thing in messages.
func (r reader) enum(n yamldoc.Node, path, what string, choices []string) string {
	s, _ := r.d.Enum(n, path, what, choices)
	return s
}

// currency reads an ISO 4217 code that has a minor unit (money is rounded
// to it).
func (r reader) currency(n yamldoc.Node, path string) string {
	s := r.str(n, path)
	if n.Kind != yamldoc.Scalar || n.Tag != yamldoc.String {
		return ""
	}
	c, ok := currency.Lookup(s)
	switch {
	case !ok && currencyKnownUpper(s):
		r.d.Errf(n.Pos, path, "%q is not an ISO 4217 code; did you mean %q?", yamldoc.Clip(s), strings.ToUpper(s))
	case !ok:
		r.d.Errf(n.Pos, path, "%q is not an active ISO 4217 currency code", yamldoc.Clip(s))
	case !c.HasMinorUnits():
		r.d.Errf(n.Pos, path, "%s (%s) has no minor unit to round pay to", s, c.Name)
	default:
		return s
	}
	return ""
}

func currencyKnownUpper(s string) bool {
	_, ok := currency.Lookup(strings.ToUpper(s))
	return ok
}

// timezone reads an IANA zone name; a program without one is in UTC.
func (r reader) timezone(n yamldoc.Node, path string) (string, *time.Location) {
	if loc, ok := r.d.Timezone(n, path); ok {
		return loc.String(), loc
	}
	return "UTC", time.UTC
}

// date reads YYYY-MM-DD as a local calendar date.
func (r reader) date(n yamldoc.Node, path string) (reference.Date, bool) {
	if n.Kind != yamldoc.Scalar || n.Tag != yamldoc.String || n.Text == "" {
		r.d.Errf(n.Pos, path, "want a date YYYY-MM-DD, got %s", n.Describe())
		return 0, false
	}
	day, err := reference.ParseDate(n.Text)
	if err != nil {
		r.d.Errf(n.Pos, path, "want a date YYYY-MM-DD, got %s", n.Describe())
		return 0, false
	}
	return day, true
}
