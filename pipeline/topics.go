package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Topic is one topic of accrue's topology.
type Topic struct {
	Name string
	// Compacted topics keep the last record per key (reference data,
	// programs, state changelogs); the others are deleted by retention.
	Compacted bool
	// Partitions overrides the catalogue's default count; 0 takes it.
	// Topics a keyed stage reads together share the default count.
	Partitions int32
	// Doc says what the topic carries.
	Doc string
}

// Topics is the catalogue of every topic accrue uses. Keyed topics that a
// stage reads together take the same (default) partition count, so that
// they stay co-partitioned.
var Topics = []Topic{
	{Name: "sales.raw", Doc: "source records as they arrive (one raw topic per source is also fine: raw.<source>)"},
	{Name: "sales.canonical", Doc: "mapped and sanitized canonical sale events, keyed by source:txn_id (the dedupe identity)"},
	{Name: "sales.clean", Doc: "canonical sale events after deduplication, keyed by source:txn_id"},
	{Name: "sales.credited", Doc: "canonical, linked sale events, keyed by recipient rep"},
	{Name: "sales.rejected", Doc: "dead letters of ingest: original bytes plus reason, field, message, source position"},
	{Name: "link.changelog", Compacted: true, Doc: "state changelog of the linking stage: dedupe entries, sales' recipients, parked events"},
	{Name: "ref.reps", Compacted: true, Doc: "reps and their history (role, team, manager), keyed by rep_id@valid_from"},
	{Name: "ref.products", Compacted: true, Doc: "products, keyed by product_id@valid_from"},
	{Name: "ref.accounts", Compacted: true, Doc: "accounts and their owners, keyed by account_id@valid_from"},
	{Name: "ref.fx", Compacted: true, Doc: "exchange rates, keyed by FROM/TO@valid_from"},
	{Name: "ref.identities", Compacted: true, Doc: "source identities of reps, keyed by source/identity@valid_from"},
	{Name: "imports", Compacted: true, Doc: "progress of file imports, keyed by source:file hash (resumable, exactly once)"},
	{Name: "programs", Compacted: true, Doc: "published program documents, keyed by id@version"},
	{Name: "accruals", Doc: "accrual deltas per program, rep and period"},
	{Name: "attainment", Doc: "attainment snapshots per program, rep and period"},
	{Name: "nudges", Doc: "nudge events for the notification service"},
	{Name: "awards", Doc: "badges and certificates"},
	{Name: "payouts.payable", Doc: "changes of what a rep is owed per program and period (the sum of a batch's accruals of it, the last one's id the idempotency key), keyed by rep"},
	{Name: "payouts.instructions", Doc: "payout instructions of the wallet stage, with idempotency keys, keyed by rep (account numbers sealed)"},
	{Name: "payouts.results", Doc: "results reported by payout services, of payout instructions and of penny drops, keyed by rep"},
	{Name: "webhook.rejected", Doc: "dead letters of the webhook sink: events the receiver refused (4xx) or that are not JSON"},
	{Name: "wallet.redemptions", Doc: "redemption requests, keyed by rep"},
	{Name: "wallet.bank-accounts", Compacted: true, Doc: "bank accounts and their verification (account events of the wallet stage: mask and status, never the number), keyed by rep"},
	{Name: "accrue.overrides", Doc: "override records for managers, keyed by manager: written and read back by the accrual stage (co-partitioned with sales.credited)"},
	{Name: "accrue.recompute", Doc: "recompute runs: markers and replayed credits written by accrue recompute, keyed by rep, read by the accrual stage"},
	{Name: "accrue.rejected", Doc: "dead letters of the accrual stage"},
	{Name: "accrue.changelog", Compacted: true, Doc: "state changelog of the accrual stage"},
	{Name: "leaderboard.by-program", Doc: "attainment snapshots re-keyed by program_id|period, so that one partition holds a whole leaderboard"},
	{Name: "leaderboard-rekey.rejected", Doc: "dead letters of the leaderboard's re-key stage (records that are not snapshots)"},
	{Name: "leaderboard.rejected", Doc: "dead letters of the leaderboard stage"},
	{Name: "leaderboard.changelog", Compacted: true, Doc: "state changelog of the leaderboard stage: every rep's standing per program and period"},
	{Name: "delivery.preferences", Compacted: true, Doc: "reps' delivery preferences (time zone, locale, channels), keyed by rep; read by the delivery stage"},
	{Name: "messages", Doc: "message events for the notification services: recipient, channels, rendered text, idempotency key; keyed by rep"},
	{Name: "messages.suppressed", Doc: "messages the delivery stage did not send (daily limit, no channel, unknown rep), with the reason; keyed by rep"},
	{Name: "deliver.rejected", Doc: "dead letters of the delivery stage"},
	{Name: "deliver.changelog", Compacted: true, Doc: "state changelog of the delivery stage: preferences, daily counts, messages held for quiet hours"},
	{Name: "contest.progress", Doc: "reps' progress in contests, keyed by contest id, for the contest ranking stage"},
	{Name: "contest.rejected", Doc: "dead letters of the contest stage"},
	{Name: "contest.changelog", Compacted: true, Doc: "state changelog of the contest stage: reps' progress per contest, sales' contributions"},
	{Name: "contest-rank.rejected", Doc: "dead letters of the contest ranking stage"},
	{Name: "contest-rank.changelog", Compacted: true, Doc: "state changelog of the contest ranking stage: standings per contest, contests closed"},
	{Name: "wallet.rejected", Doc: "dead letters of the wallet stage"},
	{Name: "wallet.changelog", Compacted: true, Doc: "state changelog of the wallet stage"},
	{Name: "wallet.registrations", Doc: "bank-account registrations (the number in clear: keep retention short, access narrow) and penny-drop confirmations from the rep-facing app, keyed by rep; read by the wallet stage"},
	{Name: "wallet.outcomes", Doc: "outcomes of redemption requests (accepted, refused with a reason, paid, released, returned), keyed by rep"},
	{Name: "wallet.ledger", Doc: "the wallet's double-entry ledger transactions, keyed by rep"},
	{Name: "wallet.penny-drops", Doc: "penny-drop deposits for payout services to make (sealed account number), keyed by rep"},
	{Name: "wallet.catalogue", Compacted: true, Doc: "gift cards and experiences that reps can redeem, keyed by item id; read whole by every wallet instance"},
	{Name: "wallet.period-closes", Compacted: true, Doc: "closed program periods, keyed by program_id/period; read whole by every wallet instance (period_close payability)"},
}

