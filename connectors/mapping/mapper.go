package mapping

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	"github.com/shopspring/decimal"
)

// Reject reason codes. Each reject also names the canonical field (or, for
// a malformed record, none) and says where the record was.
const (
	// ReasonMalformedJSON: the record is not a JSON object.
	ReasonMalformedJSON = "malformed_json"
	// ReasonMalformedCSV: the row cannot be read as CSV, or its cell count
	// differs from the header's.
	ReasonMalformedCSV = "malformed_csv"
	// ReasonMalformedCDC: the record is JSON but not a Debezium envelope
	// (no op, an unknown op, no row image for the op).
	ReasonMalformedCDC = "malformed_cdc"
	// ReasonMissingField: a required canonical field has no value.
	ReasonMissingField = "missing_field"
	// ReasonInvalidField: a value cannot be read (a decimal, a time, an
	// object where a value belongs) or breaks the canonical contract.
	ReasonInvalidField = "invalid_field"
	// ReasonUnmappedType: the type field holds a value that type.map does
	// not list and type.ignore does not either.
	ReasonUnmappedType = "unmapped_type"
)

// Skip reasons: records deliberately not turned into events. A skip is an
// outcome, counted like a reject, but not an error.
const (
	// SkipIgnoredType: the type field holds a value listed in type.ignore.
	SkipIgnoredType = "ignored_type"
	// SkipCDCNoChange: a Debezium update that changes nothing that maps to
	// an event (the mapped type is the same before and after).
	SkipCDCNoChange = "cdc_no_change"
	// SkipCDCTombstone: a Debezium tombstone (a null value after a delete).
	SkipCDCTombstone = "cdc_tombstone"
)

// Outcome is what became of one record. Exactly one of Event, Skip and
// Reject is set.
type Outcome struct {
	Event  *canonical.Event
	Skip   string
	Reject *pipeline.Reject
	// Line is the 1-based line of the payload where the record starts;
	// Offset is its byte offset.
	Line   int
	Offset int64
	// Raw is the record's bytes. It aliases the payload: copy it to keep it
	// past the payload's life.
	Raw []byte
}

// canonical fields with a fixed slot, in the order they are read.
const (
	fEventID = iota
	fTxnID
	fRefTxnID
	fEventTime
	fRepID
	fAccountID
	fProductID
	fQuantity
	fAmountValue
	fAmountCurrency
	fMarginValue
	fMarginCurrency
	nFields
)

// spec says where one canonical field's value comes from.
type spec struct {
	name     string
	mapped   bool
	src      ref
	def      string
	hasDef   bool
	konst    string
	isConst  bool
	required bool
}

// Mapper turns upstream payloads into canonical events by one Config. It is
// immutable after New and safe for concurrent use.
type Mapper struct {
	source string
	format Format
	layout string
	loc    *time.Location
	zoned  bool // rfc3339 may also be written without offset, in loc
	// wall is set when layout writes a wall-clock time without offset,
	// read in loc (wallTime).
	wall   bool
	dec    byte
	group  byte
	delim  rune
	header bool
	cols   map[string]int // csv.columns, when there is no header row

	fields  [nFields]spec
	attrs   []spec
	typ     TypeRule
	typeRef ref
	// jsonRefs are the source paths a JSON or Debezium record is read at
	// (duplicateKey).
	jsonRefs []*ref
	splits   *splitSpec
	selfRef  bool // ref_txn_id is not mapped: returns and cancels refer to their own txn_id
	// trie, when not nil, reads JSON records in one pass (scan_json.go).
	trie *pathTrie
}

type splitSpec struct{ path, rep, share ref }

// New checks cfg and compiles it. The error, when not nil, is a
// *ConfigError listing every problem.
func New(cfg *Config) (*Mapper, error) { return compile(cfg) }

