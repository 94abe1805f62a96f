package nudge

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/text/language"

	"github.com/accrue/accrue/internal/yamldoc"
)

// Policy is the delivery configuration (docs/nudges.md, "Delivery
// configuration"): defaults for reps without preferences, throttling,
// quiet hours, and the badges that get certificates.
type Policy struct {
	// DefaultLocale, DefaultZone and DefaultChannels apply to reps
	// without delivery preferences.
	DefaultLocale   string
	DefaultZone     *time.Location
	DefaultChannels []string
	// MaxPerDay is how many messages a rep gets per local day at most;
	// 0 is no limit. Exempt kinds are neither counted nor limited.
	MaxPerDay int
	Exempt    []string
	// Quiet are the default quiet hours (in the rep's time zone).
	Quiet QuietHours
	// Certificates maps the badges that get a certificate to their
	// titles; CertificateTitle heads every certificate, VerifyHint is
	// printed under the code.
	Certificates     map[string]string
	CertificateTitle string
	VerifyHint       string
}

// QuietHours are a daily window, in minutes since local midnight, during
// which messages are held; From > To wraps midnight (21:00–08:00). From ==
// To is no quiet hours.
type QuietHours struct {
	From, To int
}

// On reports whether the local time of t (in loc) is within the quiet
// hours.
func (q QuietHours) On(t time.Time, loc *time.Location) bool {
	if q.From == q.To {
		return false
	}
	lt := t.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	if q.From < q.To {
		return m >= q.From && m < q.To
	}
	return m >= q.From || m < q.To
}

// End is the first instant at or after t, in loc, when the quiet hours are
// over: the next local To. On a day when To does not exist (a DST gap), it
// is the first instant after the gap.
func (q QuietHours) End(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	for d := 0; d < 3; d++ {
		day := lt.AddDate(0, 0, d)
		end := time.Date(day.Year(), day.Month(), day.Day(), q.To/60, q.To%60, 0, 0, loc)
		if !end.Before(t) && (end.After(t) || !q.On(end, loc)) {
			return end
		}
	}
	return t
}

func (q QuietHours) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", q.From/60, q.From%60, q.To/60, q.To%60)
}

var (
	policyKeys   = []string{"defaults", "throttle", "quiet_hours", "certificates"}
	defaultsKeys = []string{"locale", "timezone", "channels"}
	throttleKeys = []string{"max_per_day", "exempt"}
	quietKeys    = []string{"from", "to"}
	certKeys     = []string{"badges", "title", "verify_hint"}
)

// LoadPolicy reads and parses a delivery configuration file.
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePolicy(path, b)
}