// StageTopics returns the changelog (compacted) and dead-letter topics of a
// stage named name with the default names of Config.
func StageTopics(name string) []Topic {
	return []Topic{
		{Name: name + ".changelog", Compacted: true, Doc: "state changelog of stage " + name},
		{Name: name + ".rejected", Doc: "dead letters of stage " + name},
	}
}

// CreateResult says what CreateTopics did with one topic.
type CreateResult struct {
	Topic      string
	Partitions int32
	Created    bool // false: it existed already
}

// CreateTopics creates every topic of ts that does not exist yet, with
// partitions (or the topic's own count) and replication factor rf (-1: the
// broker's default). Existing topics are left as they are; it is safe to run
// again. Compacted topics get cleanup.policy=compact.
func CreateTopics(ctx context.Context, adm *kadm.Client, ts []Topic, partitions int32, rf int16) ([]CreateResult, error) {
	sorted := append([]Topic(nil), ts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var out []CreateResult
	var errs []error
	for _, t := range sorted {
		n := t.Partitions
		if n == 0 {
			n = partitions
		}
		cfg := map[string]*string{}
		if t.Compacted {
			compact := "compact"
			cfg["cleanup.policy"] = &compact
		}
		resp, err := adm.CreateTopic(ctx, n, rf, cfg, t.Name)
		switch {
		case err == nil && resp.Err == nil:
			out = append(out, CreateResult{Topic: t.Name, Partitions: n, Created: true})
		case errors.Is(err, kerr.TopicAlreadyExists) || errors.Is(resp.Err, kerr.TopicAlreadyExists):
			out = append(out, CreateResult{Topic: t.Name, Partitions: n})
		case err != nil:
			errs = append(errs, fmt.Errorf("create %s: %w", t.Name, err))
		default:
			errs = append(errs, fmt.Errorf("create %s: %w", t.Name, resp.Err))
		}
	}
	if len(errs) == 0 {
		var created []string
		for _, r := range out {
			if r.Created {
				created = append(created, r.Topic)
			}
		}
		if err := WaitLeaders(ctx, adm, created...); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// WaitLeaders waits until every partition of topics has a leader. A topic
// is created before its partitions have leaders, and a client that asks for
// it meanwhile is told it does not exist (UNKNOWN_TOPIC_OR_PARTITION) and
// gives up after a few tries: a tool that creates topics and hands them on
// waits here first.
func WaitLeaders(ctx context.Context, adm *kadm.Client, topics ...string) error {
	if len(topics) == 0 {
		return nil
	}
	for {
		details, err := adm.ListTopics(ctx, topics...)
		waiting := ""
		if err != nil {
			waiting = err.Error()
		}
		for _, t := range topics {
			d, ok := details[t]
			switch {
			case waiting != "":
			case !ok || d.Err != nil:
				waiting = t + " is not in the metadata yet"
			default:
				for _, p := range d.Partitions {
					if p.Err != nil || p.Leader < 0 {
						waiting = fmt.Sprintf("%s[%d] has no leader yet", t, p.Partition)
						break
					}
				}
			}
		}
		if waiting == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics created, but %s: %w", waiting, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
