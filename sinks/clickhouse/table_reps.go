package clickhouse

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fastjson"
)

// repsTable maps ref.reps (reference.Rep's JSON, keyed "rep_id@valid_from",
// a tombstone removing one version) to table reps, so that reports can
// roll reps up by manager and team. Row identity is the record key; the
// version is the record's offset (one key always lands in one partition,
// so a later record of a key has a higher offset), and a tombstone is a row
// with deleted = 1.
var repsTable = &Table{
	Kind: "ref.reps",
	Name: "reps",
	Columns: append([]string{
		"rep_id", "valid_from", "name", "role", "team", "manager_id", "currency", "deleted", "version",
	}, kafkaColumns...),
	NewRows: func() Rows { return &repRows{in: interner{}} },
}

type repRows struct {
	p  fastjson.Parser
	in interner

	repID, validFrom, name, role, team, managerID, currency []string
	deleted                                                 []uint8
	version                                                 []uint64
	kafka                                                   kafkaCols
}

func (r *repRows) Add(rec *kgo.Record) error {
	at := bytes.LastIndexByte(rec.Key, '@')
	if at < 0 || at == 0 {
		return fmt.Errorf("key %q: want rep_id@YYYY-MM-DD", rec.Key)
	}
	if rec.Offset < 0 {
		return errors.New("a reference row needs its Kafka offset as its version")
	}
	var s [5]string // name, role, team, manager_id, currency
	var deleted uint8 = 1
	if rec.Value != nil {
		deleted = 0
		v, err := r.p.ParseBytes(rec.Value)
		if err != nil {
			return err
		}
		if v.Type() != fastjson.TypeObject {
			return errors.New("rep: want a JSON object")
		}
		for i, f := range []string{"name", "role", "team", "manager_id", "currency"} {
			var in stringer = r.in
			if f == "name" || f == "manager_id" {
				in = nil
			}
			if s[i], err = str(get(v, f), in); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
		}
	}
	r.repID = append(r.repID, string(rec.Key[:at]))
	r.validFrom = append(r.validFrom, r.in.get(rec.Key[at+1:]))
	r.name = append(r.name, s[0])
	r.role = append(r.role, s[1])
	r.team = append(r.team, s[2])
	r.managerID = append(r.managerID, s[3])
	r.currency = append(r.currency, s[4])
	r.deleted = append(r.deleted, deleted)
	r.version = append(r.version, uint64(rec.Offset))
	r.kafka.add(rec)
	return nil
}

func (r *repRows) Len() int { return len(r.repID) }

func (r *repRows) Columns() []any {
	return append([]any{
		r.repID, r.validFrom, r.name, r.role, r.team, r.managerID, r.currency, r.deleted, r.version,
	}, r.kafka.columns()...)
}

func (r *repRows) Reset() {
	r.repID, r.validFrom, r.name, r.role = r.repID[:0], r.validFrom[:0], r.name[:0], r.role[:0]
	r.team, r.managerID, r.currency = r.team[:0], r.managerID[:0], r.currency[:0]
	r.deleted, r.version = r.deleted[:0], r.version[:0]
	r.kafka.reset()
}
