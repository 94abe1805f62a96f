package accrue

import (
	"bytes"
	"unicode/utf8"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
)

// DecodeCredit reads a record of sales.credited as link.DecodeCredit does,
// several times faster for the records the linking stage writes: their
// envelope has a fixed layout (Credit.AppendJSON), so it is read by position
// and only the event goes through a JSON reader (link.DecodeEvent, itself
// the fast reader of canonical events). Anything else (another field order,
// escapes, spacing, invalid UTF-8) is read by link.DecodeCredit, so both
// accept and return the same.
func DecodeCredit(b []byte) (*link.Credit, error) {
	if c, ok := decodeCreditFast(b); ok {
		return c, nil
	}
	return link.DecodeCredit(b)
}

// decodeCreditFast reads
//
//	{"credit_id":"…","rep_id":"…","share":"…","via":"…","refs":{"rep":"…","account":"…","product":"…"},"event":{…}}
//
// where every string before the event is plain: no quote, backslash or
// control character, valid UTF-8. It reports false for anything else,
// and for what link.DecodeCredit would refuse (it then says why).
func decodeCreditFast(b []byte) (*link.Credit, bool) {
	r := layout{b: b, ok: true}
	r.lit(`{"credit_id":`)
	r.str()
	r.lit(`,"rep_id":`)
	rep := r.str()
	r.lit(`,"share":`)
	share := r.str()
	r.lit(`,"via":`)
	via := r.str()
	r.lit(`,"refs":{"rep":`)
	refRep := r.str()
	r.lit(`,"account":`)
	refAccount := r.str()
	r.lit(`,"product":`)
	refProduct := r.str()
	r.lit(`},"event":`)
	if !r.ok || len(b) == 0 || b[len(b)-1] != '}' || len(rep) == 0 {
		return nil, false
	}
	sh, err := canonical.ParseDecimal(string(share))
	if err != nil || !sh.IsPositive() {
		return nil, false
	}
	var refs link.Refs
	for _, d := range []struct {
		s   []byte
		dst *reference.Date
	}{{refRep, &refs.Rep}, {refAccount, &refs.Account}, {refProduct, &refs.Product}} {
		if *d.dst, err = reference.ParseDate(string(d.s)); err != nil {
			return nil, false
		}
	}
	ev, err := link.DecodeEvent(b[r.at : len(b)-1])
	if err != nil {
		return nil, false
	}
	return &link.Credit{Event: ev, RepID: string(rep), Share: sh, Via: string(via), Refs: refs}, true
}

// layout reads a byte string of a known layout; ok turns false at the
// first mismatch, after which every read returns nothing.
type layout struct {
	b  []byte
	at int
	ok bool
}

func (l *layout) lit(s string) {
	if !l.ok || !bytes.HasPrefix(l.b[l.at:], []byte(s)) {
		l.ok = false
		return
	}
	l.at += len(s)
}

// str reads a plain JSON string and returns its contents.
func (l *layout) str() []byte {
	if !l.ok || l.at >= len(l.b) || l.b[l.at] != '"' {
		l.ok = false
		return nil
	}
	start := l.at + 1
	for i := start; i < len(l.b); i++ {
		switch c := l.b[i]; {
		case c == '"':
			s := l.b[start:i]
			if !utf8.Valid(s) {
				l.ok = false
				return nil
			}
			l.at = i + 1
			return s
		case c == '\\' || c < 0x20:
			l.ok = false
			return nil
		}
	}
	l.ok = false
	return nil
}
