package wallet

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
)

// Topics of the tables every instance of the wallet stage reads whole.
const (
	// TopicCatalogue is the compacted topic of catalogue items (ItemRecord),
	// keyed by item id.
	TopicCatalogue = "wallet.catalogue"
	// TopicPeriodCloses is the compacted topic of closed periods
	// (CloseRecord), keyed by program_id/period.
	TopicPeriodCloses = "wallet.period-closes"
)

// TablesConfig configures Tables. Brokers is required.
type TablesConfig struct {
	Brokers    []string
	ClientOpts []kgo.Opt
	// Catalogue and Closes are the topics; TopicCatalogue and
	// TopicPeriodCloses by default.
	Catalogue, Closes string
	// TopicWait bounds the wait for the topics to exist; default 30s.
	TopicWait time.Duration
	// Registerer receives the tables' metrics; nil records none.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Tables holds the wallet stage's global tables: the catalogue of items
// and the closed periods. Every instance reads both topics whole (no
// consumer group, read_committed) and keeps them current, as the accrual
// stage keeps its programs: a rep on any partition may ask for any item,
// and a period closes for every rep. Tables implements Catalogue; it is
// safe for concurrent use.
type Tables struct {
	cfg TablesConfig
	log *slog.Logger

	mu     sync.RWMutex
	items  Items
	closes map[string]CloseRecord
	// version moves whenever a period is closed.
	version atomic.Uint64

	readiness *pipeline.Readiness

	bad prometheus.Counter
}

var _ Catalogue = (*Tables)(nil)

// NewTables checks cfg; it does not connect (Run does).
func NewTables(cfg TablesConfig) (*Tables, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("wallet: the tables need brokers")
	}
	if cfg.Catalogue == "" {
		cfg.Catalogue = TopicCatalogue
	}
	if cfg.Closes == "" {
		cfg.Closes = TopicPeriodCloses
	}
	if cfg.TopicWait <= 0 {
		cfg.TopicWait = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	t := &Tables{cfg: cfg, log: cfg.Logger.With("component", "wallet tables"), items: Items{},
		closes: map[string]CloseRecord{}, readiness: pipeline.NewReadiness()}
	t.bad = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "accrue", Subsystem: "wallet", Name: "table_bad_records_total",
		Help: "Records of the catalogue and period-close topics that are not valid (left out).",
	})
	if reg := cfg.Registerer; reg != nil {
		reg.MustRegister(t.bad, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "accrue", Subsystem: "wallet", Name: "catalogue_items",
			Help: "Items in the catalogue (withdrawn ones included).",
		}, func() float64 {
			t.mu.RLock()
			defer t.mu.RUnlock()
			return float64(len(t.items))
		}), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "accrue", Subsystem: "wallet", Name: "periods_closed",
			Help: "Periods closed (program and period).",
		}, func() float64 {
			t.mu.RLock()
			defer t.mu.RUnlock()
			return float64(len(t.closes))
		}))
	}
	return t, nil
}

// Item implements Catalogue.
func (t *Tables) Item(id string) (Item, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	it, ok := t.items[id]
	return it, ok
}

// Closed reports whether programID's period is closed.
func (t *Tables) Closed(programID, period string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, ok := t.closes[programID+"/"+period]
	return ok
}

// Closes returns the closed periods, ordered by program and period.
func (t *Tables) Closes() []CloseRecord {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]CloseRecord, 0, len(t.closes))
	for _, c := range t.closes {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b CloseRecord) int {
		if a.ProgramID != b.ProgramID {
			if a.ProgramID < b.ProgramID {
				return -1
			}
			return 1
		}
		switch {
		case a.Period < b.Period:
			return -1
		case a.Period > b.Period:
			return 1
		}
		return 0
	})
	return out
}

// Version changes whenever a period closes.
func (t *Tables) Version() uint64 { return t.version.Load() }

// Run loads the tables and keeps them current until ctx ends; it then
// returns nil. Run once.
func (t *Tables) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			t.readiness.Fail(err)
		}
	}()
	start := time.Now()
	return pipeline.Follow(ctx, pipeline.FollowConfig{
		Name: "wallet tables", Brokers: t.cfg.Brokers, ClientOpts: t.cfg.ClientOpts,
		Topics: []string{t.cfg.Catalogue, t.cfg.Closes}, TopicWait: t.cfg.TopicWait, Logger: t.log,
	}, t.apply, func() {
		t.readiness.MarkReady(func() {
			t.mu.RLock()
			t.log.Info("wallet tables ready", "items", len(t.items), "periods_closed", len(t.closes),
				"took", time.Since(start).Round(time.Millisecond))
			t.mu.RUnlock()
		})
	})
}

// apply applies one record of either topic. A catalogue tombstone removes
// the item; a close cannot be undone, so a close tombstone is ignored.
func (t *Tables) apply(r *kgo.Record) {
	switch r.Topic {
	case t.cfg.Catalogue:
		if r.Value == nil {
			t.mu.Lock()
			delete(t.items, string(r.Key))
			t.mu.Unlock()
			return
		}
		it, err := DecodeItem(r.Value)
		if err == nil && it.ID != string(r.Key) {
			err = errors.New("the record's key is not its item's id")
		}
		if err != nil {
			t.bad.Inc()
			t.log.Warn("a catalogue record is not a valid item; left out", "partition", r.Partition, "offset", r.Offset,
				"key", string(r.Key), "err", err)
			return
		}
		t.mu.Lock()
		t.items[it.ID] = it
		t.mu.Unlock()
	case t.cfg.Closes:
		if r.Value == nil {
			return
		}
		c, err := DecodeClose(r.Value)
		if err != nil {
			t.bad.Inc()
			t.log.Warn("a period-close record is not valid; left out", "partition", r.Partition, "offset", r.Offset,
				"key", string(r.Key), "err", err)
			return
		}
		t.mu.Lock()
		key := c.ProgramID + "/" + c.Period
		_, had := t.closes[key]
		t.closes[key] = c
		t.mu.Unlock()
		if !had {
			t.version.Add(1)
		}
	}
}

// Put adds items and closes directly, for tests and for a stage run
// without the topics.
func (t *Tables) Put(items []Item, closes []CloseRecord) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, it := range items {
		t.items[it.ID] = it
	}
	for _, c := range closes {
		key := c.ProgramID + "/" + c.Period
		if _, had := t.closes[key]; !had {
			t.closes[key] = c
			t.version.Add(1)
		}
	}
}

// Ready reports whether both tables hold what their topics held when Run started. Safe to call concurrently; a
// pipeline.ReadyCheck.
func (t *Tables) Ready() bool { return t.readiness.Ready() }

// WaitReady blocks until ready (nil), ctx ends (its error) or Run fails
// before that (Run's error).
func (t *Tables) WaitReady(ctx context.Context) error { return t.readiness.WaitReady(ctx) }
