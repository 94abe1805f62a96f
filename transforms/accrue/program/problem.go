package program

import "github.com/accrue/accrue/internal/yamldoc"

// Problem is one thing wrong with a program document, at its place in the
// file. Line and Column are 1-based and never zero in a Problem from Parse;
// Column counts characters, not bytes. Path is the key at fault, as
// written: "tiers.bands[1].from", "quota.by_rep.R-17"; it is empty for
// problems of the whole document (a YAML syntax error).
type Problem = yamldoc.Problem

// Problems is every problem Parse found in a document, in document order.
// It is the error Parse returns for a document it refuses; errors.As finds
// it. Error prints one problem a line: "file:line:col: path: msg".
type Problems = yamldoc.Problems
