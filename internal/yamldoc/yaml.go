// Package yamldoc reads configuration documents strictly: a YAML document
// becomes a tree of nodes that keep their line and column, and a Decoder
// walks it, collecting every problem (unknown or misspelt keys, missing
// values, wrong types) with its place, so that a document is refused whole
// with everything wrong in it listed, as program documents are.
//
// Program documents, the delivery configuration, message templates and
// contest documents are read with it. A Decoder is not safe for concurrent
// use; make one per document.
package yamldoc

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Pos is a place in a document, 1-based; Column counts characters.
type Pos struct{ Line, Col int }

// Start is where a problem of the whole document is reported.
var Start = Pos{1, 1}

// Kind is a node's kind.
type Kind int

// The kinds of node.
const (
	Scalar Kind = iota
	Mapping
	Sequence
)

// Tag is what YAML 1.2 makes of a scalar: quoted and block scalars are
// strings, plain ones may be numbers, booleans or null.
type Tag int

// The tags of scalars.
const (
	Null Tag = iota
	String
	Int
	Float
	Bool
)

// Block is how a scalar was written: inline, or as a block scalar whose
// text starts on the next line (| keeps its lines, > folds them). Where a
// block scalar's lines are in the document depends on it.
type Block int

// The ways a scalar is written.
const (
	Inline Block = iota
	Literal
	Folded
)

// Node is a YAML node reduced to what a document needs: scalars keep their
// text as written, every node its position, mappings their keys in order.
type Node struct {
	Kind  Kind
	Pos   Pos
	Text  string // scalars, unquoted
	Tag   Tag    // scalars
	Block Block  // scalars
	Keys  []Pair // mappings
	Items []Node // sequences
}

// Pair is one key of a mapping and its value.
type Pair struct {
	Name string
	Pos  Pos
	Val  Node
}

// IsNull reports whether n is a scalar with no value.
func (n Node) IsNull() bool { return n.Kind == Scalar && n.Tag == Null }

// Describe names a node's type for messages: "a list", "the number 3".
func (n Node) Describe() string {
	switch n.Kind {
	case Mapping:
		return "a mapping"
	case Sequence:
		return "a list"
	}
	switch n.Tag {
	case Null:
		return "nothing"
	case Int, Float:
		return "the number " + Clip(n.Text)
	case Bool:
		return "the boolean " + n.Text
	}
	return fmt.Sprintf("the text %q", Clip(n.Text))
}

// Clip shortens text quoted in a message.
func Clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

func tokPos(t *token.Token) Pos {
	if t == nil || t.Position == nil || t.Position.Line < 1 {
		return Pos{}
	}
	return Pos{t.Position.Line, max(t.Position.Column, 1)}
}

// parse reads one YAML document into a node tree. A syntax error is one
// problem at its position; the tree is then unusable.
func parse(b []byte, what string) (root Node, probs []problem) {
	defer func() {
		// The YAML parser is third-party code fed arbitrary bytes; a
		// panic in it is a document that cannot be read, not a crash.
		if r := recover(); r != nil {
			root, probs = Node{}, []problem{{pos: Start, msg: fmt.Sprintf("cannot read the YAML: %v", r)}}
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
			if p == (Pos{}) {
				p = Start
			}
			return Node{}, []problem{{pos: p, msg: "YAML syntax: " + te.GetMessage()}}
		}
		first, _, _ := strings.Cut(err.Error(), "\n")
		return Node{}, []problem{{pos: Start, msg: "YAML syntax: " + first}}
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
			if p == (Pos{}) {
				p = Start
			}
			return Node{}, []problem{{pos: p, msg: "a " + what + " file holds one YAML document; split the others into their own files"}}
		}
		body = d.Body
	}
	if body == nil {
		return Node{Kind: Mapping, Pos: Start}, nil
	}
	root = convert(body, what, &probs)
	if root.Pos == (Pos{}) {
		root.Pos = Start
	}
	return root, probs
}

