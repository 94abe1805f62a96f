package mapping

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strings"
	"sync"
	"unsafe"
)

// A JSON record is read in one pass over its bytes when every mapped path
// is made of keys (no array indexes) and the config has no splits: the pass
// notes the values at the mapped paths and builds no tree. Parsing into
// fastjson's tree and looking a dozen paths up in it was a third of the
// ingest stage's work a record.
//
// The pass follows fastjson's grammar, token by token, so that a record it
// reads is one parseObject accepts, with the same values. Where it could
// not give the value the tree gives (a key or a mapped string holding an
// escape, a mapped path holding an object or an array, a NaN or an Inf,
// nesting deeper than maxScanDepth) or where fastjson would fail, it gives
// up and the record goes the fastjson way, which then decides.

// maxScanDepth bounds nesting in the one-pass reader; deeper records go the
// fastjson way (which allows 300 levels).
const maxScanDepth = 64

// pathTrie is a mapper's JSON paths as a tree of keys.
type pathTrie struct {
	nodes []trieNode // nodes[0] is the record itself
	slots int
	pool  sync.Pool // *jsonScan
}

type trieNode struct {
	slot int32 // where the value is noted; -1 when no path ends here
	kids []trieKid
}

// trieKid is a node's child under a key, kept beside the key so that
// matching a record's key reads one small array.
type trieKid struct {
	key  string
	node int32
}

// newPathTrie gives each ref a slot, refs with the same path sharing one.
// It returns nil when a ref has an array index.
func newPathTrie(refs []*ref) *pathTrie {
	t := &pathTrie{nodes: []trieNode{{slot: -1}}}
	for _, r := range refs {
		n := int32(0)
		for _, s := range r.segs {
			if s.key == "" {
				return nil
			}
			n = t.child(n, s.key)
		}
		if t.nodes[n].slot < 0 {
			t.nodes[n].slot = int32(t.slots)
			t.slots++
		}
		r.slot = int(t.nodes[n].slot)
	}
	t.pool.New = func() any {
		return &jsonScan{t: t, vals: make([]scanVal, t.slots), seen: make([]bool, len(t.nodes))}
	}
	return t
}

// put returns sc to the pool, without the record it last read.
func (t *pathTrie) put(sc *jsonScan) {
	sc.b = nil
	t.pool.Put(sc)
}

// child finds or adds the child of n under key.
func (t *pathTrie) child(n int32, key string) int32 {
	if c := t.find(n, key); c >= 0 {
		return c
	}
	t.nodes = append(t.nodes, trieNode{slot: -1})
	c := int32(len(t.nodes) - 1)
	t.nodes[n].kids = append(t.nodes[n].kids, trieKid{key, c})
	return c
}

func (t *pathTrie) find(n int32, key string) int32 {
	for _, k := range t.nodes[n].kids {
		if len(k.key) == len(key) && k.key == key {
			return k.node
		}
	}
	return -1
}

// scanKind is what a mapped path held.
type scanKind uint8

const (
	scanAbsent scanKind = iota
	scanString
	scanNumber
	scanTrue
	scanFalse
	scanNull
)

// scanVal is where a string's or a number's text is in the record. It
// holds no pointer: noting it costs no write barrier while the collector
// runs, which was a tenth of the reader's time.
type scanVal struct {
	off, n int
	kind   scanKind
}

// jsonScan is one record read by the one-pass reader. It implements record;
// its strings alias the record's bytes (borrowed).
type jsonScan struct {
	t    *pathTrie
	b    []byte    // the record
	vals []scanVal // by slot
	seen []bool    // by trie node: a duplicate key gives up
}

func (sc *jsonScan) str(v scanVal) string { return view(sc.b[v.off : v.off+v.n]) }

func (sc *jsonScan) borrowed() bool { return true }

func (sc *jsonScan) text(r *ref) (string, bool, bool, any) {
	v := sc.vals[r.slot]
	switch v.kind {
	case scanAbsent:
		return "", false, true, nil
	case scanString:
		return strings.TrimSpace(sc.str(v)), true, true, nil
	case scanNumber:
		return sc.str(v), true, true, nil
	case scanTrue:
		return "true", true, true, nil
	case scanFalse:
		return "false", true, true, nil
	}
	return "", true, true, nil
}

// lookup is jsonObject.lookup for the scalars a scanned record holds.
func (sc *jsonScan) lookup(r *ref) (any, bool) {
	v := sc.vals[r.slot]
	switch v.kind {
	case scanAbsent:
		return nil, false
	case scanString:
		return strings.Clone(sc.str(v)), true
	case scanNumber:
		return json.Number(strings.Clone(sc.str(v))), true
	case scanTrue:
		return true, true
	case scanFalse:
		return false, true
	}
	return nil, true
}

// scan reads b, one JSON object and nothing else. It reports false where
// the record must go the fastjson way.
func (sc *jsonScan) scan(b []byte) bool {
	sc.b = b
	clear(sc.vals)
	clear(sc.seen)
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return false
	}
	i, ok := sc.value(b, i, 0, 0)
	return ok && skipSpace(b, i) == len(b)
}

