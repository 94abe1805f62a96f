package nudge

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"text/template"

	"github.com/shopspring/decimal"
	"golang.org/x/text/language"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/internal/yamldoc"
)

// Channels a message can be sent on; they are hints for the notification
// services, which choose.
var Channels = []string{"email", "sms", "push"}

// Templates are the message templates of every kind of nudge and award,
// per locale (docs/nudges.md, "Templates"). They are immutable once parsed
// and safe for concurrent use.
type Templates struct {
	// DefaultLocale is the variant used when a rep's locale has none.
	DefaultLocale string
	kinds         map[string]*KindTemplates
}

// KindTemplates are the templates of one kind.
type KindTemplates struct {
	Channels []string
	locales  map[string]*Variant
}

// Variant is one locale's subject and text.
type Variant struct {
	Locale  string
	Subject *template.Template
	Text    *template.Template
}

var (
	templatesKeys = []string{"default_locale", "kinds"}
	kindKeys      = []string{"channels", "locales"}
	variantKeys   = []string{"subject", "text"}
)

// LoadTemplates reads and parses a templates file.
func LoadTemplates(path string) (*Templates, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseTemplates(path, b)
}

// ParseTemplates reads a templates document. A document with problems is
// refused whole: the error is a yamldoc.Problems listing every problem
// with its line and column, including a template that does not parse or
// that fails on the documented example of its kind (a misspelt field).
func ParseTemplates(file string, doc []byte) (*Templates, error) {
	root, d := yamldoc.Open(file, doc, "templates")
	if d.Failed() {
		return nil, d.Err()
	}
	top := d.Object(root, "", yamldoc.Start, templatesKeys)
	t := &Templates{kinds: map[string]*KindTemplates{}}
	if v, ok := top.Required("default_locale"); ok {
		t.DefaultLocale = locale(d, v, "default_locale")
	}
	kv, ok := top.Required("kinds")
	if !ok {
		return nil, d.Err()
	}
	kinds := d.Object(kv, "kinds", top.KeyPos("kinds"), nil)
	for _, name := range kinds.Names() {
		path := "kinds." + name
		p := kinds.Pair(name)
		o := d.Object(p.Val, path, p.Pos, kindKeys)
		kt := &KindTemplates{locales: map[string]*Variant{}}
		if v, ok := o.Required("channels"); ok {
			kt.Channels = d.Names(v, path+".channels")
			for i, c := range kt.Channels {
				if !contains(Channels, c) {
					d.Errf(v.Items[i].Pos, fmt.Sprintf("%s.channels[%d]", path, i), "unknown channel %q (want %s)", c, yamldoc.OneOf(Channels))
				}
			}
		}
		lv, ok := o.Required("locales")
		if !ok {
			continue
		}
		locs := d.Object(lv, path+".locales", o.KeyPos("locales"), nil)
		for _, loc := range locs.Names() {
			lp := locs.Pair(loc)
			vpath := path + ".locales." + loc
			if _, err := language.Parse(loc); err != nil {
				d.Errf(lp.Pos, vpath, "%q is not a BCP 47 locale such as en, en-US or fr-CA", loc)
				continue
			}
			vo := d.Object(lp.Val, vpath, lp.Pos, variantKeys)
			va := &Variant{Locale: loc}
			for _, f := range []struct {
				key string
				dst **template.Template
			}{{"subject", &va.Subject}, {"text", &va.Text}} {
				v, ok := vo.Required(f.key)
				if !ok {
					continue
				}
				src, ok := d.Str(v, vpath+"."+f.key)
				if !ok {
					continue
				}
				tpl, err := template.New(name + "/" + loc + "/" + f.key).Option("missingkey=error").Funcs(templateFuncs(LocaleFor(loc))).Parse(src)
				if err != nil {
					d.Errf(v.Pos, vpath+"."+f.key, "%s", templateErr(err))
					continue
				}
				if ex, ok := Examples[name]; ok {
					if _, err := execute(tpl, LocaleFor(loc), ex); err != nil {
						d.Errf(v.Pos, vpath+"."+f.key, "fails on the example %s: %s", name, templateErr(err))
						continue
					}
				}
				*f.dst = tpl
			}
			kt.locales[loc] = va
		}
		if t.DefaultLocale != "" && kt.locales[t.DefaultLocale] == nil && len(locs.Names()) > 0 {
			d.Errf(p.Pos, path+".locales", "no variant for the default locale %s: every kind needs one", t.DefaultLocale)
		}
		t.kinds[name] = kt
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func locale(d *yamldoc.Decoder, n yamldoc.Node, path string) string {
	s, ok := d.Str(n, path)
	if !ok {
		return ""
	}
	if _, err := language.Parse(s); err != nil {
		d.Errf(n.Pos, path, "%q is not a BCP 47 locale such as en, en-US or fr-CA", yamldoc.Clip(s))
		return ""
	}
	return s
}

func templateErr(err error) string {
	s := err.Error()
	if i := strings.Index(s, ": "); strings.HasPrefix(s, "template: ") && i > 0 {
		s = s[len("template: "):]
	}
	return s
}

// Kinds lists the kinds that have templates.
func (t *Templates) Kinds() []string {
	out := make([]string, 0, len(t.kinds))
	for k := range t.kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Kind returns the templates of kind, nil when there are none.
func (t *Templates) Kind(kind string) *KindTemplates { return t.kinds[kind] }

// Variant returns the variant for loc: loc itself, else its language
// ("fr" for "fr-CA"), else the default locale.
func (t *Templates) Variant(kt *KindTemplates, loc string) *Variant {
	if v := kt.locales[loc]; v != nil {
		return v
	}
	if tag, err := language.Parse(loc); err == nil {
		base, _ := tag.Base()
		if v := kt.locales[base.String()]; v != nil {
			return v
		}
	}
	return kt.locales[t.DefaultLocale]
}

// Render renders a variant with data, numbers and money formatted for
// formatLocale (the rep's locale, which may be more precise than the
// variant's).
func Render(v *Variant, formatLocale string, data map[string]any) (subject, text string, err error) {
	l := LocaleFor(formatLocale)
	if subject, err = execute(v.Subject, l, data); err != nil {
		return "", "", err
	}
	text, err = execute(v.Text, l, data)
	return subject, text, err
}

func execute(tpl *template.Template, l *Locale, data map[string]any) (string, error) {
	var b strings.Builder
	if err := bound(tpl, l).Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

type boundKey struct {
	tpl *template.Template
	l   *Locale
}

var boundTemplates sync.Map // boundKey → *template.Template

// bound returns tpl with its functions bound to l: a clone made once per
// template and locale (cloning per message would cost more than rendering).
func bound(tpl *template.Template, l *Locale) *template.Template {
	k := boundKey{tpl, l}
	if t, ok := boundTemplates.Load(k); ok {
		return t.(*template.Template)
	}
	t := template.Must(tpl.Clone()).Funcs(templateFuncs(l))
	actual, _ := boundTemplates.LoadOrStore(k, t)
	return actual.(*template.Template)
}

// templateFuncs are the functions templates call: money AMOUNT CURRENCY,
// number X, percent FRACTION. Arguments are decimal strings (as records
// carry them), JSON numbers, integers or decimals.
func templateFuncs(l *Locale) template.FuncMap {
	return template.FuncMap{
		"money": func(amount any, cur any) (string, error) {
			d, err := toDecimal(amount)
			if err != nil {
				return "", err
			}
			c, _ := cur.(string)
			if c == "" {
				return l.Number(d), nil
			}
			return l.Money(d, c), nil
		},
		"number": func(x any) (string, error) {
			d, err := toDecimal(x)
			if err != nil {
				return "", err
			}
			return l.Number(d), nil
		},
		"percent": func(x any) (string, error) {
			d, err := toDecimal(x)
			if err != nil {
				return "", err
			}
			return l.Percent(d), nil
		},
	}
}

func toDecimal(x any) (decimal.Decimal, error) {
	switch v := x.(type) {
	case decimal.Decimal:
		return v, nil
	case string:
		return canonical.ParseDecimal(v)
	case json.Number:
		return canonical.ParseDecimal(v.String())
	case int:
		return decimal.NewFromInt(int64(v)), nil
	case int64:
		return decimal.NewFromInt(v), nil
	case nil:
		return decimal.Decimal{}, fmt.Errorf("no value to format")
	}
	return decimal.Decimal{}, fmt.Errorf("%v is not a number", x)
}
