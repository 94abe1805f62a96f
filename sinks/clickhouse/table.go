package clickhouse

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Table maps the records of one kind of topic to rows of one ClickHouse
// table. Several topics may share a Table (each stage's dead-letter topic
// to rejects).
type Table struct {
	// Kind names the records by the topic that carries them in accrue's
	// catalogue ("sales.clean"); a topic of another name is mapped to a kind
	// with "topic=kind".
	Kind string
	// Name is the ClickHouse table.
	Name string
	// Columns are the columns an insert names, in the order of
	// Rows.Columns. Columns not named take their defaults (inserted_at).
	Columns []string
	// NewRows makes an empty set of rows for this table.
	NewRows func() Rows
}

// Insert is the table's INSERT statement with its column list (the form
// every ClickHouse since 18.16 accepts from clickhouse-go's PrepareBatch).
func (t *Table) Insert() string {
	return "INSERT INTO " + t.Name + " (" + strings.Join(t.Columns, ", ") + ")"
}

// Rows accumulates one table's rows column by column: Add decodes a record
// straight into typed column slices (no reflection, no boxing per value),
// and Columns hands those slices to the batch once per insert
// (driver.BatchColumn.Append), which is cheaper than appending row by row.
// Rows are reused from batch to batch and are not safe for concurrent use.
type Rows interface {
	// Add decodes rec and appends its row. When it returns an error the
	// record is unfit for the table (not the JSON its topic carries, a value
	// out of a column's range) and nothing was appended.
	Add(rec *kgo.Record) error
	// Len is the number of rows.
	Len() int
	// Columns returns one slice per column of Table.Columns, in order.
	Columns() []any
	// Reset empties the rows and keeps their memory.
	Reset()
}

// Tables are the mappings the sink knows, by kind.
var Tables = map[string]*Table{
	"sales.clean":    salesTable,
	"sales.credited": creditsTable,
	"sales.rejected": rejectsTable,
	"accruals":       accrualsTable,
	"attainment":     attainmentTable,
	"nudges":         nudgesTable,
	"awards":         awardsTable,
	"ref.reps":       repsTable,
}

// Kinds lists the kinds of Tables, sorted.
func Kinds() []string {
	out := make([]string, 0, len(Tables))
	for k := range Tables {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ParseTopics reads "topic" and "topic=kind" specs into the sink's topic
// map. A bare topic is its own kind; a topic ending in ".rejected" with no
// mapping of its own is a dead-letter topic (kind sales.rejected).
func ParseTopics(specs []string) (map[string]*Table, error) {
	out := map[string]*Table{}
	for _, s := range specs {
		topic, kind, hasKind := strings.Cut(strings.TrimSpace(s), "=")
		if !hasKind {
			kind = topic
			if _, ok := Tables[kind]; !ok && strings.HasSuffix(topic, ".rejected") {
				kind = "sales.rejected"
			}
		}
		t, ok := Tables[kind]
		switch {
		case topic == "":
			return nil, fmt.Errorf("topic spec %q: no topic", s)
		case !ok:
			return nil, fmt.Errorf("topic %s: no table for kind %q (known: %s; map one with topic=kind)",
				topic, kind, strings.Join(Kinds(), ", "))
		}
		if _, dup := out[topic]; dup {
			return nil, fmt.Errorf("topic %s given twice", topic)
		}
		out[topic] = t
	}
	return out, nil
}

// kafkaCols are the columns every table has for where its row was read:
// the sink's input record (for tracing, never for identity: a replay may
// give the same row another position).
type kafkaCols struct {
	topic     []string
	partition []int32
	offset    []int64
	time      []time.Time
}

var kafkaColumns = []string{"kafka_topic", "kafka_partition", "kafka_offset", "kafka_time"}

func (k *kafkaCols) add(rec *kgo.Record) {
	k.topic = append(k.topic, rec.Topic)
	k.partition = append(k.partition, rec.Partition)
	k.offset = append(k.offset, rec.Offset)
	t := rec.Timestamp
	if t.Before(minTime) || t.After(maxTime) {
		t = minTime // a record without a usable timestamp
	}
	k.time = append(k.time, t)
}

func (k *kafkaCols) columns() []any { return []any{k.topic, k.partition, k.offset, k.time} }

func (k *kafkaCols) reset() {
	k.topic, k.partition, k.offset, k.time = k.topic[:0], k.partition[:0], k.offset[:0], k.time[:0]
}
