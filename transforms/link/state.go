package link

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/canonical"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/accrue/accrue/transforms/sanitize"
)

// The key prefixes of the linking stage's state. Every key of a sale, its
// returns and its cancel lives on the partition of the sale's record key
// (ingest.Key), so one partition's state answers every question about it.
const (
	// SeenPrefix keys the deduplication entries (sanitize.Deduper):
	// "seen/<source>:<txn_id>:<type>".
	SeenPrefix = sanitize.SeenKeyPrefix
	// OriginalPrefix keys a sale's recipients: "orig/<source>:<txn_id>".
	OriginalPrefix = "orig/"
	// ParkedPrefix keys an event waiting for reference data:
	// "park/<source>:<txn_id>:<type>".
	ParkedPrefix = "park/"
)

// Entry is one value of the linking stage's keyed state; its key's prefix
// says which of its parts is set.
type Entry struct {
	// Seen is a deduplication entry: the event time of the first copy,
	// in Unix nanoseconds.
	Seen int64
	// Original is a sale's recipients.
	Original *Original
	// Parked is an event waiting for reference data.
	Parked *Parked
}

// Original is what a sale's returns and cancel need of it: who was
// credited, with which shares, and when the sale happened (for the
// retention of originals, measured in event time).
type Original struct {
	EventTime  int64 // Unix nanoseconds
	Recipients []Recipient
}

// Parked is an event that cannot be linked yet, kept with what a dead
// letter needs should its reference data never come: the input record as
// it was, and where it came from.
type Parked struct {
	// Seq orders the parked events of a partition: they are retried in
	// the order they arrived.
	Seq int64
	// ParkedAt is when the event was parked, wall-clock Unix
	// nanoseconds; the deadline runs from it.
	ParkedAt int64
	// Sale is the key of the sale the event belongs to (ingest.Key):
	// a sale's events are linked in the order they arrived.
	Sale string
	// Reason, Field and Message say what is missing, as of the last try
	// (Reason ReasonHeld: the event waits behind an earlier parked event
	// of the same sale).
	Reason, Field, Message string

	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64 // Unix milliseconds
	Key       []byte
	Value     []byte
	Headers   []kgo.RecordHeader
}

// ReasonHeld marks a parked event that waits only because an earlier event
// of the same sale is parked, so that a sale's events are linked in the
// order they arrived. It is never a rejection reason: when the event's turn
// comes, it is linked, parked for what it lacks itself, or rejected for it.
const ReasonHeld = "held"

// record is the input record a parked event came from.
func (p *Parked) record() *kgo.Record {
	return &kgo.Record{Topic: p.Topic, Partition: p.Partition, Offset: p.Offset, Key: p.Key, Value: p.Value,
		Headers: p.Headers, Timestamp: time.UnixMilli(p.Timestamp)}
}

// EntryCodec is the changelog encoding of Entry: a tag byte, then the part
// in varints and length-prefixed strings.
type EntryCodec struct{}

var _ pipeline.Codec[Entry] = EntryCodec{}

const (
	tagSeen     = 's'
	tagOriginal = 'o'
	tagParked   = 'p'
)

// Encode implements pipeline.Codec.
func (EntryCodec) Encode(dst []byte, e Entry) []byte {
	switch {
	case e.Original != nil:
		o := e.Original
		dst = append(dst, tagOriginal)
		dst = binary.AppendVarint(dst, o.EventTime)
		dst = binary.AppendUvarint(dst, uint64(len(o.Recipients)))
		for _, r := range o.Recipients {
			dst = appendString(dst, r.RepID)
			dst = appendString(dst, canonical.DecimalString(r.Share))
			dst = appendString(dst, r.Via)
			dst = binary.AppendVarint(dst, int64(r.RepSince))
		}
	case e.Parked != nil:
		p := e.Parked
		dst = append(dst, tagParked)
		dst = binary.AppendVarint(dst, p.Seq)
		dst = binary.AppendVarint(dst, p.ParkedAt)
		dst = appendString(dst, p.Sale)
		dst = appendString(dst, p.Reason)
		dst = appendString(dst, p.Field)
		dst = appendString(dst, p.Message)
		dst = appendString(dst, p.Topic)
		dst = binary.AppendVarint(dst, int64(p.Partition))
		dst = binary.AppendVarint(dst, p.Offset)
		dst = binary.AppendVarint(dst, p.Timestamp)
		dst = appendBytes(dst, p.Key)
		dst = appendBytes(dst, p.Value)
		dst = binary.AppendUvarint(dst, uint64(len(p.Headers)))
		for _, h := range p.Headers {
			dst = appendString(dst, h.Key)
			dst = appendBytes(dst, h.Value)
		}
	default:
		dst = append(dst, tagSeen)
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.Seen))
	}
	return dst
}

