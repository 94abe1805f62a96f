// Package doctor checks that a deployment of accrue can run: the brokers
// answer, every topic of the catalogue exists with its cleanup policy, the
// topics each keyed stage reads together are co-partitioned, ClickHouse
// answers and its schema is not behind the migrations built into the
// binary, and, when asked, how far each stage's consumer group lags.
//
// Each check gives one Result, in plain words, with what to run to fix it.
// The checks only read: they create, alter and delete nothing.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/sinks/clickhouse"
)

// Result is the outcome of one check.
type Result struct {
	// Check names what was looked at: "kafka", "topics", "co-partitioning
	// accrue", "clickhouse schema", "lag accrue-link".
	Check string
	// OK is false when the check found a problem.
	OK bool
	// Skipped checks could not run because an earlier one failed; they
	// count as neither healthy nor a problem.
	Skipped bool
	// Message says what was found.
	Message string
	// Fix says what to run, for problems.
	Fix string
}

// String is the result as one line: "ok", "PROBLEM" or "skipped", the
// check, what was found and, for a problem, the fix.
func (r Result) String() string {
	status := "ok"
	switch {
	case r.Skipped:
		status = "skipped"
	case !r.OK:
		status = "PROBLEM"
	}
	s := fmt.Sprintf("%-8s %s: %s", status, r.Check, r.Message)
	if !r.OK && !r.Skipped && r.Fix != "" {
		s += " — fix: " + r.Fix
	}
	return s
}

// CoPartition is a keyed stage and the topics it reads together: its
// inputs and its state changelog. They must have one partition count, or
// the stage refuses to start (and keys would land on different instances).
type CoPartition struct {
	Stage  string
	Topics []string
}

// CoPartitioned are the keyed stages of the pipeline with their default
// topic names (see each stage's --help). A topic read by two stages
// (sales.credited) ties both groups to one count.
var CoPartitioned = []CoPartition{
	{Stage: "link", Topics: []string{"sales.canonical", "link.changelog"}},
	{Stage: "accrue", Topics: []string{"sales.credited", "accrue.overrides", "accrue.recompute", "accrue.changelog"}},
	{Stage: "leaderboard", Topics: []string{"leaderboard.by-program", "leaderboard.changelog"}},
	{Stage: "deliver", Topics: []string{"nudges", "awards", "delivery.preferences", "deliver.changelog"}},
	{Stage: "contest", Topics: []string{"sales.credited", "contest.changelog"}},
	{Stage: "contest-rank", Topics: []string{"contest.progress", "contest-rank.changelog"}},
	{Stage: "wallet", Topics: []string{"payouts.payable", "wallet.redemptions", "wallet.registrations", "payouts.results", "wallet.changelog"}},
}

// StageGroups are the consumer groups of the pipeline's stages and sink
// with their default names (group accrue-<name>).
var StageGroups = []string{
	"accrue-ingest", "accrue-link", "accrue-accrue", "accrue-leaderboard-rekey", "accrue-leaderboard",
	"accrue-deliver", "accrue-contest", "accrue-contest-rank", "accrue-wallet", "accrue-sink-clickhouse",
}

// Config says what to check.
type Config struct {
	// Brokers are the Kafka seed brokers; KafkaOpts add to the client's
	// options (TLS, SASL).
	Brokers   []string
	KafkaOpts []kgo.Opt
	// Topics is the catalogue to find (default pipeline.Topics), Groups
	// the co-partitioning to check (default CoPartitioned).
	Topics []pipeline.Topic
	Groups []CoPartition
	// ClickHouse, when set, is checked against Migrations.
	ClickHouse *clickhouse.Options
	Migrations []clickhouse.Migration
	// Lag, when set, reports the lag of each of LagGroups (default
	// StageGroups); a group lagging more than MaxLag records (0: no limit)
	// is a problem.
	Lag       bool
	LagGroups []string
	MaxLag    int64
	// Timeout bounds each check; default 10s.
	Timeout time.Duration
}

