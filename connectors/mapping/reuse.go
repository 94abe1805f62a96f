package mapping

import "github.com/accrue/accrue/connectors/canonical"

// Reuse is the memory MapReuse builds each event in, one after the other:
// the event, its attributes map and the buffer holding its strings. The
// zero value is ready for use. A Reuse is not safe for concurrent use.
type Reuse struct {
	ev    canonical.Event
	attrs map[string]string
	text  []byte
}

// event returns a new event, in r when r is not nil.
func (r *Reuse) event(source string, t canonical.Type) *canonical.Event {
	if r == nil {
		return &canonical.Event{Source: source, Type: t}
	}
	r.ev = canonical.Event{Source: source, Type: t}
	return &r.ev
}

// attributes returns an empty map for an event's attributes.
func (r *Reuse) attributes(hint int) map[string]string {
	if r == nil {
		return make(map[string]string, hint)
	}
	if r.attrs == nil {
		r.attrs = make(map[string]string, hint)
	} else {
		clear(r.attrs)
	}
	return r.attrs
}

// arena returns an arena with room for n bytes, over r's buffer when r is
// not nil.
func (r *Reuse) arena(n int) arena {
	if r == nil {
		return arena{b: make([]byte, 0, n)}
	}
	if cap(r.text) < n {
		r.text = make([]byte, 0, 2*n)
	}
	return arena{b: r.text[:0]}
}

// keepArena keeps a's buffer, which may have grown, for the next event.
func (r *Reuse) keepArena(a arena) {
	if r != nil {
		r.text = a.b
	}
}