// value reads the value at b[i] (not a space), which is at node of the trie
// (-1 for none), and returns the index after it.
func (sc *jsonScan) value(b []byte, i int, node int32, depth int) (int, bool) {
	if depth++; depth > maxScanDepth || i >= len(b) {
		return 0, false
	}
	slot := int32(-1)
	if node >= 0 {
		slot = sc.t.nodes[node].slot
	}
	switch b[i] {
	case '{':
		if slot >= 0 {
			return 0, false // a mapped path holds an object
		}
		return sc.object(b, i+1, node, depth)
	case '[':
		if slot >= 0 {
			return 0, false
		}
		return sc.array(b, i+1, depth)
	case '"':
		end, escaped := stringEnd(b, i+1)
		if end < 0 || slot >= 0 && escaped {
			return 0, false
		}
		if slot >= 0 {
			sc.vals[slot] = scanVal{i + 1, end - i - 1, scanString}
		}
		return end + 1, true
	case 't':
		return sc.literal(b, i, "true", slot, scanTrue)
	case 'f':
		return sc.literal(b, i, "false", slot, scanFalse)
	case 'n':
		return sc.literal(b, i, "null", slot, scanNull)
	}
	// A number is what fastjson takes for one: a run of digits, signs,
	// points and exponent marks. NaN and Inf go the fastjson way.
	j := i
	for j < len(b) && isNumberByte(b[j]) {
		j++
	}
	if j == i || j == i+1 && (b[i] == '-' || b[i] == '+') {
		return 0, false
	}
	if slot >= 0 {
		sc.vals[slot] = scanVal{i, j - i, scanNumber}
	}
	return j, true
}

func (sc *jsonScan) literal(b []byte, i int, lit string, slot int32, kind scanKind) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, false
	}
	if slot >= 0 {
		sc.vals[slot] = scanVal{kind: kind}
	}
	return i + len(lit), true
}

// object reads the members after '{'.
func (sc *jsonScan) object(b []byte, i int, node int32, depth int) (int, bool) {
	i = skipSpace(b, i)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		end, escaped := stringEnd(b, i+1)
		if end < 0 {
			return 0, false
		}
		child := int32(-1)
		if node >= 0 {
			if escaped {
				return 0, false // fastjson compares unescaped keys
			}
			// A mapped key seen twice in its object: the fastjson way
			// refuses the record (Mapper.duplicateKey).
			if child = sc.t.find(node, view(b[i+1:end])); child >= 0 {
				if sc.seen[child] {
					return 0, false
				}
				sc.seen[child] = true
			}
		}
		i = skipSpace(b, end+1)
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		var ok bool
		if i, ok = sc.value(b, skipSpace(b, i+1), child, depth); !ok {
			return 0, false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// array reads the elements after '['. Paths do not go into arrays here.
func (sc *jsonScan) array(b []byte, i int, depth int) (int, bool) {
	i = skipSpace(b, i)
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = sc.value(b, skipSpace(b, i), -1, depth); !ok {
			return 0, false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i++
		case ']':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// stringEnd finds the quote closing the string that starts at b[i], as
// fastjson does (a backslash escapes the byte after it), and whether the
// string holds an escape. end is -1 when the string is not closed, or
// holds a control character, which JSON does not allow in a string and
// fastjson's parser lets through: the record then goes the fastjson way,
// which validates it (parseObject).
func stringEnd(b []byte, i int) (end int, escaped bool) {
	// Eight bytes at a time: strings are most of a record's bytes.
	j := i
	for ; j+8 <= len(b); j += 8 {
		if m := stringStop(binary.LittleEndian.Uint64(b[j:])); m != 0 {
			j += bits.TrailingZeros64(m) >> 3
			switch c := b[j]; {
			case c == '"':
				return j, false
			case c == '\\':
				return escapedEnd(b, j)
			}
			return -1, false
		}
	}
	for ; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j, false
		case c == '\\':
			return escapedEnd(b, j)
		case c < 0x20:
			return -1, false
		}
	}
	return -1, false
}

// stringStop marks the bytes of x that are '"', '\\' or a control
// character (below 0x20) with their high bit. Bytes above the first marked
// one may be marked wrongly (a borrow), never the first.
func stringStop(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := x ^ (ones * '"')
	s := x ^ (ones * '\\')
	return ((q-ones)&^q | (s-ones)&^s | (x-ones*0x20)&^x) & highs
}

// escapedEnd is stringEnd from the first backslash, at b[j].
func escapedEnd(b []byte, j int) (int, bool) {
	for ; j < len(b); j++ {
		switch c := b[j]; {
		case c == '\\':
			if j++; j < len(b) && b[j] < 0x20 {
				return -1, true
			}
		case c == '"':
			return j, true
		case c < 0x20:
			return -1, true
		}
	}
	return -1, true
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'
}

// view gives b as a string without copying: the record's bytes outlive
// the mapping of the record, and event copies what it keeps.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
