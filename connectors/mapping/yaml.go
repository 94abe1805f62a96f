package mapping

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Pos is a place in a config file, 1-based.
type Pos struct{ Line, Column int }

// ynode is a YAML node reduced to what a config needs: scalars keep their
// source text, every node keeps its position, mapping keys keep theirs.
type ynode struct {
	kind  ykind
	pos   Pos
	text  string  // scalars
	null  bool    // scalars: an explicit or implicit null
	keys  []ykey  // mappings, in document order
	items []ynode // sequences
}

type ykey struct {
	name string
	pos  Pos
	val  ynode
}

type ykind int

const (
	yScalar ykind = iota
	yMap
	ySeq
)

func (k ykind) String() string {
	switch k {
	case yMap:
		return "a mapping"
	case ySeq:
		return "a list"
	}
	return "a scalar"
}

func tokPos(t *token.Token) Pos {
	if t == nil || t.Position == nil {
		return Pos{}
	}
	return Pos{t.Position.Line, t.Position.Column}
}

// parseYAML reads one YAML document into a ynode tree. A syntax error comes
// back as a problem with its position.
func parseYAML(b []byte) (root ynode, probs []Problem) {
	defer func() {
		// The YAML parser is third-party code fed arbitrary bytes; a
		// panic in it is a config that cannot be read, not a crash.
		if r := recover(); r != nil {
			root, probs = ynode{}, []Problem{{Pos: Pos{1, 1}, Msg: fmt.Sprintf("cannot read the YAML: %v", r)}}
		}
	}()
	f, err := parser.ParseBytes(b, 0)
	if err != nil {
		var te interface {
			GetToken() *token.Token
			GetMessage() string
		}
		if errors.As(err, &te) {
			return ynode{}, []Problem{{Pos: tokPos(te.GetToken()), Msg: te.GetMessage()}}
		}
		return ynode{}, []Problem{{Msg: err.Error()}}
	}
	var body ast.Node
	n := 0
	for _, d := range f.Docs {
		if d.Body != nil {
			if _, c := d.Body.(*ast.CommentGroupNode); c {
				continue
			}
			n++
			if body == nil {
				body = d.Body
			}
		}
	}
	if n > 1 {
		return ynode{}, []Problem{{Pos: Pos{1, 1}, Msg: "a config file holds one YAML document"}}
	}
	if body == nil {
		return ynode{kind: yMap, pos: Pos{1, 1}}, nil
	}
	root = convert(body, &probs)
	return root, probs
}

func convert(n ast.Node, probs *[]Problem) ynode {
	switch v := n.(type) {
	case *ast.MappingNode:
		out := ynode{kind: yMap, pos: tokPos(v.GetToken())}
		for _, mv := range v.Values {
			out.keys = append(out.keys, convertPair(mv, probs))
		}
		if len(out.keys) > 0 {
			out.pos = out.keys[0].pos
		}
		return out
	case *ast.MappingValueNode:
		k := convertPair(v, probs)
		return ynode{kind: yMap, pos: k.pos, keys: []ykey{k}}
	case *ast.SequenceNode:
		out := ynode{kind: ySeq, pos: tokPos(v.GetToken())}
		for _, it := range v.Values {
			out.items = append(out.items, convert(it, probs))
		}
		return out
	case *ast.AnchorNode:
		return convert(v.Value, probs)
	case *ast.TagNode:
		return convert(v.Value, probs)
	case *ast.CommentGroupNode, *ast.CommentNode:
		return ynode{kind: yScalar, null: true}
	case *ast.AliasNode:
		p := tokPos(v.GetToken())
		*probs = append(*probs, Problem{Pos: p, Msg: "aliases are not supported in a mapping config"})
		return ynode{kind: yScalar, pos: p, null: true}
	case *ast.NullNode:
		return ynode{kind: yScalar, pos: tokPos(v.GetToken()), null: true}
	case *ast.StringNode:
		return ynode{kind: yScalar, pos: tokPos(v.GetToken()), text: v.Value}
	case *ast.LiteralNode:
		return ynode{kind: yScalar, pos: tokPos(v.GetToken()), text: v.Value.Value}
	case nil:
		return ynode{kind: yScalar, null: true}
	default:
		t := n.GetToken()
		if t == nil {
			return ynode{kind: yScalar, null: true}
		}
		return ynode{kind: yScalar, pos: tokPos(t), text: t.Value}
	}
}

func convertPair(mv *ast.MappingValueNode, probs *[]Problem) ykey {
	k := ykey{pos: tokPos(mv.Key.GetToken())}
	switch key := mv.Key.(type) {
	case *ast.StringNode:
		k.name = key.Value
	default:
		k.name = strings.TrimSpace(key.String())
	}
	k.val = convert(mv.Value, probs)
	if k.val.pos == (Pos{}) {
		k.val.pos = k.pos
	}
	return k
}

// decoder walks a ynode tree, recording every problem with its position and
// the position of every config path it reads (for later checks).
type decoder struct {
	probs []Problem
	pos   map[string]Pos
}

func (d *decoder) errf(p Pos, path, format string, args ...any) {
	d.probs = append(d.probs, Problem{Pos: p, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// fields visits the keys of a mapping; keys not in allowed are problems.
func (d *decoder) fields(n ynode, path string, allowed []string, visit func(k ykey, path string)) {
	if n.kind == yScalar && n.null {
		return
	}
	if n.kind != yMap {
		d.errf(n.pos, path, "want a mapping, got %s", n.kind)
		return
	}
	seen := make(map[string]bool, len(n.keys))
	for _, k := range n.keys {
		p := join(path, k.name)
		if seen[k.name] {
			d.errf(k.pos, p, "duplicate key %q", k.name)
			continue
		}
		seen[k.name] = true
		if allowed != nil && !contains(allowed, k.name) {
			d.errf(k.pos, p, "unknown key %q (want one of %s)", k.name, strings.Join(allowed, ", "))
			continue
		}
		d.pos[p] = k.pos
		visit(k, p)
	}
}

func (d *decoder) str(n ynode, path string) string {
	if n.kind != yScalar {
		d.errf(n.pos, path, "want a scalar, got %s", n.kind)
		return ""
	}
	return n.text
}

func (d *decoder) boolean(n ynode, path string) bool {
	s := d.str(n, path)
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	if n.kind == yScalar {
		d.errf(n.pos, path, "want true or false, got %q", s)
	}
	return false
}

func (d *decoder) strs(n ynode, path string) []string {
	if n.kind != ySeq {
		d.errf(n.pos, path, "want a list, got %s", n.kind)
		return nil
	}
	out := make([]string, 0, len(n.items))
	for i, it := range n.items {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.pos[p] = it.pos
		out = append(out, d.str(it, p))
	}
	return out
}

// flat reads a mapping of strings, flattening nested mappings into dotted
// keys: {amount: {value: x}} is {"amount.value": x}.
func (d *decoder) flat(n ynode, path, prefix string, out map[string]string) {
	d.fields(n, path, nil, func(k ykey, p string) {
		name := join(prefix, k.name)
		if k.val.kind == yMap {
			d.flat(k.val, p, name, out)
			return
		}
		if _, dup := out[name]; dup {
			d.errf(k.pos, p, "%q is given twice", name)
			return
		}
		v := d.str(k.val, p)
		if k.val.kind == yScalar && k.val.null {
			d.errf(k.pos, p, "%q has no value", name)
			return
		}
		out[name] = v
	})
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