func compile(c *Config) (*Mapper, error) {
	k := &checker{c: c}
	if strings.TrimSpace(c.Source) == "" {
		k.errf("source", "source is missing")
	}
	k.checkFormat()
	loc := k.checkTime()
	k.checkNumber()
	k.checkType()
	k.checkFieldsMaps()
	k.checkRequired()
	k.checkSplits()
	if err := k.err(); err != nil {
		return nil, err
	}
	m := &Mapper{
		source: strings.TrimSpace(c.Source), format: c.Format, layout: c.Time.Layout, loc: loc,
		zoned: c.Time.Zone != "", dec: '.', delim: ',', header: c.CSV.Header, typ: c.Type,
	}
	if m.layout == "" {
		m.layout = LayoutRFC3339
	}
	m.wall = wallLayout(m.layout)
	if c.Number.Decimal != "" {
		m.dec = c.Number.Decimal[0]
	}
	if c.Number.Group != "" {
		m.group = c.Number.Group[0]
	}
	if c.CSV.Delimiter != "" {
		m.delim = []rune(c.CSV.Delimiter)[0]
	}
	if !c.CSV.Header {
		m.cols = make(map[string]int, len(c.CSV.Columns))
		for i, col := range c.CSV.Columns {
			m.cols[col] = i
		}
	}
	mk := func(name string) spec {
		s := spec{name: name}
		if src, ok := c.Fields[name]; ok {
			s.mapped = true
			s.src = m.ref(src)
		}
		s.def, s.hasDef = c.Defaults[name]
		s.konst, s.isConst = c.Constants[name]
		return s
	}
	for i, name := range canonicalFields {
		m.fields[i] = mk(name)
	}
	for _, i := range []int{fTxnID, fEventTime, fAmountValue, fAmountCurrency} {
		m.fields[i].required = true
	}
	m.fields[fRepID].required = c.Splits == nil
	if c.Format == Debezium {
		m.fields[fEventTime].required = false // source.ts_ms stands in
	}
	seen := map[string]bool{}
	for _, sec := range []map[string]string{c.Fields, c.Defaults, c.Constants} {
		for _, name := range sorted(sec) {
			if strings.HasPrefix(name, "attributes.") && !seen[name] {
				seen[name] = true
				s := mk(name)
				s.name = strings.TrimPrefix(name, "attributes.")
				m.attrs = append(m.attrs, s)
			}
		}
	}
	if c.Type.Field != "" {
		m.typeRef = m.ref(c.Type.Field)
	}
	if s := c.Splits; s != nil {
		m.splits = &splitSpec{path: m.ref(s.Path), rep: m.ref(s.Rep), share: m.ref(s.Share)}
	}
	_, refMapped := c.Fields["ref_txn_id"]
	m.selfRef = !refMapped
	if m.format != CSV {
		for i := range m.fields {
			if m.fields[i].mapped {
				m.jsonRefs = append(m.jsonRefs, &m.fields[i].src)
			}
		}
		for i := range m.attrs {
			if m.attrs[i].mapped {
				m.jsonRefs = append(m.jsonRefs, &m.attrs[i].src)
			}
		}
		if c.Type.Field != "" {
			m.jsonRefs = append(m.jsonRefs, &m.typeRef)
		}
		if m.splits != nil {
			m.jsonRefs = append(m.jsonRefs, &m.splits.path)
		}
	}
	if m.format == JSON && m.splits == nil {
		var refs []*ref
		for i := range m.fields {
			if m.fields[i].mapped {
				refs = append(refs, &m.fields[i].src)
			}
		}
		for i := range m.attrs {
			if m.attrs[i].mapped {
				refs = append(refs, &m.attrs[i].src)
			}
		}
		if c.Type.Field != "" {
			refs = append(refs, &m.typeRef)
		}
		m.trie = newPathTrie(refs)
	}
	return m, nil
}

func (m *Mapper) ref(p string) ref {
	if m.format == CSV {
		return ref{raw: p}
	}
	r, _ := compilePath(p) // checked
	return r
}

// Source is the canonical source of the events m maps.
func (m *Mapper) Source() string { return m.source }

// Map decodes payload (a Kafka record value, an HTTP body, a file) and
// calls visit with one Outcome per record found in it, in order. It does
// not block and does not keep payload or the outcomes.
func (m *Mapper) Map(payload []byte, visit func(Outcome)) { m.mapPayload(nil, payload, visit) }

// MapReuse is Map for a caller that is done with each event when visit
// returns, as the ingest stage is once it has encoded it: every event is
// built in r's memory, so an Outcome's Event, its strings and its
// attributes are only valid until visit returns. It spares the event, its
// attributes map and its strings, four allocations a record. A nil r is
// Map.
func (m *Mapper) MapReuse(r *Reuse, payload []byte, visit func(Outcome)) {
	m.mapPayload(r, payload, visit)
}

