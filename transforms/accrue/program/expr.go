package program

import (
	"errors"
	"fmt"
	"github.com/accrue/accrue/internal/yamldoc"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
)

// NewExpr compiles src as a program expression: a condition on Env that is
// true or false (credit.filter, spiffs[].when). The error of a bad
// expression says where in src it is wrong. NewExpr is how code builds a
// Program without a document (tests, tools); Parse uses it for documents.
func NewExpr(src string) (*Expr, error) {
	switch {
	case strings.TrimSpace(src) == "":
		return nil, errors.New("the expression is empty")
	case len(src) > MaxExprLen:
		return nil, fmt.Errorf("the expression is %d bytes long, more than %d", len(src), MaxExprLen)
	}
	prog, err := expr.Compile(src, expr.Env(Env{}), expr.AsBool())
	if err != nil {
		return nil, err
	}
	return &Expr{Source: src, prog: prog}, nil
}

// String is the expression as written.
func (x *Expr) String() string {
	if x == nil {
		return ""
	}
	return x.Source
}

// expr reads an expression, reporting a compile error at its place in the
// document where it can be found.
func (r reader) expr(n yamldoc.Node, path string) *Expr {
	src := r.str(n, path)
	if n.Kind != yamldoc.Scalar || n.Tag != yamldoc.String {
		return nil
	}
	x, err := NewExpr(src)
	if err == nil {
		return x
	}
	var fe *file.Error
	if !errors.As(err, &fe) {
		msg := firstLine(err.Error())
		if strings.HasPrefix(msg, "expected bool") {
			msg = "not a condition (true or false): " + msg
		}
		r.d.Errf(n.Pos, path, "%s", msg)
		return nil
	}
	at, exact := r.d.exprPos(n, src, fe)
	msg := fe.Message
	if !exact {
		msg = fmt.Sprintf("%s (line %d, column %d of the expression)", msg, max(fe.Line, 1), fe.Column+1)
	}
	r.d.Errf(at, path, "%s", msg)
	return nil
}

// exprPos is where in the document the expression error fe is. That is
// exact when the expression's text is the document's text: written on one
// line, plain or quoted without escapes, or as a literal block (|);
// otherwise it is the start of the value.
func (d *decoder) exprPos(n yamldoc.Node, src string, fe *file.Error) (yamldoc.Pos, bool) {
	if fe.Line < 1 || fe.Column < 0 || n.Pos.Line < 1 {
		return n.Pos, false
	}
	if d.lines == nil {
		d.lines = strings.Split(string(d.doc), "\n")
	}
	srcLines := strings.Split(src, "\n")
	if fe.Line > len(srcLines) {
		return n.Pos, false
	}
	want := []rune(strings.TrimSuffix(srcLines[fe.Line-1], "\r"))
	var line int // 1-based line of the document holding the error
	var col int  // 0-based rune where the expression's line starts in it
	switch {
	case n.Block == yamldoc.Literal:
		line = n.Pos.Line + fe.Line
		if line > len(d.lines) {
			return n.Pos, false
		}
		// The block's indentation is taken off its lines; what is left,
		// deeper indentation included, is the expression's line.
		have := []rune(strings.TrimSuffix(d.lines[line-1], "\r"))
		col = len(have) - len(want)
		if col < 0 || string(have[col:]) != string(want) || strings.Trim(string(have[:col]), " ") != "" {
			return n.Pos, false
		}
	case n.Block == yamldoc.Inline && len(srcLines) == 1:
		line, col = n.Pos.Line, n.Pos.Col-1
		if line > len(d.lines) {
			return n.Pos, false
		}
		have := []rune(d.lines[line-1])
		if col < 0 || col >= len(have) {
			return n.Pos, false
		}
		if have[col] == '\'' || have[col] == '"' {
			col++
		}
		if col+len(want) > len(have) || string(have[col:col+len(want)]) != string(want) {
			return n.Pos, false
		}
	default:
		return n.Pos, false
	}
	return yamldoc.Pos{Line: line, Col: col + 1 + min(fe.Column, len(want))}, true
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
