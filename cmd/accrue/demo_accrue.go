package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/transforms/accrue"
	"github.com/accrue/accrue/transforms/accrue/program"
)

// demoPrograms publishes demoProgram to the programs topic and returns the
// follower of that topic the accrual stage builds its engine of.
func demoPrograms(ctx context.Context, brokers []string, reg prometheus.Registerer) (*accrue.Programs, error) {
	p, err := program.Parse("demo/"+"demo-commission.yaml", []byte(demoProgram))
	if err != nil {
		return nil, fmt.Errorf("demo program: %w", err)
	}
	pb := program.NewPublication(p, time.Now())
	value, err := pb.Value()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("programs producer: %w", err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: program.Topic, Key: pb.Key(), Value: value}).FirstErr(); err != nil {
		return nil, fmt.Errorf("publish the demo program: %w", err)
	}
	return accrue.NewPrograms(accrue.ProgramsConfig{Brokers: brokers, Topic: program.Topic, Registerer: reg})
}

// accrualKey is a program's period of one rep.
type accrualKey struct{ program, period, rep string }

// accrualBook is what the accruals and attainment topics hold, read with
// read_committed: the deltas summed per key and the earned of each key's
// latest snapshot.
type accrualBook struct {
	deltas      map[accrualKey]decimal.Decimal
	earned      map[accrualKey]decimal.Decimal
	versions    map[accrualKey]int64
	accruals    int64
	snapshots   int64
	undecodable int64
}

// readAccrualBook reads the accruals and attainment topics from the start
// until it has read wantAccruals and wantSnapshots records (true) or
// demoDrain passes (false).
func readAccrualBook(ctx context.Context, brokers []string, wantAccruals, wantSnapshots int64) (*accrualBook, bool, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(accrue.TopicAccruals, accrue.TopicAttainment),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, false, fmt.Errorf("accruals reader: %w", err)
	}
	defer cl.Close()
	b := &accrualBook{deltas: map[accrualKey]decimal.Decimal{}, earned: map[accrualKey]decimal.Decimal{},
		versions: map[accrualKey]int64{}}
	ctx, cancel := context.WithTimeout(ctx, demoDrain)
	defer cancel()
	for b.accruals+b.undecodable < wantAccruals || b.snapshots < wantSnapshots {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return b, false, nil
		}
		fs.EachError(func(t string, p int32, err error) {
			slog.Warn("accrual book: fetch error", "topic", t, "partition", p, "err", err)
		})
		fs.EachRecord(b.add)
	}
	return b, true, nil
}

func (b *accrualBook) add(r *kgo.Record) {
	var v struct {
		ProgramID string          `json:"program_id"`
		Period    string          `json:"period"`
		RepID     string          `json:"rep_id"`
		Delta     decimal.Decimal `json:"delta"`
		Earned    decimal.Decimal `json:"earned"`
		Version   int64           `json:"version"`
	}
	if err := json.Unmarshal(r.Value, &v); err != nil {
		b.undecodable++
		return
	}
	k := accrualKey{v.ProgramID, v.Period, v.RepID}
	switch r.Topic {
	case accrue.TopicAccruals:
		b.accruals++
		b.deltas[k] = b.deltas[k].Add(v.Delta)
	case accrue.TopicAttainment:
		b.snapshots++
		if v.Version >= b.versions[k] {
			b.versions[k], b.earned[k] = v.Version, v.Earned
		}
	}
}

// creditsApplied is the credits the accrual stage applied (not rejected).
func (s *demoSummary) creditsApplied() int64 {
	mfs, err := s.reg.Gather()
	if err != nil {
		slog.Warn("demo: gather metrics", "err", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "accrue_accrual_inputs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == "credit" {
					return int64(m.GetCounter().GetValue())
				}
			}
		}
	}
	return 0
}

// accrualBooks checks the accrual stage: every credit applied or rejected,
// and per (program, period, rep) the deltas on the accruals topic add up to
// the earned of the latest attainment snapshot.
func (s *demoSummary) accrualBooks(sn demoSnapshot) (c demoCheck) {
	b := s.book
	if b == nil {
		b = &accrualBook{}
	}
	mismatched := 0
	for k, e := range b.earned {
		if !b.deltas[k].Equal(e) {
			mismatched++
		}
	}
	for k := range b.deltas {
		if _, ok := b.earned[k]; !ok {
			mismatched++
		}
	}
	c.ok = sn.accrueIn == sn.linkCredits && sn.accrueIn == sn.accrueApplied+sn.accrueRejected &&
		b.accruals == sn.accruals && b.snapshots == sn.snapshots && b.undecodable == 0 && mismatched == 0 && sn.accruals > 0
	c.text = fmt.Sprintf("accrue: credits %s = applied %s + rejected %s; deltas on %s add up to the latest %s earned for %s of %s keys",
		thousands(sn.accrueIn), thousands(sn.accrueApplied), thousands(sn.accrueRejected), accrue.TopicAccruals,
		accrue.TopicAttainment, thousands(int64(len(b.earned)-mismatched)), thousands(int64(len(b.earned))))
	return c
}
