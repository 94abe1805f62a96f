package program

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a program document, at its place in the
// file. Line and Column are 1-based and never zero in a Problem from Parse;
// Column counts characters, not bytes.
type Problem struct {
	File   string
	Line   int
	Column int
	// Path is the key at fault, as written: "tiers.bands[1].from",
	// "quota.by_rep.R-17". Empty for problems of the whole document (a
	// YAML syntax error).
	Path string
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	fmt.Fprintf(&b, ":%d:%d: ", p.Line, p.Column)
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem Parse found in a document, in document order.
// It is the error Parse returns for a document it refuses; errors.As finds
// it.
type Problems []Problem

// Error prints one problem a line: "file:line:col: path: msg".
func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// pos is a place in a document, 1-based.
type pos struct{ line, col int }

// problem is a Problem before it knows its file.
type problem struct {
	pos  pos
	path string
	msg  string
}

// start is where a problem of the whole document is reported.
var start = pos{1, 1}

// nearest returns the candidate closest to s by edit distance when it is
// close enough to be a likely misspelling, else "".
func nearest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(2, len(best)/3)
	if bestD < 0 || bestD > limit || bestD >= len(s) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes; keys
// are ASCII. Inputs longer than 64 bytes are not misspellings of a key.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// oneOf writes a list of choices for a message: "a, b or c".
func oneOf(choices []string) string {
	switch len(choices) {
	case 0:
		return ""
	case 1:
		return choices[0]
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}
