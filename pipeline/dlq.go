package pipeline

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DeadLetter is a dead-letter record in its exported form: one JSON object a
// line, so that a person can read it, fix Value, and replay it.
type DeadLetter struct {
	// Where the dead letter itself is.
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	// Why and from where (the accrue.* headers).
	Reason          string `json:"reason"`
	Field           string `json:"field,omitempty"`
	Message         string `json:"message"`
	Stage           string `json:"stage,omitempty"`
	SourceTopic     string `json:"source_topic"`
	SourcePartition int32  `json:"source_partition"`
	SourceOffset    int64  `json:"source_offset"`
	RejectedAt      string `json:"rejected_at,omitempty"`
	// The original record. Value is the text when it is valid UTF-8, else
	// ValueBase64 holds the bytes.
	Key         string            `json:"key,omitempty"`
	Value       *string           `json:"value,omitempty"`
	ValueBase64 []byte            `json:"value_base64,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
}

// HeaderReplayedFrom marks a replayed record with the dead letter it came
// from ("topic/partition/offset").
const HeaderReplayedFrom = "accrue.replayed_from"

// DeadLetterFrom reads a dead-letter record's headers into its exported form.
func DeadLetterFrom(r *kgo.Record) DeadLetter {
	d := DeadLetter{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: string(r.Key)}
	for _, h := range r.Headers {
		v := string(h.Value)
		switch h.Key {
		case HeaderReason:
			d.Reason = v
		case HeaderField:
			d.Field = v
		case HeaderMessage:
			d.Message = v
		case HeaderStage:
			d.Stage = v
		case HeaderSourceTopic:
			d.SourceTopic = v
		case HeaderSourcePartition:
			p, _ := strconv.ParseInt(v, 10, 32)
			d.SourcePartition = int32(p)
		case HeaderSourceOffset:
			d.SourceOffset, _ = strconv.ParseInt(v, 10, 64)
		case HeaderRejectedAt:
			d.RejectedAt = v
		default:
			if d.Headers == nil {
				d.Headers = map[string]string{}
			}
			d.Headers[h.Key] = v
		}
	}
	if utf8.Valid(r.Value) {
		v := string(r.Value)
		d.Value = &v
	} else {
		d.ValueBase64 = r.Value
	}
	return d
}

// record rebuilds the original record for replay to topic (its source topic
// when empty), marked with where it was replayed from.
func (d *DeadLetter) record(topic string) (*kgo.Record, error) {
	if topic == "" {
		topic = d.SourceTopic
	}
	if topic == "" {
		return nil, fmt.Errorf("dead letter %s/%d@%d names no source topic; give one", d.Topic, d.Partition, d.Offset)
	}
	r := &kgo.Record{Topic: topic}
	if d.Key != "" {
		r.Key = []byte(d.Key)
	}
	switch {
	case d.Value != nil:
		r.Value = []byte(*d.Value)
	default:
		r.Value = d.ValueBase64
	}
	for k, v := range d.Headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderReplayedFrom,
		Value: fmt.Appendf(nil, "%s/%d/%d", d.Topic, d.Partition, d.Offset)})
	return r, nil
}

// DeadLetterFilter selects dead letters; empty fields match everything.
type DeadLetterFilter struct {
	Reason      string
	SourceTopic string
}

func (f DeadLetterFilter) match(d *DeadLetter) bool {
	return (f.Reason == "" || d.Reason == f.Reason) && (f.SourceTopic == "" || d.SourceTopic == f.SourceTopic)
}

// ReadDeadLetters reads topic from its start to its current end
// (read_committed) and calls fn for every dead letter that f selects.
func ReadDeadLetters(ctx context.Context, cl *kgo.Client, brokers []string, extra []kgo.Opt, topic string,
	f DeadLetterFilter, fn func(DeadLetter) error) error {
	return ScanTopic(ctx, cl, brokers, extra, topic, func(r *kgo.Record) error {
		if d := DeadLetterFrom(r); f.match(&d) {
			return fn(d)
		}
		return nil
	})
}

// ScanTopic reads topic from its start to its end as of the call
// (read_committed: up to the last stable offset) and calls fn for every
// record, partition by partition in offset order. cl answers the offset
// queries; a reader client is made from brokers and extra.
func ScanTopic(ctx context.Context, cl *kgo.Client, brokers []string, extra []kgo.Opt, topic string,
	fn func(*kgo.Record) error) error {
	adm := kadm.NewClient(cl)
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("list start offsets of %s: %w", topic, err)
	}
	want := map[int32]int64{}
	assign := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(topic, o.Partition)
		if o.Offset > s.Offset {
			want[o.Partition] = o.Offset - 1
			assign[o.Partition] = kgo.NewOffset().At(s.Offset)
		}
	})
	if len(want) == 0 {
		return nil
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, extra...)
	opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	rd, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer rd.Close()
	for len(want) > 0 {
		fs := rd.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("read %s: %w", topic, err)
		}
		var ferr error
		fs.EachRecord(func(r *kgo.Record) {
			last, ok := want[r.Partition]
			if !ok || r.Offset > last || ferr != nil {
				return
			}
			if !r.Attrs.IsControl() {
				ferr = fn(r)
			}
			if r.Offset == last {
				delete(want, r.Partition)
			}
		})
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// ReplayResult counts what a replay did.
type ReplayResult struct {
	Replayed int
	ByTopic  map[string]int
}

// Replay produces every dead letter that next yields back to its source
// topic (or to topic, when not empty), and waits until all are acknowledged.
// next returns io.EOF when there are no more. Replayed records carry the
// HeaderReplayedFrom header; deduplication downstream makes a second replay
// of the same records harmless.
func Replay(ctx context.Context, cl *kgo.Client, topic string, next func() (DeadLetter, error)) (ReplayResult, error) {
	res := ReplayResult{ByTopic: map[string]int{}}
	var perr error
	errc := make(chan error, 1)
	for {
		d, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, err
		}
		r, err := d.record(topic)
		if err != nil {
			return res, err
		}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		})
		res.Replayed++
		res.ByTopic[r.Topic]++
	}
	if err := cl.Flush(ctx); err != nil {
		return res, err
	}
	select {
	case perr = <-errc:
	default:
	}
	return res, perr
}

// DeadLetterLines yields the dead letters of an exported JSONL stream, one
// object a line; an error names the line.
func DeadLetterLines(r io.Reader) func() (DeadLetter, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	return func() (DeadLetter, error) {
		for sc.Scan() {
			line++
			if len(sc.Bytes()) == 0 {
				continue
			}
			var d DeadLetter
			if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
				return d, fmt.Errorf("line %d: %w", line, err)
			}
			return d, nil
		}
		if err := sc.Err(); err != nil {
			return DeadLetter{}, fmt.Errorf("line %d: %w", line+1, err)
		}
		return DeadLetter{}, io.EOF
	}
}
