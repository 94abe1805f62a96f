package clickhouse

import (
	"hash/fnv"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
)

// rejectsTable maps dead-letter topics (sales.rejected, <stage>.rejected)
// to table rejects: the accrue.* headers of pipeline.NewDeadLetter, the
// line and source headers of ingest, HTTP and file imports, and the
// original key and value.
var rejectsTable = &Table{
	Kind: "sales.rejected",
	Name: "rejects",
	Columns: append([]string{
		"reject_id", "reason", "field", "message", "stage", "source",
		"source_topic", "source_partition", "source_offset", "source_line", "source_file",
		"replayed_from", "rejected_at", "raw_key", "raw_value",
	}, kafkaColumns...),
	NewRows: func() Rows { return &rejectRows{in: interner{}} },
}

// Headers that ingest, HTTP ingest and file imports add to a dead letter.
const (
	headerSourceLine = "accrue.source.line" // line in the source payload, request body or file
	headerSource     = "source"             // the source system's name
	headerFile       = "file"               // the imported file's name
)

type rejectRows struct {
	in interner

	rejectID, reason, field, message, stage, source []string
	sourceTopic                                     []string
	sourcePartition                                 []int32
	sourceOffset                                    []int64
	sourceLine                                      []uint32
	sourceFile, replayedFrom                        []string
	rejectedAt                                      []time.Time
	rawKey, rawValue                                []string
	kafka                                           kafkaCols
}

type deadLetter struct {
	reason, field, message, stage, source string
	topic                                 string
	partition                             int32
	offset                                int64
	line                                  uint32
	file, replayedFrom                    string
	rejectedAt                            time.Time
}

func (r *rejectRows) read(rec *kgo.Record) deadLetter {
	d := deadLetter{partition: -1, offset: -1}
	for _, h := range rec.Headers {
		v := h.Value
		switch h.Key {
		case pipeline.HeaderReason:
			d.reason = r.in.get(v)
		case pipeline.HeaderField:
			d.field = r.in.get(v)
		case pipeline.HeaderMessage:
			d.message = string(v)
		case pipeline.HeaderStage:
			d.stage = r.in.get(v)
		case pipeline.HeaderSourceTopic:
			d.topic = r.in.get(v)
		case pipeline.HeaderSourcePartition:
			if p, err := strconv.ParseInt(unsafeString(v), 10, 32); err == nil {
				d.partition = int32(p)
			}
		case pipeline.HeaderSourceOffset:
			if o, err := strconv.ParseInt(unsafeString(v), 10, 64); err == nil {
				d.offset = o
			}
		case pipeline.HeaderRejectedAt:
			if t, err := time.Parse(time.RFC3339Nano, unsafeString(v)); err == nil {
				d.rejectedAt = t.UTC()
			}
		case pipeline.HeaderReplayedFrom:
			d.replayedFrom = string(v)
		case headerSourceLine:
			if l, err := strconv.ParseUint(unsafeString(v), 10, 32); err == nil {
				d.line = uint32(l)
			}
		case headerSource:
			d.source = r.in.get(v)
		case headerFile:
			d.file = string(v)
		}
	}
	if d.source == "" {
		d.source = d.topic
	}
	if d.rejectedAt.IsZero() || d.rejectedAt.Before(minTime) || d.rejectedAt.After(maxTime) {
		d.rejectedAt = rec.Timestamp.UTC()
	}
	return d
}

// id is the dead letter's row identity: where the refused record came
// from. A Kafka source position (with the line, for payloads of many
// records) names it; records from HTTP bodies and files have none, and are
// named by their source, file, line, time of rejection and bytes.
func (d *deadLetter) id(value []byte) string {
	b := make([]byte, 0, 96)
	b = append(b, d.stage...)
	b = append(b, '|')
	b = append(b, d.topic...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(d.partition), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, d.offset, 10)
	b = append(b, '#')
	b = strconv.AppendUint(b, uint64(d.line), 10)
	if d.offset < 0 {
		h := fnv.New64a()
		_, _ = h.Write(value)
		b = append(b, '|')
		b = append(b, d.source...)
		b = append(b, '|')
		b = append(b, d.file...)
		b = append(b, '|')
		b = d.rejectedAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '|')
		b = strconv.AppendUint(b, h.Sum64(), 16)
	}
	return string(b)
}

func (r *rejectRows) Add(rec *kgo.Record) error {
	d := r.read(rec)
	r.rejectID = append(r.rejectID, d.id(rec.Value))
	r.reason = append(r.reason, d.reason)
	r.field = append(r.field, d.field)
	r.message = append(r.message, d.message)
	r.stage = append(r.stage, d.stage)
	r.source = append(r.source, d.source)
	r.sourceTopic = append(r.sourceTopic, d.topic)
	r.sourcePartition = append(r.sourcePartition, d.partition)
	r.sourceOffset = append(r.sourceOffset, d.offset)
	r.sourceLine = append(r.sourceLine, d.line)
	r.sourceFile = append(r.sourceFile, d.file)
	r.replayedFrom = append(r.replayedFrom, d.replayedFrom)
	r.rejectedAt = append(r.rejectedAt, d.rejectedAt)
	r.rawKey = append(r.rawKey, string(rec.Key))
	r.rawValue = append(r.rawValue, string(rec.Value))
	r.kafka.add(rec)
	return nil
}

func (r *rejectRows) Len() int { return len(r.rejectID) }

func (r *rejectRows) Columns() []any {
	return append([]any{
		r.rejectID, r.reason, r.field, r.message, r.stage, r.source,
		r.sourceTopic, r.sourcePartition, r.sourceOffset, r.sourceLine, r.sourceFile,
		r.replayedFrom, r.rejectedAt, r.rawKey, r.rawValue,
	}, r.kafka.columns()...)
}

func (r *rejectRows) Reset() {
	r.rejectID, r.reason, r.field, r.message = r.rejectID[:0], r.reason[:0], r.field[:0], r.message[:0]
	r.stage, r.source, r.sourceTopic = r.stage[:0], r.source[:0], r.sourceTopic[:0]
	r.sourcePartition, r.sourceOffset, r.sourceLine = r.sourcePartition[:0], r.sourceOffset[:0], r.sourceLine[:0]
	r.sourceFile, r.replayedFrom, r.rejectedAt = r.sourceFile[:0], r.replayedFrom[:0], r.rejectedAt[:0]
	r.rawKey, r.rawValue = r.rawKey[:0], r.rawValue[:0]
	r.kafka.reset()
}
