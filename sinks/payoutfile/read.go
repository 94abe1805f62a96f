package payoutfile

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultTopic is the topic Read scans unless told otherwise.
const DefaultTopic = "payouts.payable"

// ReadConfig says what Read scans.
type ReadConfig struct {
	// Brokers are the seed brokers; required.
	Brokers []string
	// Topic is DefaultTopic unless set.
	Topic string
	// Period is the period whose amounts are summed; required. Periods
	// are compared as the programs write them ("2026-11", "2026-Q4").
	Period string
	// ClientOpts are added to the reading client's (TLS, SASL).
	ClientOpts []kgo.Opt
	// Progress, when set, is called from Read's goroutine as records
	// arrive: done offsets of total, where total is what the topic held
	// when Read started (aborted records and transaction markers
	// included, so done reaches total exactly when Read is finished).
	Progress func(done, total int64)
}

// ReadResult is what Read found.
type ReadResult struct {
	Totals Totals
	// Records is the number of records read, Matched those of the period.
	Records, Matched int
	// Periods counts the records read per period, every period.
	Periods map[string]int
	// Bad counts records that could not be read as payable records, by
	// the first error; Read fails on the first one (a payouts.payable
	// record is written by the accrual stage and must always decode).
	Bad int
}

// ErrNoPeriod is returned by Read when the config names no period.
var ErrNoPeriod = errors.New("payoutfile: no period given")

// Read scans cfg.Topic once, read_committed, from its start offsets to the
// end offsets (last stable offsets) it lists when it starts, and sums the
// amounts of cfg.Period per rep and currency. Records written after it
// started are left for the next run. It blocks until done or ctx ends; a
// record that is not a payable record stops it with an error naming its
// partition and offset.
func Read(ctx context.Context, cfg ReadConfig) (ReadResult, error) {
	res := ReadResult{Totals: Totals{Period: cfg.Period}, Periods: map[string]int{}}
	if cfg.Period == "" {
		return res, ErrNoPeriod
	}
	if len(cfg.Brokers) == 0 {
		return res, errors.New("payoutfile: no brokers given")
	}
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	topic := cfg.Topic
	admCl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.ClientOpts...)...)
	if err != nil {
		return res, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	ends, err := adm.ListCommittedOffsets(ctx, topic) // the last stable offsets
	if err == nil {
		err = ends.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return res, fmt.Errorf("topic %s does not exist: %w", topic, err)
	}
	if err != nil {
		return res, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return res, fmt.Errorf("list start offsets of %s: %w", topic, err)
	}
	type span struct{ start, end int64 }
	spans := map[int32]span{}
	assign := map[int32]kgo.Offset{}
	var total int64
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(topic, o.Partition)
		if o.Offset > s.Offset {
			spans[o.Partition] = span{s.Offset, o.Offset}
			assign[o.Partition] = kgo.NewOffset().At(s.Offset)
			total += o.Offset - s.Offset
		}
	})
	progress := func(int64) {}
	if cfg.Progress != nil {
		cfg.Progress(0, total)
		progress = func(done int64) { cfg.Progress(done, total) }
	}
	if total == 0 {
		return res, nil
	}
	rd, err := kgo.NewClient(append(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.ClientOpts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		return res, err
	}
	defer rd.Close()
	var done int64
	for len(spans) > 0 {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := fs.Err0(); err != nil {
			return res, fmt.Errorf("read %s: %w", topic, err)
		}
		var ferr error
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			sp, ok := spans[p.Partition]
			if !ok || ferr != nil {
				return
			}
			for _, r := range p.Records {
				if r.Offset >= sp.end {
					break
				}
				if !r.Attrs.IsControl() {
					res.Records++
					pay, err := DecodePayable(r.Value)
					if err != nil {
						res.Bad++
						ferr = fmt.Errorf("%s partition %d offset %d: %w", topic, r.Partition, r.Offset, err)
						return
					}
					res.Periods[pay.Period]++
					if res.Totals.Add(pay) {
						res.Matched++
					}
				}
				sp.start = r.Offset + 1
			}
			// Aborted records are not delivered: the gap they leave
			// counts as read once a later offset arrives.
			done += sp.start - (spans[p.Partition].start)
			if sp.start >= sp.end {
				delete(spans, p.Partition)
			} else {
				spans[p.Partition] = sp
			}
		})
		if ferr != nil {
			return res, ferr
		}
		progress(done)
	}
	return res, nil
}
