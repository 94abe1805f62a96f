package accrue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/accrue/program"
)

// RecomputeConfig configures Recompute and CancelRecompute. Brokers,
// ProgramID, From and Catalog are required.
type RecomputeConfig struct {
	Brokers    []string
	ClientOpts []kgo.Opt
	// ProgramID is the program to recompute, under the versions Catalog
	// holds now; From the first period recomputed ("2026-11", "2026-Q4",
	// "2026", as the program cuts periods).
	ProgramID, From string
	Catalog         *program.Catalog
	// Run names the run; default "PROGRAM/FROM/<unix ms>".
	Run string
	// Credits is the stage's topic of credits (TopicCredits), Topic its
	// topic of recompute runs (TopicRecompute), DeadLetter its dead
	// letters ("accrue.rejected"), Group its consumer group
	// ("accrue-accrue").
	Credits, Topic, DeadLetter, Group string
	// Wait bounds how long Recompute waits for the stage to begin the run
	// on every partition; default 5 minutes.
	Wait time.Duration
	// Progress, when set, is told how many credits have been read of how
	// many, as the replay goes.
	Progress func(done, total int64)
}

// RecomputeResult says what Recompute did.
type RecomputeResult struct {
	Run        string
	Partitions int
	// Replayed credits were handed to the stage; Skipped ones are older
	// than any period the run recomputes can hold.
	Replayed, Skipped int64
}

func (cfg *RecomputeConfig) defaults() error {
	if len(cfg.Brokers) == 0 || cfg.ProgramID == "" || cfg.From == "" || cfg.Catalog == nil {
		return errors.New("recompute: brokers, program, first period and catalog are required")
	}
	for _, d := range []struct {
		dst *string
		def string
	}{{&cfg.Credits, TopicCredits}, {&cfg.Topic, TopicRecompute}, {&cfg.DeadLetter, "accrue.rejected"}, {&cfg.Group, "accrue-accrue"}} {
		if *d.dst == "" {
			*d.dst = d.def
		}
	}
	if cfg.Run == "" {
		cfg.Run = cfg.ProgramID + "/" + cfg.From + "/" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 5 * time.Minute
	}
	return nil
}

// cutoff is the earliest event time a credit the run recomputes can have:
// the first day of From in the program's time zone (a day earlier, for
// any zone), less nothing else, since a return lands in its sale's period
// and a sale before From counts in no period the run recomputes.
func (cfg *RecomputeConfig) cutoff() (time.Time, error) {
	p := cfg.Catalog.Latest(cfg.ProgramID)
	if p == nil {
		return time.Time{}, fmt.Errorf("recompute: program %q is not published", cfg.ProgramID)
	}
	first, _, err := periodBounds(p.Period, cfg.From)
	if err != nil {
		return time.Time{}, fmt.Errorf("recompute: --from: %w", err)
	}
	return first.Time().Add(-24 * time.Hour), nil
}