func (m *Mapper) mapPayload(r *Reuse, payload []byte, visit func(Outcome)) {
	switch m.format {
	case CSV:
		m.mapCSV(r, payload, visit)
	case Debezium:
		m.mapDebezium(r, payload, visit)
	default:
		m.mapJSON(r, payload, visit)
	}
}

// typeOf finds a record's canonical type. It returns the type, or a skip
// reason, or a reject.
func (m *Mapper) typeOf(rec record) (canonical.Type, string, *pipeline.Reject) {
	if obj, ok := rec.(jsonObject); ok {
		if rj := m.duplicateKey(obj); rj != nil {
			return "", "", rj
		}
	}
	if m.typ.Value != "" {
		return canonical.Type(m.typ.Value), "", nil
	}
	s, ok, isScalar, v := rec.text(&m.typeRef)
	switch {
	case !isScalar:
		return "", "", pipeline.Rejectf(ReasonInvalidField, "type", "source field %q holds %s, want a value", m.typeRef.raw, kindOf(v))
	case !ok || s == "":
		return "", "", pipeline.Rejectf(ReasonMissingField, "type", "source field %q is absent or empty", m.typeRef.raw)
	}
	if t, ok := m.typ.Map[s]; ok {
		return canonical.Type(t), "", nil
	}
	if contains(m.typ.Ignore, s) {
		return "", SkipIgnoredType, nil
	}
	return "", "", pipeline.Rejectf(ReasonUnmappedType, "type", "%q in source field %q is not in type.map", s, m.typeRef.raw)
}

// text returns the value of a canonical field for rec: the constant, else
// the mapped source value if not empty, else the default.
func (m *Mapper) text(rec record, s *spec) (string, *pipeline.Reject) {
	if s.isConst {
		return s.konst, nil
	}
	if s.mapped {
		t, _, ok, v := rec.text(&s.src)
		if !ok {
			return "", pipeline.Rejectf(ReasonInvalidField, fieldName(s), "source field %q holds %s, want a value", s.src.raw, kindOf(v))
		}
		if t != "" {
			return t, nil
		}
	}
	if s.hasDef {
		return s.def, nil
	}
	if s.required {
		if !s.mapped {
			return "", pipeline.Rejectf(ReasonMissingField, fieldName(s), "no value")
		}
		return "", pipeline.Rejectf(ReasonMissingField, fieldName(s), "source field %q is absent or empty", s.src.raw)
	}
	return "", nil
}

func fieldName(s *spec) string {
	switch s.name {
	case "event_id", "txn_id", "ref_txn_id", "event_time", "rep_id", "account_id", "product_id",
		"quantity", "amount.value", "amount.currency", "margin.value", "margin.currency":
		return s.name
	}
	return "attributes." + s.name
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("a %T", v)
}

// decimal reads a decimal written with the source's separators.
func (m *Mapper) decimal(s string) (decimal.Decimal, error) {
	if m.group != 0 && strings.IndexByte(s, m.group) >= 0 {
		if !grouped(s, m.group, m.dec) {
			return decimal.Decimal{}, fmt.Errorf("%q: digits are grouped by %q in threes", s, m.group)
		}
		s = strings.ReplaceAll(s, string(m.group), "")
	}
	if m.dec != '.' {
		if strings.IndexByte(s, '.') >= 0 {
			return decimal.Decimal{}, fmt.Errorf("%q: the decimal separator is %q", s, m.dec)
		}
		s = strings.Replace(s, string(m.dec), ".", 1)
	}
	return canonical.ParseDecimal(s)
}