// Run runs every check and returns the results in order. It blocks until
// they are done; it never returns an error of its own: what fails is a
// Result with OK false.
func Run(ctx context.Context, c Config) []Result {
	if c.Topics == nil {
		c.Topics = pipeline.Topics
	}
	if c.Groups == nil {
		c.Groups = CoPartitioned
	}
	if c.LagGroups == nil {
		c.LagGroups = StageGroups
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	var out []Result
	out = append(out, checkKafka(ctx, c)...)
	if c.ClickHouse != nil {
		out = append(out, checkClickHouse(ctx, c)...)
	}
	return out
}

// Problems counts the results that are problems.
func Problems(rs []Result) int {
	n := 0
	for _, r := range rs {
		if !r.OK && !r.Skipped {
			n++
		}
	}
	return n
}

func checkKafka(ctx context.Context, c Config) []Result {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, c.KafkaOpts...)...)
	if err != nil {
		return []Result{{Check: "kafka", Message: err.Error(), Fix: "check --brokers (env ACCRUE_KAFKA_BROKERS)"}}
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	kafka := checkBrokers(ctx, c, adm)
	if !kafka.OK {
		skip := func(check string) Result {
			return Result{Check: check, Skipped: true, Message: "Kafka is not reachable"}
		}
		out := []Result{kafka, skip("topics"), skip("co-partitioning")}
		if c.Lag {
			out = append(out, skip("lag"))
		}
		return out
	}
	out := []Result{kafka}
	tctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	details, err := adm.ListTopics(tctx)
	if err != nil {
		return append(out, Result{Check: "topics", Message: "cannot list topics: " + err.Error(),
			Fix: "check that this client may describe topics (ACLs)"})
	}
	out = append(out, checkTopics(tctx, c, adm, details)...)
	out = append(out, checkCoPartitioning(c, details)...)
	if c.Lag {
		out = append(out, checkLag(ctx, c, adm)...)
	}
	return out
}

func checkBrokers(ctx context.Context, c Config, adm *kadm.Client) Result {
	r := Result{Check: "kafka"}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	vs, err := adm.ApiVersions(ctx)
	if err != nil {
		r.Message = fmt.Sprintf("cannot reach the brokers %s: %v", strings.Join(c.Brokers, ","), err)
		r.Fix = "start Kafka or correct --brokers (env ACCRUE_KAFKA_BROKERS); locally: deploy/local/stack.sh up kafka"
		return r
	}
	var versions, failed, old []string
	for _, v := range vs.Sorted() {
		if v.Err != nil {
			failed = append(failed, fmt.Sprintf("broker %d: %v", v.NodeID, v.Err))
			continue
		}
		versions = append(versions, fmt.Sprintf("broker %d %s", v.NodeID, v.VersionGuess()))
		// Exactly once needs offsets committed in a transaction with the
		// group's generation (KIP-447: TxnOffsetCommit v3, Kafka 2.5).
		if max, ok := v.KeyMaxVersion(kmsg.TxnOffsetCommit.Int16()); !ok || max < 3 {
			old = append(old, fmt.Sprintf("broker %d (%s)", v.NodeID, v.VersionGuess()))
		}
	}
	if len(failed) > 0 {
		r.Message = fmt.Sprintf("%d of %d brokers do not answer: %s", len(failed), len(vs), strings.Join(failed, "; "))
		r.Fix = "check the brokers named, and that their advertised listeners are reachable from here"
		return r
	}
	if len(old) > 0 {
		r.Message = fmt.Sprintf("%s too old: accrue's exactly-once transactions need Kafka 2.5 or later (KIP-447)",
			strings.Join(old, ", "))
		r.Fix = "upgrade the brokers to Kafka 2.5 or later (accrue is tested on 4.1)"
		return r
	}
	r.OK = true
	r.Message = fmt.Sprintf("%d broker(s) reachable at %s: %s", len(vs), strings.Join(c.Brokers, ","), strings.Join(versions, ", "))
	return r
}

