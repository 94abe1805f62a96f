package nudge

import "github.com/shopspring/decimal"

// standing is one rep on a leaderboard: its score and Seq, the position in
// the board's input at which the rep reached that score.
type standing struct {
	score decimal.Decimal
	seq   int64
	rep   string
}

// ahead reports whether a ranks ahead of b: the higher score first; on equal
// scores the rep who reached the score first (lower seq); then the rep id,
// so that the order is total.
func ahead(a, b *standing) bool {
	if c := a.score.Cmp(b.score); c != 0 {
		return c > 0
	}
	if a.seq != b.seq {
		return a.seq < b.seq
	}
	return a.rep < b.rep
}

// tree is an order-statistic treap of standings, best first: insert,
// delete, rank and select in O(log n). Priorities come from a xorshift
// generator, so that the shape does not depend on the keys.
type tree struct {
	root *tnode
	rnd  uint64
}

type tnode struct {
	s    standing
	prio uint64
	size int
	l, r *tnode
}

func size(t *tnode) int {
	if t == nil {
		return 0
	}
	return t.size
}

func (t *tnode) fix() { t.size = 1 + size(t.l) + size(t.r) }

// Len is the number of standings.
func (t *tree) Len() int { return size(t.root) }

func (t *tree) prio() uint64 {
	if t.rnd == 0 {
		t.rnd = 0x9e3779b97f4a7c15
	}
	t.rnd ^= t.rnd << 13
	t.rnd ^= t.rnd >> 7
	t.rnd ^= t.rnd << 17
	return t.rnd
}

// split cuts n into the standings ahead of s and the rest.
func split(n *tnode, s *standing) (*tnode, *tnode) {
	if n == nil {
		return nil, nil
	}
	if ahead(&n.s, s) {
		l, r := split(n.r, s)
		n.r = l
		n.fix()
		return n, r
	}
	l, r := split(n.l, s)
	n.l = r
	n.fix()
	return l, n
}

// splitFirst cuts off n's first standing.
func splitFirst(n *tnode) (*tnode, *tnode) {
	if n == nil {
		return nil, nil
	}
	if n.l == nil {
		r := n.r
		n.r = nil
		n.fix()
		return n, r
	}
	first, rest := splitFirst(n.l)
	n.l = rest
	n.fix()
	return first, n
}

func merge(a, b *tnode) *tnode {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.prio > b.prio:
		a.r = merge(a.r, b)
		a.fix()
		return a
	default:
		b.l = merge(a, b.l)
		b.fix()
		return b
	}
}

// Insert adds s, which must not be in the tree.
func (t *tree) Insert(s standing) {
	l, r := split(t.root, &s)
	t.root = merge(merge(l, &tnode{s: s, prio: t.prio(), size: 1}), r)
}

// Delete removes s, which must be in the tree (equal score, seq and rep).
func (t *tree) Delete(s standing) {
	l, r := split(t.root, &s)
	_, r = splitFirst(r)
	t.root = merge(l, r)
}

// Rank is s's 1-based position: one more than the standings ahead of it.
func (t *tree) Rank(s *standing) int {
	n, before := t.root, 0
	for n != nil {
		if ahead(&n.s, s) {
			before += size(n.l) + 1
			n = n.r
		} else {
			n = n.l
		}
	}
	return before + 1
}

// At returns the standing at 1-based position k.
func (t *tree) At(k int) *standing {
	n := t.root
	for n != nil {
		switch ls := size(n.l); {
		case k <= ls:
			n = n.l
		case k == ls+1:
			return &n.s
		default:
			k -= ls + 1
			n = n.r
		}
	}
	return nil
}
