package nudge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/sinks/certificate"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/reference"
)

// Reject reasons of the delivery stage (its dead letters).
const (
	ReasonMalformedInput = "malformed_input"
	ReasonMalformedPrefs = "malformed_preferences"
	ReasonNoTemplate     = "no_template"
	ReasonRenderFailed   = "render_failed"
	ReasonCertificate    = "certificate_failed"
)

// Reasons a message is suppressed (messages.suppressed, counted in
// accrue_deliver_suppressed_total).
const (
	SuppressDailyLimit = "daily_limit"
	SuppressNoChannel  = "no_channel"
	SuppressUnknownRep = "unknown_rep"
)

// HeaderReason is the header that carries a suppressed message's reason.
const HeaderReason = "accrue.reason"

// Message is a message event, on the messages topic keyed by the
// recipient's rep id (docs/nudges.md, "Message events").
type Message struct {
	MessageID      string          `json:"message_id"`
	IdempotencyKey string          `json:"idempotency_key"`
	Kind           string          `json:"kind"`
	Source         Source          `json:"source"`
	Recipient      Recipient       `json:"recipient"`
	Channels       []string        `json:"channels"`
	Subject        string          `json:"subject"`
	Text           string          `json:"text"`
	Certificate    *CertificateRef `json:"certificate,omitempty"`
	DeferredUntil  string          `json:"deferred_until,omitempty"`
	Reason         string          `json:"reason,omitempty"`
}

// Source says which record a message is about.
type Source struct {
	Topic   string `json:"topic"`
	ID      string `json:"id"`
	EventID string `json:"event_id,omitempty"`
}

