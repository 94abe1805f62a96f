package clickhouse

import "github.com/twmb/franz-go/pkg/kgo"

// sinkRejectsTable keeps the records a table's Rows refused, whole, with
// why: the sink drops nothing it read.
var sinkRejectsTable = &Table{
	Name:    "sink_rejects",
	Columns: append(append([]string{}, kafkaColumns...), "table_name", "error", "raw_key", "raw_value"),
	NewRows: func() Rows { return &sinkRejectRows{} },
}

type sinkRejectRows struct {
	kafka                        kafkaCols
	table, err, rawKey, rawValue []string
}

// Add is not used: the sink calls add with the table and the error.
func (r *sinkRejectRows) Add(rec *kgo.Record) error {
	r.add(rec, "", "")
	return nil
}

func (r *sinkRejectRows) add(rec *kgo.Record, table, err string) {
	r.kafka.add(rec)
	r.table = append(r.table, table)
	r.err = append(r.err, err)
	r.rawKey = append(r.rawKey, string(rec.Key))
	r.rawValue = append(r.rawValue, string(rec.Value))
}

func (r *sinkRejectRows) Len() int { return len(r.table) }

func (r *sinkRejectRows) Columns() []any {
	return append(r.kafka.columns(), r.table, r.err, r.rawKey, r.rawValue)
}

func (r *sinkRejectRows) Reset() {
	r.kafka.reset()
	r.table, r.err, r.rawKey, r.rawValue = r.table[:0], r.err[:0], r.rawKey[:0], r.rawValue[:0]
}