// time reads event_time by the configured layout.
func (m *Mapper) time(s string) (time.Time, error) {
	switch m.layout {
	case LayoutRFC3339:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil && m.zoned {
			if u, err2 := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC); err2 == nil {
				return wallTime(s, u, m.loc)
			}
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
		}
		return t.UTC(), nil
	case LayoutUnixS, LayoutUnixMs, LayoutUnixUs:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not a whole number of %s", s, strings.TrimPrefix(m.layout, "unix_"))
		}
		switch m.layout {
		case LayoutUnixS:
			return time.Unix(n, 0).UTC(), nil
		case LayoutUnixMs:
			return time.UnixMilli(n).UTC(), nil
		}
		return time.UnixMicro(n).UTC(), nil
	}
	if m.wall {
		u, err := time.ParseInLocation(m.layout, s, time.UTC)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q does not match layout %q", s, m.layout)
		}
		return wallTime(s, u, m.loc)
	}
	t, err := time.ParseInLocation(m.layout, s, m.loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q does not match layout %q", s, m.layout)
	}
	return t.UTC(), nil
}

// wallLayout reports whether layout writes a wall-clock time with no
// offset or zone: a time written with it and read back in UTC is the same
// wall clock whatever zone it was written in.
func wallLayout(layout string) bool {
	switch layout {
	case LayoutRFC3339, LayoutUnixS, LayoutUnixMs, LayoutUnixUs:
		return false
	}
	ref := time.Date(2026, 7, 14, 15, 4, 5, 0, time.FixedZone("", 5*3600+30*60))
	u, err := time.ParseInLocation(layout, ref.Format(layout), time.UTC)
	if err != nil {
		return false
	}
	_, off := u.Zone()
	return off == 0
}

// wallTime is the instant at which loc's clocks show u's wall clock (u
// holds it as UTC). Where they show it twice (the hour the clocks go back)
// it is the earlier; where they never show it (the hour they skip), the
// time is refused: no till or system in that zone could have written it.
// time.ParseInLocation leaves both cases to chance.
func wallTime(s string, u time.Time, loc *time.Location) (time.Time, error) {
	var best time.Time
	found := false
	// The offsets in force half a day either side of the wall clock
	// include the one before and the one after any change near it.
	for _, probe := range [...]time.Time{u.Add(-12 * time.Hour), u, u.Add(12 * time.Hour)} {
		_, off := probe.In(loc).Zone()
		c := u.Add(-time.Duration(off) * time.Second)
		if _, at := c.In(loc).Zone(); at != off {
			continue
		}
		if !found || c.Before(best) {
			best, found = c, true
		}
	}
	if !found {
		return time.Time{}, fmt.Errorf("%q is not a time in %s: the clocks skip it (daylight saving)", s, loc)
	}
	return best.UTC(), nil
}

// event maps one record whose type is known. fallbackTime, when not zero,
// stands in for an absent event_time (Debezium's source.ts_ms); refSelf
// makes a return or cancel refer to its own txn_id whatever the config.
func (m *Mapper) event(r *Reuse, rec record, t canonical.Type, fallbackTime time.Time, preferFallback bool) (*canonical.Event, *pipeline.Reject) {
	ev := r.event(m.source, t)
	var vals [nFields]string
	for i := range m.fields {
		s := &m.fields[i]
		if i == fEventTime && !fallbackTime.IsZero() && (preferFallback || !s.mapped) {
			continue
		}
		v, rj := m.text(rec, s)
		if rj != nil {
			if i == fEventTime && !fallbackTime.IsZero() && rj.Reason == ReasonMissingField {
				continue
			}
			return nil, rj
		}
		vals[i] = v
	}
	if vals[fEventTime] != "" {
		tm, err := m.time(vals[fEventTime])
		if err != nil {
			return nil, &pipeline.Reject{Reason: ReasonInvalidField, Field: "event_time", Err: err}
		}
		ev.EventTime = tm
	} else {
		ev.EventTime = fallbackTime.UTC()
	}
	var err error
	if ev.Amount.Value, err = m.decimal(vals[fAmountValue]); err != nil {
		return nil, &pipeline.Reject{Reason: ReasonInvalidField, Field: "amount.value", Err: err}
	}
	if q := vals[fQuantity]; q != "" {
		d, err := m.decimal(q)
		if err != nil {
			return nil, &pipeline.Reject{Reason: ReasonInvalidField, Field: "quantity", Err: err}
		}
		ev.Quantity = decimal.NewNullDecimal(d)
	}
	if mv := vals[fMarginValue]; mv != "" {
		d, err := m.decimal(mv)
		if err != nil {
			return nil, &pipeline.Reject{Reason: ReasonInvalidField, Field: "margin.value", Err: err}
		}
		ev.Margin = &canonical.Money{Value: d}
	}
	var attrBuf [8]string
	attrs := attrBuf[:0]
	for i := range m.attrs {
		v, rj := m.text(rec, &m.attrs[i])
		if rj != nil {
			return nil, rj
		}
		attrs = append(attrs, v)
	}
	if rec.borrowed() {
		m.copyText(r, ev, &vals, attrs)
	} else {
		ev.EventID, ev.TxnID, ev.RefTxnID = vals[fEventID], vals[fTxnID], vals[fRefTxnID]
		ev.RepID, ev.AccountID, ev.ProductID = vals[fRepID], vals[fAccountID], vals[fProductID]
		ev.Amount.Currency = strings.ToUpper(vals[fAmountCurrency])
		if ev.Margin != nil {
			ev.Margin.Currency = strings.ToUpper(vals[fMarginCurrency])
		}
		m.setAttributes(r, ev, attrs)
	}
	if m.splits != nil {
		if rj := m.readSplits(rec, ev); rj != nil {
			return nil, rj
		}
	}
	if ev.RefTxnID == "" && m.selfRef && (t == canonical.Return || t == canonical.Cancel) {
		ev.RefTxnID = ev.TxnID
	}
	if ev.EventID == "" {
		ev.EventID = canonical.DefaultEventID(ev.Source, ev.TxnID, ev.Type)
	}
	if err := ev.Validate(); err != nil {
		var fe *canonical.FieldError
		if errors.As(err, &fe) {
			reason := ReasonInvalidField
			if errors.Is(err, canonical.ErrMissing) {
				reason = ReasonMissingField
			}
			return nil, &pipeline.Reject{Reason: reason, Field: fe.Field, Err: fe.Err}
		}
		return nil, &pipeline.Reject{Reason: ReasonInvalidField, Err: err}
	}
	return ev, nil
}