func checkTopics(ctx context.Context, c Config, adm *kadm.Client, details kadm.TopicDetails) []Result {
	var out []Result
	var present, missing []string
	want := map[string]bool{}
	counts := map[int]int{} // partition count → topics of the catalogue with it
	for _, t := range c.Topics {
		d, ok := details[t.Name]
		if !ok || d.Err != nil {
			missing = append(missing, t.Name)
			continue
		}
		present = append(present, t.Name)
		want[t.Name] = t.Compacted
		counts[len(d.Partitions)]++
	}
	if len(missing) > 0 {
		// Missing topics are created with the count the others have, so
		// that co-partitioned topics agree.
		n, most := 0, 0
		for p, k := range counts {
			if k > most || k == most && p > n {
				n, most = p, k
			}
		}
		fix := "accrue topics create --partitions N (N: the partitions you sized for, docs/operations.md \"Sizing\")"
		if n > 0 {
			fix = fmt.Sprintf("accrue topics create --partitions %d (the count of the existing topics)", n)
		}
		out = append(out, Result{Check: "topics",
			Message: fmt.Sprintf("%d of the catalogue's %d topics missing: %s", len(missing), len(c.Topics), strings.Join(missing, ", ")),
			Fix:     fix})
	}
	if len(present) > 0 {
		rcs, err := adm.DescribeTopicConfigs(ctx, present...)
		if err != nil {
			return append(out, Result{Check: "topics", Message: "cannot read the topics' configs: " + err.Error(),
				Fix: "check that this client may describe topic configs (ACLs)"})
		}
		for _, rc := range rcs {
			if rc.Err != nil {
				out = append(out, Result{Check: "topic " + rc.Name, Message: "cannot read its config: " + rc.Err.Error(),
					Fix: "check that this client may describe topic configs (ACLs)"})
				continue
			}
			policy := "delete"
			for _, cfg := range rc.Configs {
				if cfg.Key == "cleanup.policy" && cfg.Value != nil {
					policy = *cfg.Value
				}
			}
			compacted := strings.Contains(policy, "compact")
			switch {
			case want[rc.Name] && !compacted:
				out = append(out, Result{Check: "topic " + rc.Name,
					Message: fmt.Sprintf("cleanup.policy is %q, but it must be compacted: a state changelog or table whose old records are deleted by retention loses state", policy),
					Fix:     fmt.Sprintf("kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config cleanup.policy=compact", rc.Name)})
			case !want[rc.Name] && compacted:
				out = append(out, Result{Check: "topic " + rc.Name,
					Message: fmt.Sprintf("cleanup.policy is %q, but it carries events: compaction keeps only the last per key", policy),
					Fix:     fmt.Sprintf("kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config cleanup.policy=delete", rc.Name)})
			}
		}
	}
	if len(out) == 0 {
		return []Result{{Check: "topics", OK: true,
			Message: fmt.Sprintf("all %d topics of the catalogue exist with their cleanup policy", len(c.Topics))}}
	}
	return out
}

func checkCoPartitioning(c Config, details kadm.TopicDetails) []Result {
	var out []Result
	for _, g := range c.Groups {
		r := Result{Check: "co-partitioning " + g.Stage}
		counts := map[int][]string{}
		var missing []string
		for _, t := range g.Topics {
			d, ok := details[t]
			if !ok || d.Err != nil {
				missing = append(missing, t)
				continue
			}
			n := len(d.Partitions)
			counts[n] = append(counts[n], t)
		}
		switch {
		case len(missing) > 0:
			r.Skipped = true
			r.Message = "not checked: missing " + strings.Join(missing, ", ")
		case len(counts) == 1:
			r.OK = true
			for n := range counts {
				r.Message = fmt.Sprintf("%s: %d partitions each", strings.Join(g.Topics, ", "), n)
			}
		default:
			// The largest count is the one to reach: partitions can be
			// added, never removed.
			ns := make([]int, 0, len(counts))
			for n := range counts {
				ns = append(ns, n)
			}
			sort.Sort(sort.Reverse(sort.IntSlice(ns)))
			var parts, fix []string
			for _, n := range ns {
				parts = append(parts, fmt.Sprintf("%s %d", strings.Join(counts[n], ", "), n))
			}
			for _, n := range ns[1:] {
				for _, t := range counts[n] {
					fix = append(fix, fmt.Sprintf("kafka-topics.sh --alter --topic %s --partitions %d", t, ns[0]))
				}
			}
			r.Message = fmt.Sprintf("the topics stage %s reads together have different partition counts (%s): the stage refuses to start",
				g.Stage, strings.Join(parts, "; "))
			r.Fix = "stop the stage, " + strings.Join(fix, "; ") +
				" (keys move to new partitions: read docs/operations.md, \"Adding partitions\", first)"
		}
		out = append(out, r)
	}
	return out
}

