package program

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// node is a YAML node reduced to what a program document needs: scalars
// keep their source text and what YAML made of them, every node keeps its
// position, mapping keys keep theirs.
type node struct {
	kind  kind
	pos   pos
	text  string // scalars: the text as written (unquoted)
	tag   tag    // scalars
	block block  // scalars: how a block scalar was written
	keys  []pair // mappings, in document order
	items []node // sequences
}

type pair struct {
	name string
	pos  pos
	val  node
}

type kind int

const (
	scalar kind = iota
	mapping
	sequence
)

// block is how a scalar was written: inline, or as a block scalar whose
// text starts on the next line (| keeps its lines, > folds them).
type block int

const (
	inline block = iota
	literal
	folded
)

// tag is what YAML 1.2 makes of a scalar: quoted and block scalars are
// strings, plain ones may be numbers, booleans or null.
type tag int

const (
	tNull tag = iota
	tString
	tInt
	tFloat
	tBool
)

// describe names a node's type for messages: "a list", "the number 3".
func (n node) describe() string {
	switch n.kind {
	case mapping:
		return "a mapping"
	case sequence:
		return "a list"
	}
	switch n.tag {
	case tNull:
		return "nothing"
	case tInt, tFloat:
		return "the number " + clip(n.text)
	case tBool:
		return "the boolean " + n.text
	}
	return fmt.Sprintf("the text %q", clip(n.text))
}

func (n node) isNull() bool { return n.kind == scalar && n.tag == tNull }

// clip shortens text quoted in a message.
func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

func tokPos(t *token.Token) pos {
	if t == nil || t.Position == nil || t.Position.Line < 1 {
		return pos{}
	}
	return pos{t.Position.Line, max(t.Position.Column, 1)}
}

// parseYAML reads one YAML document into a node tree. A syntax error is one
// problem at its position; the tree is then unusable.
func parseYAML(b []byte) (root node, probs []problem) {
	defer func() {
		// The YAML parser is third-party code fed arbitrary bytes; a
		// panic in it is a document this package cannot read, not a crash.
		if r := recover(); r != nil {
			root, probs = node{}, []problem{{pos: start, msg: fmt.Sprintf("cannot read the YAML: %v", r)}}
		}
	}()
	f, err := parser.ParseBytes(b, 0)
	if err != nil {
		var te interface {
			GetToken() *token.Token
			GetMessage() string
		}
		if errors.As(err, &te) {
			p := tokPos(te.GetToken())
			if p == (pos{}) {
				p = start
			}
			return node{}, []problem{{pos: p, msg: "YAML syntax: " + te.GetMessage()}}
		}
		return node{}, []problem{{pos: start, msg: "YAML syntax: " + firstLine(err.Error())}}
	}
	var body ast.Node
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if _, c := d.Body.(*ast.CommentGroupNode); c {
			continue
		}
		if body != nil {
			p := tokPos(d.Start)
			if p == (pos{}) {
				p = start
			}
			return node{}, []problem{{pos: p, msg: "a program file holds one YAML document; split the others into their own files"}}
		}
		body = d.Body
	}
	if body == nil {
		return node{kind: mapping, pos: start}, nil
	}
	root = convert(body, &probs)
	if root.pos == (pos{}) {
		root.pos = start
	}
	return root, probs
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func convert(n ast.Node, probs *[]problem) node {
	switch v := n.(type) {
	case nil:
		return node{kind: scalar, tag: tNull}
	case *ast.MappingNode:
		out := node{kind: mapping, pos: tokPos(v.GetToken())}
		for _, mv := range v.Values {
			out.keys = append(out.keys, convertPair(mv, probs))
		}
		if len(out.keys) > 0 && !v.IsFlowStyle {
			out.pos = out.keys[0].pos
		}
		return out
	case *ast.MappingValueNode:
		k := convertPair(v, probs)
		return node{kind: mapping, pos: k.pos, keys: []pair{k}}
	case *ast.SequenceNode:
		out := node{kind: sequence, pos: tokPos(v.GetToken())}
		for _, it := range v.Values {
			c := convert(it, probs)
			if c.pos == (pos{}) {
				c.pos = out.pos
			}
			out.items = append(out.items, c)
		}
		return out
	case *ast.AnchorNode:
		return convert(v.Value, probs)
	case *ast.TagNode:
		c := convert(v.Value, probs)
		if c.pos == (pos{}) {
			c.pos = tokPos(v.GetToken())
		}
		if c.kind == scalar && v.Start != nil && v.Start.Value == "!!str" {
			c.tag = tString
		}
		return c
	case *ast.AliasNode:
		p := tokPos(v.GetToken())
		*probs = append(*probs, problem{pos: p, msg: "aliases (*name) are not supported in a program document; write the value out"})
		return node{kind: scalar, pos: p, tag: tNull}
	case *ast.CommentGroupNode, *ast.CommentNode:
		return node{kind: scalar, tag: tNull}
	case *ast.NullNode:
		return node{kind: scalar, pos: tokPos(v.GetToken()), tag: tNull}
	case *ast.StringNode:
		return node{kind: scalar, pos: tokPos(v.GetToken()), text: v.Value, tag: tString}
	case *ast.LiteralNode:
		out := node{kind: scalar, pos: tokPos(v.GetToken()), tag: tString, block: folded}
		if t := v.GetToken(); t != nil && t.Type == token.LiteralType {
			out.block = literal
		}
		if v.Value != nil {
			out.text = v.Value.Value
		}
		return out
	case *ast.IntegerNode:
		return node{kind: scalar, pos: tokPos(v.GetToken()), text: v.GetToken().Value, tag: tInt}
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return node{kind: scalar, pos: tokPos(v.GetToken()), text: v.GetToken().Value, tag: tFloat}
	case *ast.BoolNode:
		return node{kind: scalar, pos: tokPos(v.GetToken()), text: v.GetToken().Value, tag: tBool}
	default:
		t := n.GetToken()
		if t == nil {
			return node{kind: scalar, tag: tNull}
		}
		return node{kind: scalar, pos: tokPos(t), text: t.Value, tag: tString}
	}
}

func convertPair(mv *ast.MappingValueNode, probs *[]problem) pair {
	var k pair
	key := ast.Node(mv.Key)
	if mk, ok := key.(*ast.MappingKeyNode); ok {
		key = mk.Value
	}
	if key != nil {
		k.pos = tokPos(key.GetToken())
	}
	if k.pos == (pos{}) {
		k.pos = tokPos(mv.GetToken())
	}
	switch kv := key.(type) {
	case *ast.StringNode:
		k.name = kv.Value
	case *ast.MappingNode, *ast.SequenceNode, *ast.MappingValueNode, nil:
		*probs = append(*probs, problem{pos: k.pos, msg: "a key must be a name"})
	default:
		if t := kv.GetToken(); t != nil {
			k.name = t.Value
		}
	}
	k.val = convert(mv.Value, probs)
	if k.val.pos == (pos{}) {
		k.val.pos = k.pos
	}
	return k
}