func convert(n ast.Node, what string, probs *[]problem) Node {
	switch v := n.(type) {
	case nil:
		return Node{Kind: Scalar, Tag: Null}
	case *ast.MappingNode:
		out := Node{Kind: Mapping, Pos: tokPos(v.GetToken())}
		for _, mv := range v.Values {
			out.Keys = append(out.Keys, convertPair(mv, what, probs))
		}
		if len(out.Keys) > 0 && !v.IsFlowStyle {
			out.Pos = out.Keys[0].Pos
		}
		return out
	case *ast.MappingValueNode:
		k := convertPair(v, what, probs)
		return Node{Kind: Mapping, Pos: k.Pos, Keys: []Pair{k}}
	case *ast.SequenceNode:
		out := Node{Kind: Sequence, Pos: tokPos(v.GetToken())}
		for _, it := range v.Values {
			c := convert(it, what, probs)
			if c.Pos == (Pos{}) {
				c.Pos = out.Pos
			}
			out.Items = append(out.Items, c)
		}
		return out
	case *ast.AnchorNode:
		return convert(v.Value, what, probs)
	case *ast.TagNode:
		c := convert(v.Value, what, probs)
		if c.Pos == (Pos{}) {
			c.Pos = tokPos(v.GetToken())
		}
		if c.Kind == Scalar && v.Start != nil && v.Start.Value == "!!str" {
			c.Tag = String
		}
		return c
	case *ast.AliasNode:
		p := tokPos(v.GetToken())
		*probs = append(*probs, problem{pos: p, msg: "aliases (*name) are not supported in a " + what + " document; write the value out"})
		return Node{Kind: Scalar, Pos: p, Tag: Null}
	case *ast.CommentGroupNode, *ast.CommentNode:
		return Node{Kind: Scalar, Tag: Null}
	case *ast.NullNode:
		return Node{Kind: Scalar, Pos: tokPos(v.GetToken()), Tag: Null}
	case *ast.StringNode:
		return Node{Kind: Scalar, Pos: tokPos(v.GetToken()), Text: v.Value, Tag: String}
	case *ast.LiteralNode:
		out := Node{Kind: Scalar, Pos: tokPos(v.GetToken()), Tag: String, Block: Folded}
		if t := v.GetToken(); t != nil && t.Type == token.LiteralType {
			out.Block = Literal
		}
		if v.Value != nil {
			out.Text = v.Value.Value
		}
		return out
	case *ast.IntegerNode:
		return Node{Kind: Scalar, Pos: tokPos(v.GetToken()), Text: v.GetToken().Value, Tag: Int}
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return Node{Kind: Scalar, Pos: tokPos(v.GetToken()), Text: v.GetToken().Value, Tag: Float}
	case *ast.BoolNode:
		return Node{Kind: Scalar, Pos: tokPos(v.GetToken()), Text: v.GetToken().Value, Tag: Bool}
	default:
		t := n.GetToken()
		if t == nil {
			return Node{Kind: Scalar, Tag: Null}
		}
		return Node{Kind: Scalar, Pos: tokPos(t), Text: t.Value, Tag: String}
	}
}

func convertPair(mv *ast.MappingValueNode, what string, probs *[]problem) Pair {
	var k Pair
	key := ast.Node(mv.Key)
	if mk, ok := key.(*ast.MappingKeyNode); ok {
		key = mk.Value
	}
	if key != nil {
		k.Pos = tokPos(key.GetToken())
	}
	if k.Pos == (Pos{}) {
		k.Pos = tokPos(mv.GetToken())
	}
	switch kv := key.(type) {
	case *ast.StringNode:
		k.Name = kv.Value
	case *ast.MappingNode, *ast.SequenceNode, *ast.MappingValueNode, nil:
		*probs = append(*probs, problem{pos: k.Pos, msg: "a key must be a name"})
	default:
		if t := kv.GetToken(); t != nil {
			k.Name = t.Value
		}
	}
	k.Val = convert(mv.Value, what, probs)
	if k.Val.Pos == (Pos{}) {
		k.Val.Pos = k.Pos
	}
	return k
}