// Recompute runs a recompute of cfg.ProgramID from cfg.From through the
// accrual stage, which must be running: it opens the run on every
// partition of cfg.Topic, waits until the stage has begun it everywhere,
// replays every credit of cfg.Credits the stage had applied by then (up to
// the end offsets read once it had) onto the partition of cfg.Topic it came
// from, and closes the run. The stage then replays them under the
// program's versions in the catalog now, into shadow figures, and swaps
// them in with adjustment deltas once every partition has replayed
// (docs/accrual.md, "Recompute"). Recompute returns when the run is
// closed, not when the stage has swapped.
//
// Should Recompute fail after it opened the run, the stage holds the
// partitions' live inputs back until the run is cancelled
// (CancelRecompute).
func Recompute(ctx context.Context, cfg RecomputeConfig) (RecomputeResult, error) {
	res := RecomputeResult{}
	if err := cfg.defaults(); err != nil {
		return res, err
	}
	res.Run = cfg.Run
	cutoff, err := cfg.cutoff()
	if err != nil {
		return res, err
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5 * time.Millisecond), kgo.MaxBufferedRecords(100_000)}, cfg.ClientOpts...)...)
	if err != nil {
		return res, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	n, err := partitions(ctx, adm, cfg.Topic, cfg.Credits)
	if err != nil {
		return res, err
	}
	res.Partitions = n
	dlqStart, err := endOffsets(ctx, adm, cfg.DeadLetter)
	if err != nil {
		return res, err
	}

	begins, err := cfg.markers(ctx, cl, KindBegin, n)
	if err != nil {
		return res, err
	}
	// From here on, a failure cancels the run: the stage would hold the
	// partitions' inputs back until it ends.
	fail := func(err error) (RecomputeResult, error) {
		if _, cerr := cfg.markers(context.WithoutCancel(ctx), cl, KindCancel, n); cerr != nil {
			err = fmt.Errorf("%w; and cancelling the run failed too: %v (run accrue recompute --cancel %s)", err, cerr, cfg.Run)
		}
		return res, err
	}
	if err := cfg.waitBegun(ctx, adm, begins); err != nil {
		return fail(err)
	}
	dlqEnd, err := endOffsets(ctx, adm, cfg.DeadLetter)
	if err != nil {
		return fail(err)
	}
	var refused error
	err = readRange(ctx, cfg, cfg.DeadLetter, dlqStart, dlqEnd, nil, func(r *kgo.Record) {
		if header(r, HeaderRun) == cfg.Run && refused == nil {
			refused = fmt.Errorf("recompute: the stage refused run %s: %s: %s", cfg.Run, header(r, pipeline.HeaderReason), header(r, pipeline.HeaderMessage))
		}
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return fail(err)
	}

	ends, err := endOffsets(ctx, adm, cfg.Credits)
	if err != nil {
		return fail(err)
	}
	starts, err := adm.ListStartOffsets(ctx, cfg.Credits)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fail(fmt.Errorf("recompute: %s: %w", cfg.Credits, err))
	}
	from := map[int32]int64{}
	var total int64
	for p, end := range ends {
		s, _ := starts.Lookup(cfg.Credits, p)
		from[p] = s.Offset
		total += max(0, end-s.Offset)
	}
	var done int64
	var perr error
	err = readRange(ctx, cfg, cfg.Credits, from, ends, func() {
		if cfg.Progress != nil {
			cfg.Progress(done, total)
		}
	}, func(r *kgo.Record) {
		done++
		if r.Attrs.IsControl() {
			return
		}
		c, err := DecodeCredit(r.Value)
		if err != nil || c.Event.EventTime.Before(cutoff) {
			res.Skipped++
			return
		}
		res.Replayed++
		cl.Produce(ctx, &kgo.Record{Topic: cfg.Topic, Partition: r.Partition, Key: r.Key, Value: r.Value,
			Headers: []kgo.RecordHeader{{Key: HeaderRun, Value: []byte(cfg.Run)}, {Key: HeaderKind, Value: []byte(KindCredit)},
				{Key: HeaderOffset, Value: strconv.AppendInt(nil, r.Offset, 10)}}},
			func(_ *kgo.Record, err error) {
				if err != nil && perr == nil {
					perr = err
				}
			})
	})
	if err == nil {
		err = cl.Flush(ctx)
	}
	if err == nil && perr != nil {
		err = fmt.Errorf("recompute: replay: %w", perr)
	}
	if err != nil {
		return fail(err)
	}
	if cfg.Progress != nil {
		cfg.Progress(total, total)
	}
	if _, err := cfg.markers(ctx, cl, KindEnd, n); err != nil {
		return fail(err)
	}
	return res, nil
}

