package sanitize

import (
	"fmt"
	"regexp"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/accrue/accrue/connectors/canonical"
)

// env is what rule expressions see. Numbers are float64 for comparisons
// only; money is never computed in a rule.
type env struct {
	Type       string            `expr:"type"`
	Source     string            `expr:"source"`
	TxnID      string            `expr:"txn_id"`
	RefTxnID   string            `expr:"ref_txn_id"`
	RepID      string            `expr:"rep_id"`
	AccountID  string            `expr:"account_id"`
	ProductID  string            `expr:"product_id"`
	Quantity   float64           `expr:"quantity"`
	Amount     float64           `expr:"amount"`
	Currency   string            `expr:"currency"`
	Attributes map[string]string `expr:"attributes"`
}

func (v *env) fill(e *canonical.Event) {
	*v = env{
		Type: string(e.Type), Source: e.Source, TxnID: e.TxnID, RefTxnID: e.RefTxnID,
		RepID: e.RepID, AccountID: e.AccountID, ProductID: e.ProductID,
		Amount: e.Amount.Value.InexactFloat64(), Currency: e.Amount.Currency,
		Attributes: e.Attributes,
	}
	if e.Quantity.Valid {
		v.Quantity = e.Quantity.Decimal.InexactFloat64()
	}
}

// rule is a compiled Rule.
type rule struct {
	name, reason string
	prog         *vm.Program
}

var (
	ruleName   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	reasonCode = regexp.MustCompile(`^[a-z][a-z0-9_:.-]*$`)
)

// maxExprLen bounds a rule's expression.
const maxExprLen = 4096

func compileRule(r Rule) (rule, []fieldProblem) {
	var ps []fieldProblem
	if !ruleName.MatchString(r.Name) {
		ps = append(ps, fieldProblem{"name", fmt.Errorf("rule name %q is not lower snake_case", r.Name)})
	}
	reason := r.Reason
	if reason == "" {
		reason = ReasonRulePrefix + r.Name
	} else if !reasonCode.MatchString(reason) {
		ps = append(ps, fieldProblem{"reason", fmt.Errorf("rule %s: reason %q is not a reason code (lower snake_case)", r.Name, reason)})
	}
	var prog *vm.Program
	switch {
	case r.When == "":
		ps = append(ps, fieldProblem{"when", fmt.Errorf("rule %s: when is missing", r.Name)})
	case len(r.When) > maxExprLen:
		ps = append(ps, fieldProblem{"when", fmt.Errorf("rule %s: when is longer than %d bytes", r.Name, maxExprLen)})
	default:
		var err error
		prog, err = expr.Compile(r.When, expr.Env(env{}), expr.AsBool())
		if err != nil {
			ps = append(ps, fieldProblem{"when", fmt.Errorf("rule %s: %w", r.Name, err)})
		}
	}
	return rule{name: r.Name, reason: reason, prog: prog}, ps
}

// fieldProblem is a problem with one key of a setting, before it has a
// path.
type fieldProblem struct {
	key string
	err error
}
