package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// FollowConfig configures Follow.
type FollowConfig struct {
	// Name prefixes errors and logs ("reference", "programs").
	Name       string
	Brokers    []string
	ClientOpts []kgo.Opt
	Topics     []string
	// TopicWait bounds the wait for the topics to exist.
	TopicWait time.Duration
	Logger    *slog.Logger
}

// Follow reads every record of cfg.Topics from the start, read_committed and
// without a group, calling apply for each (control records left out), and
// goes on following them until ctx ends; it then returns nil. caughtUp is
// called once, when every partition has been read up to the last record it
// held when Follow started (at once for empty topics): the moment a table
// kept from compacted topics (reference data, programs) is ready. Follow
// returns an error when a topic is missing after cfg.TopicWait or its
// offsets cannot be listed. apply and caughtUp run on Follow's goroutine.
func Follow(ctx context.Context, cfg FollowConfig, apply func(*kgo.Record), caughtUp func()) error {
	base := append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.ClientOpts...)
	admCl, err := kgo.NewClient(base...)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.Name, err)
	}
	defer admCl.Close()
	want, err := followEnds(ctx, cfg, kadm.NewClient(admCl))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	cl, err := kgo.NewClient(append(base,
		kgo.ConsumeTopics(cfg.Topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers are kept so that a topic ending in one
		// (every topic written in transactions does) shows its last
		// offset, and catching up can be told.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.Name, err)
	}
	defer cl.Close()
	if len(want) == 0 {
		caughtUp()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			log.Warn("fetch error", "topic", t, "partition", p, "err", err)
		})
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			for _, r := range fp.Records {
				if !r.Attrs.IsControl() {
					apply(r)
				}
			}
			if len(fp.Records) == 0 || len(want) == 0 {
				return
			}
			tp := followPart{fp.Topic, fp.Partition}
			if last, ok := want[tp]; ok && fp.Records[len(fp.Records)-1].Offset >= last {
				delete(want, tp)
				if len(want) == 0 {
					caughtUp()
				}
			}
		})
	}
}

type followPart struct {
	topic string
	part  int32
}

// followEnds waits for the topics to exist and returns, for every partition
// that holds records, the offset of its last record as of now (last stable
// offset minus one).
func followEnds(ctx context.Context, cfg FollowConfig, adm *kadm.Client) (map[followPart]int64, error) {
	deadline := time.Now().Add(cfg.TopicWait)
	for {
		td, err := adm.ListTopics(ctx, cfg.Topics...)
		if err == nil {
			var missing []string
			for _, t := range cfg.Topics {
				if d, ok := td[t]; !ok || d.Err != nil {
					missing = append(missing, t)
				}
			}
			if len(missing) == 0 {
				break
			}
			if len(missing) == 1 {
				err = fmt.Errorf("%s: topic %s does not exist (create it with `accrue topics create`)", cfg.Name, missing[0])
			} else {
				err = fmt.Errorf("%s: topics %v do not exist (create them with `accrue topics create`)", cfg.Name, missing)
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	ends, err := adm.ListCommittedOffsets(ctx, cfg.Topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: list end offsets: %w", cfg.Name, err)
	}
	starts, err := adm.ListStartOffsets(ctx, cfg.Topics...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: list start offsets: %w", cfg.Name, err)
	}
	want := map[followPart]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		st, _ := starts.Lookup(o.Topic, o.Partition)
		if o.Offset > st.Offset {
			want[followPart{o.Topic, o.Partition}] = o.Offset - 1
		}
	})
	return want, nil
}