// ParsePolicy reads a delivery configuration. A document with problems is
// refused whole (yamldoc.Problems, each with its line and column).
func ParsePolicy(file string, doc []byte) (*Policy, error) {
	root, d := yamldoc.Open(file, doc, "delivery configuration")
	if d.Failed() {
		return nil, d.Err()
	}
	p := &Policy{DefaultLocale: "en", DefaultZone: time.UTC, DefaultChannels: Channels,
		CertificateTitle: "Certificate of achievement", Certificates: map[string]string{}}
	top := d.Object(root, "", yamldoc.Start, policyKeys)
	if v, ok := top.Optional("defaults"); ok {
		o := d.Object(v, "defaults", top.KeyPos("defaults"), defaultsKeys)
		if v, ok := o.Optional("locale"); ok {
			p.DefaultLocale = locale(d, v, "defaults.locale")
		}
		if v, ok := o.Optional("timezone"); ok {
			if loc, ok := d.Timezone(v, "defaults.timezone"); ok {
				p.DefaultZone = loc
			}
		}
		if v, ok := o.Optional("channels"); ok {
			p.DefaultChannels = channels(d, v, "defaults.channels")
		}
	}
	if v, ok := top.Optional("throttle"); ok {
		o := d.Object(v, "throttle", top.KeyPos("throttle"), throttleKeys)
		if v, ok := o.Optional("max_per_day"); ok {
			p.MaxPerDay, _ = d.Int(v, "throttle.max_per_day", 0, 10000)
		}
		if v, ok := o.Optional("exempt"); ok {
			p.Exempt = d.Names(v, "throttle.exempt")
		}
	}
	if v, ok := top.Optional("quiet_hours"); ok {
		p.Quiet = quiet(d, v, "quiet_hours", top.KeyPos("quiet_hours"))
	}
	if v, ok := top.Optional("certificates"); ok {
		o := d.Object(v, "certificates", top.KeyPos("certificates"), certKeys)
		if v, ok := o.Optional("badges"); ok {
			bs := d.Object(v, "certificates.badges", o.KeyPos("badges"), nil)
			for _, b := range bs.Names() {
				pr := bs.Pair(b)
				if _, ok := d.ID(yamldoc.Node{Kind: yamldoc.Scalar, Tag: yamldoc.String, Text: b, Pos: pr.Pos}, "certificates.badges."+b); !ok {
					continue
				}
				if pr.Val.IsNull() {
					d.Errf(pr.Pos, "certificates.badges."+b, "give the badge's title, as the certificate prints it")
					continue
				}
				if title, ok := d.Str(pr.Val, "certificates.badges."+b); ok {
					p.Certificates[b] = title
				}
			}
		}
		if v, ok := o.Optional("title"); ok {
			p.CertificateTitle, _ = d.Str(v, "certificates.title")
		}
		if v, ok := o.Optional("verify_hint"); ok {
			p.VerifyHint, _ = d.Str(v, "certificates.verify_hint")
		}
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// DefaultPolicy is the configuration without a file: en, UTC, every
// channel, no limit, no quiet hours, no certificates.
func DefaultPolicy() *Policy {
	p, err := ParsePolicy("default", nil)
	if err != nil {
		panic(err)
	}
	return p
}

func channels(d *yamldoc.Decoder, n yamldoc.Node, path string) []string {
	cs := d.Names(n, path)
	for i, c := range cs {
		if !contains(Channels, c) {
			d.Errf(n.Items[i].Pos, fmt.Sprintf("%s[%d]", path, i), "unknown channel %q (want %s)", c, yamldoc.OneOf(Channels))
		}
	}
	return cs
}

func quiet(d *yamldoc.Decoder, n yamldoc.Node, path string, at yamldoc.Pos) QuietHours {
	o := d.Object(n, path, at, quietKeys)
	var q QuietHours
	if v, ok := o.Required("from"); ok {
		q.From, _ = d.ClockTime(v, path+".from")
	}
	if v, ok := o.Required("to"); ok {
		q.To, _ = d.ClockTime(v, path+".to")
	}
	return q
}

// Prefs are a rep's delivery preferences, one record of the
// delivery.preferences topic keyed by rep:
//
//	{"rep_id":"R-17","timezone":"America/New_York","locale":"en-US","channels":["email","push"],
//	 "quiet_hours":{"from":"22:00","to":"07:00"}}
//
// Every field but rep_id is optional; what is left out takes the delivery
// configuration's default.
type Prefs struct {
	RepID      string     `json:"rep_id"`
	Timezone   string     `json:"timezone,omitempty"`
	Locale     string     `json:"locale,omitempty"`
	Channels   []string   `json:"channels,omitempty"`
	QuietHours *wireQuiet `json:"quiet_hours,omitempty"`
}

type wireQuiet struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Check reports what is wrong with p.
func (p *Prefs) Check() error {
	switch {
	case p.RepID == "":
		return fmt.Errorf("rep_id is missing")
	case p.Timezone != "":
		if _, err := yamldoc.LoadZone(p.Timezone); err != nil {
			return fmt.Errorf("timezone: %w", err)
		}
	}
	if p.Locale != "" {
		if _, err := language.Parse(p.Locale); err != nil {
			return fmt.Errorf("locale %q is not a BCP 47 locale", p.Locale)
		}
	}
	for _, c := range p.Channels {
		if !contains(Channels, c) {
			return fmt.Errorf("unknown channel %q", c)
		}
	}
	if q := p.QuietHours; q != nil {
		_, ok1 := yamldoc.ParseClock(q.From)
		_, ok2 := yamldoc.ParseClock(q.To)
		if !ok1 || !ok2 {
			return fmt.Errorf("quiet_hours: want from and to as HH:MM")
		}
	}
	return nil
}