// Decode implements pipeline.Codec. It copies what it keeps of b.
func (EntryCodec) Decode(b []byte) (Entry, error) {
	if len(b) == 0 {
		return Entry{}, errors.New("link state: empty value")
	}
	d := decoder{b: b[1:]}
	switch b[0] {
	case tagSeen:
		if len(b) != 9 {
			return Entry{}, fmt.Errorf("link state: seen entry of %d bytes", len(b))
		}
		return Entry{Seen: int64(binary.BigEndian.Uint64(b[1:]))}, nil
	case tagOriginal:
		o := &Original{EventTime: d.varint()}
		n := d.uvarint()
		if n > uint64(len(d.b)) {
			return Entry{}, errors.New("link state: original: bad recipient count")
		}
		o.Recipients = make([]Recipient, 0, n)
		for i := uint64(0); i < n && d.err == nil; i++ {
			r := Recipient{RepID: d.string()}
			share := d.string()
			r.Via = d.string()
			r.RepSince = reference.Date(d.varint())
			if d.err == nil {
				var err error
				if r.Share, err = canonical.ParseDecimal(share); err != nil {
					return Entry{}, fmt.Errorf("link state: original: share %q: %w", share, err)
				}
			}
			o.Recipients = append(o.Recipients, r)
		}
		if d.err != nil {
			return Entry{}, fmt.Errorf("link state: original: %w", d.err)
		}
		return Entry{Original: o}, nil
	case tagParked:
		p := &Parked{Seq: d.varint(), ParkedAt: d.varint(), Sale: d.string(), Reason: d.string(), Field: d.string(), Message: d.string(),
			Topic: d.string(), Partition: int32(d.varint()), Offset: d.varint(), Timestamp: d.varint(),
			Key: d.bytes(), Value: d.bytes()}
		n := d.uvarint()
		if n > uint64(len(d.b)) {
			return Entry{}, errors.New("link state: parked: bad header count")
		}
		for i := uint64(0); i < n && d.err == nil; i++ {
			p.Headers = append(p.Headers, kgo.RecordHeader{Key: d.string(), Value: d.bytes()})
		}
		if d.err != nil {
			return Entry{}, fmt.Errorf("link state: parked: %w", d.err)
		}
		return Entry{Parked: p}, nil
	}
	return Entry{}, fmt.Errorf("link state: unknown tag %q", b[0])
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendBytes writes nil as 0 and a slice of n bytes as n+1, so that a nil
// key or value (a tombstone, a record without key) comes back nil.
func appendBytes(dst []byte, b []byte) []byte {
	if b == nil {
		return binary.AppendUvarint(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b))+1)
	return append(dst, b...)
}

var errShort = errors.New("truncated value")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errShort
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n == 0 {
		return nil
	}
	n--
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	b := append([]byte{}, d.b[:n]...)
	d.b = d.b[n:]
	return b
}

// stateStore gives a sanitize.Deduper its entries in the stage's state.
type stateStore struct{ c *pipeline.Context[Entry] }

var _ sanitize.ScanStore = stateStore{}

func (s stateStore) Get(key string) (int64, bool) {
	e, ok := s.c.Get(key)
	if !ok || e.Original != nil || e.Parked != nil {
		return 0, false
	}
	return e.Seen, true
}

func (s stateStore) Put(key string, v int64) { s.c.Put(key, Entry{Seen: v}) }

func (s stateStore) Delete(key string) { s.c.Delete(key) }

func (s stateStore) Scan(fn func(key string, v int64) bool) {
	s.c.Scan(func(k string, e Entry) bool {
		if e.Original != nil || e.Parked != nil {
			return true
		}
		return fn(k, e.Seen)
	})
}

// stateOriginals keeps Originals in the stage's state.
type stateOriginals struct{ c *pipeline.Context[Entry] }

var _ Originals = stateOriginals{}

func (o stateOriginals) Recipients(source, txnID string) ([]Recipient, bool) {
	e, ok := o.c.Get(OriginalPrefix + source + ":" + txnID)
	if !ok || e.Original == nil {
		return nil, false
	}
	return e.Original.Recipients, true
}

func (o stateOriginals) Remember(source, txnID string, rs []Recipient, eventTime time.Time) {
	o.c.Put(OriginalPrefix+source+":"+txnID, Entry{Original: &Original{EventTime: eventTime.UnixNano(), Recipients: rs}})
}