// setAttributes sets the event's non-empty attributes; attrs are the values
// of m.attrs, in order.
func (m *Mapper) setAttributes(r *Reuse, ev *canonical.Event, attrs []string) {
	for i, v := range attrs {
		if v == "" {
			continue
		}
		if ev.Attributes == nil {
			ev.Attributes = r.attributes(len(m.attrs))
		}
		ev.Attributes[m.attrs[i].name] = v
	}
}

// copyText sets the event's strings from values borrowed from a parse
// buffer: it copies them, and the default event id, into one allocation
// instead of one each (a JSON record kept ten strings of its own before).
// Currencies are upper-cased on the way.
func (m *Mapper) copyText(r *Reuse, ev *canonical.Event, vals *[nFields]string, attrs []string) {
	n := len(vals[fRefTxnID]) + len(vals[fRepID]) + len(vals[fAccountID]) + len(vals[fProductID]) + len(vals[fAmountCurrency])
	if vals[fEventID] == "" {
		n += len(m.source) + 1 + len(vals[fTxnID]) + 1 + len(ev.Type)
	} else {
		n += len(vals[fEventID]) + len(vals[fTxnID])
	}
	if ev.Margin != nil {
		n += len(vals[fMarginCurrency])
	}
	for _, v := range attrs {
		n += len(v)
	}
	a := r.arena(n)
	if vals[fEventID] == "" {
		// canonical.DefaultEventID, with txn_id inside it
		start := len(a.b)
		a.b = append(a.b, m.source...)
		a.b = append(a.b, ':')
		a.b = append(a.b, vals[fTxnID]...)
		a.b = append(a.b, ':')
		a.b = append(a.b, ev.Type...)
		ev.EventID = view(a.b[start:])
		ev.TxnID = ev.EventID[len(m.source)+1 : len(m.source)+1+len(vals[fTxnID])]
	} else {
		ev.EventID, ev.TxnID = a.copy(vals[fEventID]), a.copy(vals[fTxnID])
	}
	ev.RefTxnID, ev.RepID = a.copy(vals[fRefTxnID]), a.copy(vals[fRepID])
	ev.AccountID, ev.ProductID = a.copy(vals[fAccountID]), a.copy(vals[fProductID])
	ev.Amount.Currency = a.upper(vals[fAmountCurrency])
	if ev.Margin != nil {
		ev.Margin.Currency = a.upper(vals[fMarginCurrency])
	}
	for i, v := range attrs {
		attrs[i] = a.copy(v)
	}
	r.keepArena(a)
	m.setAttributes(r, ev, attrs)
}