// Recipient is who a message is for, and how to reach them.
type Recipient struct {
	RepID    string `json:"rep_id"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	Locale   string `json:"locale"`
	Timezone string `json:"timezone"`
}

// DeliverConfig configures the delivery stage's processor.
type DeliverConfig struct {
	// Templates render messages; required.
	Templates *Templates
	// Policy throttles and says which badges get certificates; default
	// DefaultPolicy().
	Policy *Policy
	// Reps are the reference tables the recipient's name and email come
	// from (the rep row in force today, UTC); required.
	Reps *reference.Tables
	// Programs returns a program by id (its latest version), for names,
	// currencies and band rates; nil: templates see program ids only.
	Programs func(id string) *program.Program
	// Issuer renders and stores certificates; required when the policy
	// names badges that get one.
	Issuer *certificate.Issuer
	// Input topics: which records are awards, which are preferences
	// (every other input carries nudges). Defaults TopicAwards and
	// TopicPrefs.
	Awards, Prefs string
	// Output topics; defaults TopicMessages and TopicSuppressed.
	Output, Suppressed string
	// Now is the clock of throttling and quiet hours; default time.Now.
	Now func() time.Time
	// Metrics receives the stage's figures; nil records none.
	Metrics *Metrics
}

// DeliverState is one key of the delivery stage's state: a rep's
// preferences (p/REP), the rep's count of messages today (n/REP), or a
// message held for quiet hours (h/REP/SEQ).
type DeliverState struct {
	Prefs *Prefs `json:"prefs,omitempty"`
	// Day is the local date Count counts.
	Day   string `json:"day,omitempty"`
	Count int    `json:"count,omitempty"`
	Held  *Held  `json:"held,omitempty"`
}

// Held is a message held until its recipient's quiet hours end.
type Held struct {
	Seq int64 `json:"seq"`
	// Release is when the quiet hours end (Unix ms).
	Release int64           `json:"release"`
	Exempt  bool            `json:"exempt,omitempty"`
	Message json.RawMessage `json:"message"`
}

// DeliverCodec stores DeliverState as JSON.
type DeliverCodec struct{}

// Encode implements pipeline.Codec.
func (DeliverCodec) Encode(dst []byte, s DeliverState) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// Decode implements pipeline.Codec.
func (DeliverCodec) Decode(b []byte) (DeliverState, error) {
	var s DeliverState
	err := json.Unmarshal(b, &s)
	return s, err
}

// State key prefixes of the delivery stage.
const (
	PrefsPrefix = "p/"
	CountPrefix = "n/"
	HeldPrefix  = "h/"
)

// Deliver is the delivery stage's processor: a keyed pipeline.Processor over
// the nudges, awards and delivery.preferences topics, all keyed by rep and
// co-partitioned. For each nudge or award it composes one message
// (recipient, channels, rendered subject and text, the certificate of an
// award whose badge gets one, the idempotency key) and then:
//
//   - suppresses it, to Suppressed with the reason, when the rep is not
//     in the reference data (unknown_rep), has no channel left
//     (no_channel), or has had Policy.MaxPerDay messages today in the
//     rep's time zone (daily_limit; exempt kinds neither count nor are
//     limited);
//   - holds it in state while the rep's quiet hours last, and releases it,
//     in the order held, when they end (on the partition's next tick or
//     record), counting it against the day it is released on;
//   - or emits it to Output.
//
// A record it cannot read, or for whose kind there is no template, goes to
// the dead letters (malformed_input, malformed_preferences, no_template,
// render_failed, certificate_failed).
type Deliver struct {
	cfg   DeliverConfig
	parts map[int32]*heldIndex
}

var (
	_ pipeline.Processor[DeliverState] = (*Deliver)(nil)
	_ pipeline.Ticker[DeliverState]    = (*Deliver)(nil)
)

// NewDeliver builds the delivery stage's processor.
func NewDeliver(cfg DeliverConfig) (*Deliver, error) {
	if cfg.Templates == nil || cfg.Reps == nil {
		return nil, errors.New("deliver: Templates and Reps are required")
	}
	if cfg.Policy == nil {
		cfg.Policy = DefaultPolicy()
	}
	if len(cfg.Policy.Certificates) > 0 && cfg.Issuer == nil {
		return nil, errors.New("deliver: the policy names badges that get certificates, but there is no certificate issuer (key and folder)")
	}
	if cfg.Awards == "" {
		cfg.Awards = TopicAwards
	}
	if cfg.Prefs == "" {
		cfg.Prefs = TopicPrefs
	}
	if cfg.Output == "" {
		cfg.Output = TopicMessages
	}
	if cfg.Suppressed == "" {
		cfg.Suppressed = TopicSuppressed
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Deliver{cfg: cfg, parts: map[int32]*heldIndex{}}, nil
}

// heldIndex is the in-memory view of one partition's held messages,
// rebuilt from the state whenever its epoch changes.
type heldIndex struct {
	epoch   uint64
	byRep   map[string][]heldRef // in seq order
	lastSeq int64
	seen    time.Time
}

type heldRef struct {
	key     string
	seq     int64
	release int64
}

func (d *Deliver) index(c *pipeline.Context[DeliverState], partition int32, now time.Time) *heldIndex {
	ix := d.parts[partition]
	if ix == nil || ix.epoch != c.StateEpoch() {
		old := 0
		if ix != nil {
			for _, rs := range ix.byRep {
				old += len(rs)
			}
		}
		ix = &heldIndex{epoch: c.StateEpoch(), byRep: map[string][]heldRef{}}
		n := 0
		c.Scan(func(k string, s DeliverState) bool {
			if s.Held != nil && strings.HasPrefix(k, HeldPrefix) {
				rep := repOfHeld(k)
				ix.byRep[rep] = append(ix.byRep[rep], heldRef{key: k, seq: s.Held.Seq, release: s.Held.Release})
				ix.lastSeq = max(ix.lastSeq, s.Held.Seq)
				n++
			}
			return true
		})
		for _, rs := range ix.byRep {
			slices.SortFunc(rs, func(a, b heldRef) int { return int(a.seq - b.seq) })
		}
		d.cfg.Metrics.heldDelta(n - old)
		d.parts[partition] = ix
	}
	ix.seen = now
	return ix
}

func repOfHeld(k string) string {
	k = k[len(HeldPrefix):]
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		return k[:i]
	}
	return k
}

// prune drops the indexes of partitions neither processed nor ticked for a
// long while: this instance no longer owns them.
func (d *Deliver) prune(now time.Time) {
	for p, ix := range d.parts {
		if now.Sub(ix.seen) > time.Minute {
			n := 0
			for _, rs := range ix.byRep {
				n += len(rs)
			}
			d.cfg.Metrics.heldDelta(-n)
			delete(d.parts, p)
		}
	}
}

// Process implements pipeline.Processor.
func (d *Deliver) Process(c *pipeline.Context[DeliverState], rec *kgo.Record) error {
	now := d.cfg.Now()
	ix := d.index(c, rec.Partition, now)
	if rec.Topic == d.cfg.Prefs {
		return d.prefs(c, rec)
	}
	s, err := DecodeSubject(rec.Value, rec.Topic == d.cfg.Awards)
	if err != nil {
		return &pipeline.Reject{Reason: ReasonMalformedInput, Err: err}
	}
	if string(rec.Key) != s.RepID {
		return pipeline.Rejectf(ReasonMalformedInput, "rep_id", "the record is keyed %q, not by its rep %q", rec.Key, s.RepID)
	}
	prefs := d.prefsOf(c, s.RepID)
	m, reason, err := d.compose(s, rec, prefs, now)
	if err != nil {
		return err
	}
	d.release(c, ix, s.RepID, now)
	if reason != "" {
		d.suppress(c, m, reason)
		return nil
	}
	exempt := slices.Contains(d.cfg.Policy.Exempt, s.Kind)
	quiet, loc := d.quiet(prefs), d.zone(prefs)
	if quiet.On(now, loc) {
		d.hold(c, ix, m, exempt, quiet.End(now, loc), now)
		return nil
	}
	d.send(c, m, exempt, prefs, now)
	return nil
}

// Tick implements pipeline.Ticker: it releases the held messages whose
// quiet hours have ended.
func (d *Deliver) Tick(c *pipeline.Context[DeliverState], partition int32, _ time.Time) {
	now := d.cfg.Now()
	ix := d.index(c, partition, now)
	d.prune(now)
	var due []string
	for rep, rs := range ix.byRep {
		if len(rs) > 0 && rs[0].release <= now.UnixMilli() {
			due = append(due, rep)
		}
	}
	slices.Sort(due)
	for _, rep := range due {
		d.release(c, ix, rep, now)
	}
}

func (d *Deliver) prefs(c *pipeline.Context[DeliverState], rec *kgo.Record) error {
	if len(rec.Value) == 0 {
		c.Delete(PrefsPrefix + string(rec.Key))
		return nil
	}
	var p Prefs
	if err := json.Unmarshal(rec.Value, &p); err != nil {
		return &pipeline.Reject{Reason: ReasonMalformedPrefs, Err: err}
	}
	if err := p.Check(); err != nil {
		return &pipeline.Reject{Reason: ReasonMalformedPrefs, Err: err}
	}
	if p.RepID != string(rec.Key) {
		return pipeline.Rejectf(ReasonMalformedPrefs, "rep_id", "the record is keyed %q, not by its rep %q", rec.Key, p.RepID)
	}
	c.Put(PrefsPrefix+p.RepID, DeliverState{Prefs: &p})
	return nil
}

func (d *Deliver) prefsOf(c *pipeline.Context[DeliverState], rep string) *Prefs {
	if s, ok := c.Get(PrefsPrefix + rep); ok && s.Prefs != nil {
		return s.Prefs
	}
	return &Prefs{RepID: rep}
}

func (d *Deliver) zone(p *Prefs) *time.Location {
	if p.Timezone != "" {
		if loc, err := time.LoadLocation(p.Timezone); err == nil {
			return loc
		}
	}
	return d.cfg.Policy.DefaultZone
}

func (d *Deliver) quiet(p *Prefs) QuietHours {
	if q := p.QuietHours; q != nil {
		from, _ := parseClock(q.From)
		to, _ := parseClock(q.To)
		return QuietHours{From: from, To: to}
	}
	return d.cfg.Policy.Quiet
}

func (d *Deliver) locale(p *Prefs) string {
	if p.Locale != "" {
		return p.Locale
	}
	return d.cfg.Policy.DefaultLocale
}

// compose builds the message of s. reason is why it must be suppressed
// ("" to send); err refuses the record.
func (d *Deliver) compose(s *Subject, rec *kgo.Record, prefs *Prefs, now time.Time) (*Message, string, error) {
	kt := d.cfg.Templates.Kind(s.Kind)
	if kt == nil {
		return nil, "", pipeline.Rejectf(ReasonNoTemplate, "kind", "no template for kind %q", s.Kind)
	}
	loc := d.locale(prefs)
	key := s.IdempotencyKey()
	m := &Message{MessageID: key, IdempotencyKey: key, Kind: s.Kind,
		Source:    Source{Topic: rec.Topic, ID: s.ID, EventID: s.EventID},
		Recipient: Recipient{RepID: s.RepID, Locale: loc, Timezone: d.zone(prefs).String()}}
	today := reference.DateOf(now)
	rep, known := d.cfg.Reps.Rep(s.RepID, today)
	if known {
		m.Recipient.Name, m.Recipient.Email = rep.Name, rep.Email
	}
	in := DataInputs{Rep: Person{ID: s.RepID, Name: rep.Name, Email: rep.Email}}
	if in.Rep.Name == "" {
		in.Rep.Name = s.RepID
	}
	if d.cfg.Programs != nil && s.Kind != KindContestAward {
		in.Program = d.cfg.Programs(s.ProgramID)
	}
	if s.Kind == KindOvertaken {
		by, _ := s.Fields["by_rep_id"].(string)
		in.ByRep = Person{ID: by, Name: by}
		if r, ok := d.cfg.Reps.Rep(by, today); ok && r.Name != "" {
			in.ByRep.Name = r.Name
		}
	}
	if s.Award {
		in.BadgeTitle = s.Badge
		if title, ok := d.cfg.Policy.Certificates[s.Badge]; ok && s.Badge != "" {
			in.BadgeTitle = title
			ref, err := d.certify(s, rec, in, title)
			if err != nil {
				return nil, "", &pipeline.Reject{Reason: ReasonCertificate, Err: err}
			}
			in.Certificate, m.Certificate = ref, ref
		}
	}
	v := d.cfg.Templates.Variant(kt, loc)
	if v == nil {
		return nil, "", pipeline.Rejectf(ReasonNoTemplate, "kind", "no template for kind %q in %s or the default locale", s.Kind, loc)
	}
	subject, text, err := Render(v, loc, TemplateData(s, in))
	if err != nil {
		return nil, "", &pipeline.Reject{Reason: ReasonRenderFailed, Err: fmt.Errorf("%s/%s: %w", s.Kind, v.Locale, err)}
	}
	m.Subject, m.Text = subject, text
	allowed := prefs.Channels
	if allowed == nil {
		allowed = d.cfg.Policy.DefaultChannels
	}
	for _, ch := range kt.Channels {
		if slices.Contains(allowed, ch) {
			m.Channels = append(m.Channels, ch)
		}
	}
	switch {
	case !known:
		return m, SuppressUnknownRep, nil
	case len(m.Channels) == 0:
		return m, SuppressNoChannel, nil
	}
	return m, "", nil
}

// certify issues the award's certificate, trying a failing store three
// times before giving up (the award then goes to the dead letters, to be
// replayed).
func (d *Deliver) certify(s *Subject, rec *kgo.Record, in DataInputs, title string) (*CertificateRef, error) {
	programName := s.ProgramID
	if in.Program != nil {
		programName = in.Program.Name
	}
	if name, ok := s.Fields["contest_name"].(string); ok && name != "" {
		programName = name
	}
	period := s.Period
	if period == "" {
		period, _ = s.Fields["contest_id"].(string)
	}
	c := certificate.Certificate{AwardID: s.ID, RepID: s.RepID, RepName: in.Rep.Name, Badge: s.Badge, BadgeTitle: title,
		ProgramID: s.ProgramID, Program: programName, Period: period, Issued: rec.Timestamp,
		Title: d.cfg.Policy.CertificateTitle, VerifyHint: d.cfg.Policy.VerifyHint}
	var err error
	for try := 0; try < 3; try++ {
		if try > 0 {
			time.Sleep(time.Duration(try) * 200 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var r *certificate.Record
		r, err = d.cfg.Issuer.Issue(ctx, c)
		cancel()
		if err == nil {
			d.cfg.Metrics.certificate(true)
			return &CertificateRef{Code: r.Code, URI: r.URI}, nil
		}
	}
	d.cfg.Metrics.certificate(false)
	return nil, err
}

// send emits m, or suppresses it when the rep has had the day's limit.
func (d *Deliver) send(c *pipeline.Context[DeliverState], m *Message, exempt bool, prefs *Prefs, now time.Time) {
	if !exempt && d.cfg.Policy.MaxPerDay > 0 {
		day := now.In(d.zone(prefs)).Format(time.DateOnly)
		key := CountPrefix + m.Recipient.RepID
		n, _ := c.Get(key)
		if n.Day != day {
			n = DeliverState{Day: day}
		}
		if n.Count >= d.cfg.Policy.MaxPerDay {
			d.suppress(c, m, SuppressDailyLimit)
			return
		}
		n.Count++
		c.Put(key, n)
	}
	b, _ := json.Marshal(m)
	c.Emit(d.cfg.Output, []byte(m.Recipient.RepID), b)
	d.cfg.Metrics.message(m.Kind)
}

func (d *Deliver) suppress(c *pipeline.Context[DeliverState], m *Message, reason string) {
	m.Reason = reason
	b, _ := json.Marshal(m)
	c.EmitRecord(&kgo.Record{Topic: d.cfg.Suppressed, Key: []byte(m.Recipient.RepID), Value: b,
		Headers: []kgo.RecordHeader{{Key: HeaderReason, Value: []byte(reason)}}})
	d.cfg.Metrics.suppress(reason)
}

func (d *Deliver) hold(c *pipeline.Context[DeliverState], ix *heldIndex, m *Message, exempt bool, until, now time.Time) {
	seq := max(now.UnixNano(), ix.lastSeq+1)
	ix.lastSeq = seq
	m.DeferredUntil = until.UTC().Format(time.RFC3339)
	b, _ := json.Marshal(m)
	key := HeldPrefix + m.Recipient.RepID + "/" + strconv.FormatInt(seq, 10)
	c.Put(key, DeliverState{Held: &Held{Seq: seq, Release: until.UnixMilli(), Exempt: exempt, Message: b}})
	ix.byRep[m.Recipient.RepID] = append(ix.byRep[m.Recipient.RepID], heldRef{key: key, seq: seq, release: until.UnixMilli()})
	d.cfg.Metrics.deferOne()
}

// release sends rep's held messages whose quiet hours have ended, in the
// order they were held.
func (d *Deliver) release(c *pipeline.Context[DeliverState], ix *heldIndex, rep string, now time.Time) {
	rs := ix.byRep[rep]
	if len(rs) == 0 {
		return
	}
	prefs := d.prefsOf(c, rep)
	i := 0
	for ; i < len(rs) && rs[i].release <= now.UnixMilli(); i++ {
		s, ok := c.Get(rs[i].key)
		c.Delete(rs[i].key)
		d.cfg.Metrics.release()
		if !ok || s.Held == nil {
			continue
		}
		var m Message
		if err := json.Unmarshal(s.Held.Message, &m); err != nil {
			continue
		}
		d.send(c, &m, s.Held.Exempt, prefs, now)
	}
	if i == len(rs) {
		delete(ix.byRep, rep)
	} else {
		ix.byRep[rep] = rs[i:]
	}
}

func parseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	return h*60 + m, err1 == nil && err2 == nil
}
