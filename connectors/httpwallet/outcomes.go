package httpwallet

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/wallet"
)

// Outcomes is an OutcomeStore that follows the wallet stage's outcomes
// topic, read whole from its start (no consumer group, read_committed),
// and keeps each request's latest outcome in memory. Its memory grows
// with the requests the topic holds: the topic's retention bounds it.
type Outcomes struct {
	brokers []string
	topic   string
	opts    []kgo.Opt
	log     *slog.Logger

	mu   sync.RWMutex
	last map[string]json.RawMessage

	ready atomic.Bool
}

// NewOutcomes returns a store of topic's outcomes; Run fills it.
func NewOutcomes(brokers []string, topic string, logger *slog.Logger, opts ...kgo.Opt) *Outcomes {
	if logger == nil {
		logger = slog.Default()
	}
	return &Outcomes{brokers: brokers, topic: topic, opts: opts, log: logger, last: map[string]json.RawMessage{}}
}

// Outcome implements OutcomeStore.
func (o *Outcomes) Outcome(requestID string) (json.RawMessage, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	v, ok := o.last[requestID]
	return v, ok
}

// Ready reports whether the store holds what the topic held when Run
// started.
func (o *Outcomes) Ready() bool { return o.ready.Load() }

// Run follows the topic until ctx ends; it then returns nil.
func (o *Outcomes) Run(ctx context.Context) error {
	return pipeline.Follow(ctx, pipeline.FollowConfig{Name: "outcomes", Brokers: o.brokers, ClientOpts: o.opts,
		Topics: []string{o.topic}, TopicWait: 30 * time.Second, Logger: o.log}, o.Apply, func() { o.ready.Store(true) })
}

// Apply keeps r's outcome as its request's latest. A refusal for reusing
// a key with another request leaves the key's own outcome as it is.
func (o *Outcomes) Apply(r *kgo.Record) {
	var v struct {
		Key    string `json:"idempotency_key"`
		RepID  string `json:"rep_id"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(r.Value, &v) != nil || v.Key == "" || v.RepID == "" || v.Reason == wallet.ReasonIdempotencyConflict {
		return
	}
	o.mu.Lock()
	o.last[RequestID(v.RepID, v.Key)] = json.RawMessage(r.Value)
	o.mu.Unlock()
}
