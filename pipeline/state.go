package pipeline

import (
	"encoding/binary"
	"fmt"
)

// Codec turns a state value into changelog bytes and back. Encode appends to
// dst and returns the extended slice, so that a caller can reuse buffers.
// Decode must not keep b: the restore path reuses it.
type Codec[S any] interface {
	Encode(dst []byte, v S) []byte
	Decode(b []byte) (S, error)
}

// Int64Codec stores an int64 as 8 big-endian bytes.
type Int64Codec struct{}

// Encode implements Codec.
func (Int64Codec) Encode(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(v))
}

// Decode implements Codec.
func (Int64Codec) Decode(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("int64 state: want 8 bytes, got %d", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// BytesCodec stores a byte slice as it is.
type BytesCodec struct{}

// Encode implements Codec.
func (BytesCodec) Encode(dst []byte, v []byte) []byte { return append(dst, v...) }

// Decode implements Codec.
func (BytesCodec) Decode(b []byte) ([]byte, error) { return append([]byte(nil), b...), nil }

// pending is a staged write: a value, or a deletion.
type pending[S any] struct {
	v       S
	deleted bool
}

// partitionState is the keyed state of one input partition: what the last
// committed transaction left, plus the writes of the batch in hand.
type partitionState[S any] struct {
	committed map[string]S
	staged    map[string]pending[S]
	epoch     uint64 // Context.StateEpoch
}

func newPartitionState[S any]() *partitionState[S] {
	return &partitionState[S]{committed: make(map[string]S), staged: make(map[string]pending[S]), epoch: stateEpochs.Add(1)}
}

func (p *partitionState[S]) get(key string) (S, bool) {
	if w, ok := p.staged[key]; ok {
		if w.deleted {
			var zero S
			return zero, false
		}
		return w.v, true
	}
	v, ok := p.committed[key]
	return v, ok
}

// commit folds the staged writes into the committed state.
func (p *partitionState[S]) commit() {
	for k, w := range p.staged {
		if w.deleted {
			delete(p.committed, k)
		} else {
			p.committed[k] = w.v
		}
	}
	clear(p.staged)
}

// rollback forgets the staged writes.
func (p *partitionState[S]) rollback() {
	clear(p.staged)
	p.epoch = stateEpochs.Add(1)
}