// arena hands out strings that share one buffer. The buffer only grows by
// appending (into new memory when full), so a string handed out stays valid
// and unchanged until the buffer is reused (see Reuse).
type arena struct{ b []byte }

func (a *arena) copy(s string) string {
	if s == "" {
		return ""
	}
	start := len(a.b)
	a.b = append(a.b, s...)
	return view(a.b[start:])
}

// upper is copy(strings.ToUpper(s)), without ToUpper's copy for ASCII.
func (a *arena) upper(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return a.copy(strings.ToUpper(s))
		}
	}
	if s == "" {
		return ""
	}
	start := len(a.b)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		a.b = append(a.b, c)
	}
	return view(a.b[start:])
}

func (m *Mapper) readSplits(rec record, ev *canonical.Event) *pipeline.Reject {
	v, ok := rec.lookup(&m.splits.path)
	if !ok || v == nil {
		return nil // no splits: rep_id gets the whole credit
	}
	arr, ok := v.([]any)
	if !ok {
		return pipeline.Rejectf(ReasonInvalidField, "splits", "source field %q holds %s, want an array", m.splits.path.raw, kindOf(v))
	}
	if len(arr) == 0 {
		return nil
	}
	ev.Splits = make([]canonical.Split, 0, len(arr))
	for i, el := range arr {
		rv, _ := m.splits.rep.walk(el)
		rep, ok1 := scalar(rv)
		sv, _ := m.splits.share.walk(el)
		share, ok2 := scalar(sv)
		switch {
		case !ok1 || rep == "":
			return pipeline.Rejectf(ReasonMissingField, fmt.Sprintf("splits[%d].rep_id", i), "source field %q of element %d of %q is absent, empty or not a value", m.splits.rep.raw, i, m.splits.path.raw)
		case !ok2 || share == "":
			return pipeline.Rejectf(ReasonMissingField, fmt.Sprintf("splits[%d].share", i), "source field %q of element %d of %q is absent, empty or not a value", m.splits.share.raw, i, m.splits.path.raw)
		}
		d, err := m.decimal(share)
		if err != nil {
			return &pipeline.Reject{Reason: ReasonInvalidField, Field: fmt.Sprintf("splits[%d].share", i), Err: err}
		}
		ev.Splits = append(ev.Splits, canonical.Split{RepID: rep, Share: d})
	}
	return nil
}

// mapRecord maps a decoded record: its type, then its event. Without a
// change time (that is Debezium's), mapRow's time preference never applies.
func (m *Mapper) mapRecord(r *Reuse, rec record, o *Outcome) { m.mapRow(r, rec, time.Time{}, false, o) }

// Counts tallies outcomes: events, and skips and rejects by reason.
type Counts struct {
	Events  int
	Skips   map[string]int
	Rejects map[string]int
}

// Add counts o.
func (c *Counts) Add(o Outcome) {
	switch {
	case o.Event != nil:
		c.Events++
	case o.Reject != nil:
		if c.Rejects == nil {
			c.Rejects = map[string]int{}
		}
		c.Rejects[o.Reject.Reason]++
	default:
		if c.Skips == nil {
			c.Skips = map[string]int{}
		}
		c.Skips[o.Skip]++
	}
}

// Total is the number of outcomes counted.
func (c *Counts) Total() int {
	n := c.Events
	for _, v := range c.Skips {
		n += v
	}
	for _, v := range c.Rejects {
		n += v
	}
	return n
}

// grouped reports whether the integer part of s is grouped in threes by
// group ("1.234.567,89"), so that "19.99" with group "." is refused rather
// than read as 1999.
func grouped(s string, group, dec byte) bool {
	s = strings.TrimLeft(s, "+-")
	if i := strings.IndexByte(s, dec); i >= 0 {
		if strings.IndexByte(s[i:], group) >= 0 {
			return false
		}
		s = s[:i]
	}
	parts := strings.Split(s, string(group))
	for i, p := range parts {
		if i == 0 && (len(p) < 1 || len(p) > 3) || i > 0 && len(p) != 3 {
			return false
		}
	}
	return true
}
