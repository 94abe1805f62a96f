package pipeline

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Reject is the error a Processor returns for a record it refuses. Reason is
// a stable, machine-readable code (snake_case, for metrics and queries);
// Field names the offending field where there is one.
type Reject struct {
	Reason string
	Field  string
	Err    error
}

// Rejectf builds a *Reject with a formatted message.
func Rejectf(reason, field, format string, args ...any) *Reject {
	return &Reject{Reason: reason, Field: field, Err: fmt.Errorf(format, args...)}
}

func (r *Reject) Error() string {
	if r.Field != "" {
		return fmt.Sprintf("%s: field %s: %v", r.Reason, r.Field, r.Err)
	}
	return fmt.Sprintf("%s: %v", r.Reason, r.Err)
}

func (r *Reject) Unwrap() error { return r.Err }

// Reason codes the runtime itself gives.
const (
	// ReasonProcessingFailed is given to a plain (non-Reject) processor error.
	ReasonProcessingFailed = "processing_failed"
	// ReasonProcessorPanic is given to a record whose processing panicked.
	ReasonProcessorPanic = "processor_panic"
)

// Headers that a dead-letter record carries besides the original record's
// own headers. Its key and value are the original bytes, untouched, so that
// a fixed record can be replayed by producing it back to its source topic.
const (
	HeaderReason          = "accrue.reason"
	HeaderField           = "accrue.field"
	HeaderMessage         = "accrue.message"
	HeaderStage           = "accrue.stage"
	HeaderSourceTopic     = "accrue.source.topic"
	HeaderSourcePartition = "accrue.source.partition"
	HeaderSourceOffset    = "accrue.source.offset"
	HeaderRejectedAt      = "accrue.rejected_at"
)

// DeadLetterHeaders lists the headers above, in the order they are written.
var DeadLetterHeaders = []string{
	HeaderReason, HeaderField, HeaderMessage, HeaderStage,
	HeaderSourceTopic, HeaderSourcePartition, HeaderSourceOffset, HeaderRejectedAt,
}

// reasonOf returns the reason code and field for a processing error.
func reasonOf(err error) (reason, field string) {
	var rj *Reject
	if errors.As(err, &rj) {
		return rj.Reason, rj.Field
	}
	return ReasonProcessingFailed, ""
}

// NewDeadLetter builds the dead-letter record, for topic, of src refused by
// stage with err: src's key, value and headers, plus the accrue.* headers.
// Sources that are not Kafka records (an HTTP body, a file) pass a src with
// Topic naming where it was headed, Partition and Offset -1, and add a line
// header.
func NewDeadLetter(topic, stage string, src *kgo.Record, err error, now time.Time) *kgo.Record {
	return deadLetter(topic, stage, src, err, now)
}

// deadLetter builds the dead-letter record for rec.
func deadLetter(topic, stage string, rec *kgo.Record, err error, now time.Time) *kgo.Record {
	reason, field := reasonOf(err)
	hs := make([]kgo.RecordHeader, 0, len(rec.Headers)+len(DeadLetterHeaders))
	hs = append(hs, rec.Headers...)
	hs = append(hs,
		kgo.RecordHeader{Key: HeaderReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: HeaderField, Value: []byte(field)},
		kgo.RecordHeader{Key: HeaderMessage, Value: []byte(err.Error())},
		kgo.RecordHeader{Key: HeaderStage, Value: []byte(stage)},
		kgo.RecordHeader{Key: HeaderSourceTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(rec.Partition), 10)},
		kgo.RecordHeader{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, rec.Offset, 10)},
		kgo.RecordHeader{Key: HeaderRejectedAt, Value: now.UTC().AppendFormat(nil, time.RFC3339Nano)},
	)
	return &kgo.Record{Topic: topic, Key: rec.Key, Value: rec.Value, Headers: hs, Timestamp: rec.Timestamp}
}

// Header returns the value of the last header named key, and whether there
// was one.
func Header(r *kgo.Record, key string) (string, bool) {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == key {
			return string(r.Headers[i].Value), true
		}
	}
	return "", false
}