func checkLag(ctx context.Context, c Config, adm *kadm.Client) []Result {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	lags, err := adm.Lag(ctx, c.LagGroups...)
	if err != nil && len(lags) == 0 {
		return []Result{{Check: "lag", Message: "cannot read the consumer groups' lag: " + err.Error(),
			Fix: "check that this client may describe groups (ACLs)"}}
	}
	var out []Result
	for _, name := range c.LagGroups {
		r := Result{Check: "lag " + name}
		l, ok := lags[name]
		switch {
		case !ok || errors.Is(l.Error(), context.DeadlineExceeded):
			r.Skipped, r.Message = true, "no answer for this group"
		case errors.Is(l.Error(), kerr.GroupIDNotFound) || (l.Error() == nil && (l.State == "Dead" || (len(l.Members) == 0 && len(l.Lag) == 0))):
			r.OK, r.Message = true, "no such group (stage not deployed)"
		case l.Error() != nil:
			r.Skipped, r.Message = true, "not read: "+l.Error().Error()
		default:
			total := l.Lag.Total()
			r.OK = c.MaxLag <= 0 || total <= c.MaxLag
			r.Message = fmt.Sprintf("%d records behind, %d member(s), state %s", total, len(l.Members), l.State)
			if !r.OK {
				r.Message += fmt.Sprintf(" (more than --max-lag %d)", c.MaxLag)
				r.Fix = "add instances of the stage, up to its input's partition count (docs/operations.md, \"Scaling a stage\")"
			}
			if len(l.Members) == 0 && total > 0 && r.OK {
				r.Message += "; no instance is running"
			}
		}
		out = append(out, r)
	}
	return out
}

func checkClickHouse(ctx context.Context, c Config) []Result {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	o := *c.ClickHouse
	if o.DialTimeout == 0 {
		o.DialTimeout = c.Timeout
	}
	db := o.Database
	if db == "" {
		db = clickhouse.DefaultDatabase
	}
	reach := Result{Check: "clickhouse"}
	res, err := clickhouse.Migrate(ctx, o, c.Migrations, clickhouse.MigrateOptions{DryRun: true})
	if res.Capabilities.Version == "" {
		reach.Message = fmt.Sprintf("cannot reach ClickHouse at %s: %v", strings.Join(o.Addr, ","), err)
		reach.Fix = "start ClickHouse or correct --clickhouse-addr (env ACCRUE_CLICKHOUSE_ADDR) and its user and password; locally: deploy/local/stack.sh up clickhouse"
		return []Result{reach, {Check: "clickhouse schema", Skipped: true, Message: "ClickHouse is not reachable"}}
	}
	reach.OK = true
	reach.Message = fmt.Sprintf("reachable at %s, version %s", strings.Join(o.Addr, ","), res.Capabilities.Version)
	schema := Result{Check: "clickhouse schema"}
	migrate := "accrue clickhouse migrate --database " + db
	switch {
	case err != nil && strings.Contains(err.Error(), "changed after they were applied"):
		schema.Message = err.Error()
		schema.Fix = "restore the migration files as they were applied (an edit never reaches the database); put the change in a new migration, then " + migrate
	case err != nil:
		schema.Message = "cannot read the migrations applied: " + err.Error()
		schema.Fix = "check the ClickHouse user's rights on database " + db
	case len(res.Applied) > 0:
		names := make([]string, len(res.Applied))
		for i, m := range res.Applied {
			names[i] = m.Name
		}
		at := "no migration applied"
		if n := len(res.Present); n > 0 {
			at = "at " + res.Present[n-1].Name
		}
		schema.Message = fmt.Sprintf("database %s is behind this binary: %s; %d pending: %s",
			db, at, len(names), strings.Join(names, ", "))
		schema.Fix = migrate
	default:
		schema.OK = true
		last := "none"
		if n := len(res.Present); n > 0 {
			last = res.Present[n-1].Name
		}
		schema.Message = fmt.Sprintf("database %s has all %d migrations of this binary (last %s)", db, len(res.Present), last)
		if newer, err := newerMigrations(ctx, o, c.Migrations); err == nil && len(newer) > 0 {
			// Migrations only add, so an older binary still runs; worth
			// knowing during a rollback.
			schema.Message += fmt.Sprintf(", and %d newer than this binary (%s): the binary is older than the schema",
				len(newer), strings.Join(newer, ", "))
		}
	}
	return []Result{reach, schema}
}

// newerMigrations names the migrations recorded in the database that ms
// does not have.
func newerMigrations(ctx context.Context, o clickhouse.Options, ms []clickhouse.Migration) ([]string, error) {
	conn, err := o.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	known := map[uint32]bool{}
	for _, m := range ms {
		known[uint32(m.Version)] = true
	}
	rows, err := conn.Query(ctx, "SELECT version, name FROM "+clickhouse.MigrationsTable+" FINAL ORDER BY version")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v uint32
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			return nil, err
		}
		if !known[v] {
			out = append(out, name)
		}
	}
	return out, rows.Err()
}