// endOffsets are topic's last stable offsets, by partition.
func endOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("recompute: end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// readRange reads topic, read_committed, from the offsets from up to
// (not including) to, partition by partition, calling fn for every
// record, control records too, and polled after every fetch.
func readRange(ctx context.Context, cfg RecomputeConfig, topic string, from, to map[int32]int64, polled func(), fn func(*kgo.Record)) error {
	assign := map[int32]kgo.Offset{}
	want := map[int32]int64{}
	for p, end := range to {
		if start := from[p]; end > start {
			assign[p] = kgo.NewOffset().At(start)
			want[p] = end
		}
	}
	if len(want) == 0 {
		return nil
	}
	rd, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords()}, cfg.ClientOpts...)...)
	if err != nil {
		return err
	}
	defer rd.Close()
	for len(want) > 0 {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return fmt.Errorf("recompute: read %s: %w", topic, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := want[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if r.Offset >= end-1 {
				delete(want, r.Partition)
			}
			fn(r)
		})
		if polled != nil {
			polled()
		}
	}
	return nil
}

// CancelRecompute gives cfg.Run up: every partition that has not replayed
// it forgets its shadow figures and applies the inputs it held back, and
// tells the others, so that no partition swaps.
func CancelRecompute(ctx context.Context, cfg RecomputeConfig) error {
	if cfg.Run == "" {
		return errors.New("recompute: which run to cancel?")
	}
	if err := cfg.defaults(); err != nil {
		return err
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner())}, cfg.ClientOpts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	n, err := partitions(ctx, kadm.NewClient(cl), cfg.Topic, cfg.Credits)
	if err != nil {
		return err
	}
	_, err = cfg.markers(ctx, cl, KindCancel, n)
	return err
}

// partitions is the partition count of topic, which other must share.
func partitions(ctx context.Context, adm *kadm.Client, topic, other string) (int, error) {
	td, err := adm.ListTopics(ctx, topic, other)
	if err != nil {
		return 0, fmt.Errorf("recompute: list topics: %w", err)
	}
	n := -1
	for _, t := range []string{topic, other} {
		d, ok := td[t]
		if !ok || d.Err != nil {
			return 0, fmt.Errorf("recompute: topic %s does not exist (create it with `accrue topics create`)", t)
		}
		if n >= 0 && len(d.Partitions) != n {
			return 0, fmt.Errorf("recompute: %s has %d partitions, %s %d: they must be co-partitioned", other, len(d.Partitions), topic, n)
		}
		n = len(d.Partitions)
	}
	return n, nil
}

// markers writes a marker of kind to every partition of the topic and
// returns their offsets.
func (cfg *RecomputeConfig) markers(ctx context.Context, cl *kgo.Client, kind string, n int) (map[int32]int64, error) {
	v, _ := json.Marshal(Marker{Run: cfg.Run, ProgramID: cfg.ProgramID, From: cfg.From, Partitions: n})
	var recs []*kgo.Record
	for p := range int32(n) {
		recs = append(recs, &kgo.Record{Topic: cfg.Topic, Partition: p, Key: []byte(cfg.Run), Value: v,
			Headers: []kgo.RecordHeader{{Key: HeaderRun, Value: []byte(cfg.Run)}, {Key: HeaderKind, Value: []byte(kind)}}})
	}
	res := cl.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		return nil, fmt.Errorf("recompute: write %s markers: %w", kind, err)
	}
	out := map[int32]int64{}
	for _, r := range res {
		out[r.Record.Partition] = r.Record.Offset
	}
	return out, nil
}

// waitBegun waits until the stage's group has committed offsets past
// every begin marker: from then on, the credits it applies are held back
// until the swap, and the end offsets of the credits bound the replay.
func (cfg *RecomputeConfig) waitBegun(ctx context.Context, adm *kadm.Client, begins map[int32]int64) error {
	deadline := time.Now().Add(cfg.Wait)
	for {
		offs, err := adm.FetchOffsets(ctx, cfg.Group)
		if err == nil {
			err = offs.Error()
		}
		if err == nil {
			begun := 0
			for p, at := range begins {
				if o, ok := offs.Lookup(cfg.Topic, p); ok && o.At > at {
					begun++
				}
			}
			if begun == len(begins) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("recompute: the stage (group %s) has not begun run %s on every partition after %v: is it running? cancel the run with --cancel %s",
				cfg.Group, cfg.Run, cfg.Wait, cfg.Run)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
