package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// Topics are the topics and stage names of one run, all with a suffix of
// their own.
type Topics struct {
	Sfx, Ref                                      string
	Raw                                           map[string]string // by source
	Canonical, Clean, Credited, Rejected          string
	Ingest, Dedupe, Link, Accrue                  string // stage names
	Overrides, Recompute, AccrueRejected          string
	Accruals, Attainment, Nudges, Awards, Payable string
	Programs                                      string
	All                                           []string
}

// Stages are the names NewTopics gives the stages, in pipeline order.
func (tp *Topics) Stages() []string { return []string{tp.Ingest, tp.Dedupe, tp.Link, tp.Accrue} }

// Groups are the stages' consumer groups.
func (tp *Topics) Groups() []string {
	var gs []string
	for _, s := range tp.Stages() {
		gs = append(gs, "accrue-"+s)
	}
	return gs
}

// NewTopics creates the topics of a run, named prefix-…-suffix, four
// partitions each (reference data and programs one), and deletes them
// when the test ends.
func NewTopics(t testing.TB, brokers []string, prefix string) *Topics {
	t.Helper()
	sfx := strconv.FormatInt(time.Now().UnixNano(), 36)
	n := func(what string) string { return prefix + "-" + what + "-" + sfx }
	tp := &Topics{Sfx: sfx, Ref: prefix + "-ref-" + sfx + ".", Raw: map[string]string{},
		Canonical: n("canonical"), Clean: n("clean"), Credited: n("credited"), Rejected: n("rejected"),
		Ingest: "ingest-" + sfx, Dedupe: n("dedupe"), Link: n("link"), Accrue: n("accrue"),
		Overrides: n("overrides"), Recompute: n("recompute"), AccrueRejected: n("accrue-rejected"),
		Accruals: n("accruals"), Attainment: n("attainment"), Nudges: n("nudges"), Awards: n("awards"),
		Payable: n("payable"), Programs: n("programs")}
	plain := []string{tp.Canonical, tp.Clean, tp.Credited, tp.Rejected, tp.Overrides, tp.Recompute, tp.AccrueRejected,
		tp.Accruals, tp.Attainment, tp.Nudges, tp.Awards, tp.Payable}
	for _, s := range Sources {
		tp.Raw[s.name] = n("raw-" + s.name)
		plain = append(plain, tp.Raw[s.name])
	}
	changelogs := []string{tp.Dedupe + ".changelog", tp.Link + ".changelog", tp.Accrue + ".changelog"}
	var single []string
	for _, k := range []string{"reps", "products", "accounts", "fx", "identities"} {
		single = append(single, tp.Ref+k)
	}
	single = append(single, tp.Programs)
	tp.All = append(append(append([]string{}, plain...), changelogs...), single...)
	t.Cleanup(func() {
		adm := admin(brokers)
		if adm == nil {
			return
		}
		defer adm.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopics(ctx, tp.All...); err != nil {
			t.Logf("delete topics: %v", err)
		}
	})
	pt.CreateTopics(t, brokers, 4, plain, changelogs...)
	pt.CreateTopics(t, brokers, 1, nil, single...)
	return tp
}

// StageArgs are the arguments after `accrue stage` that run stage (one of
// Stages) on these topics, with the mappings of w's sources.
func (tp *Topics) StageArgs(w *World, stage string) []string {
	switch stage {
	case tp.Ingest:
		args := []string{"ingest", "--name", tp.Ingest, "--output", tp.Canonical, "--dead-letter", tp.Rejected}
		for _, s := range Sources {
			args = append(args, "--source", tp.Raw[s.name]+"="+w.Files[s.name+".yaml"])
		}
		return args
	case tp.Dedupe:
		return []string{"dedupe", "--name", tp.Dedupe, "--input", tp.Canonical, "--output", tp.Clean, "--dead-letter", tp.Rejected}
	case tp.Link:
		return []string{"link", "--name", tp.Link, "--input", tp.Clean, "--output", tp.Credited, "--dead-letter", tp.Rejected,
			"--ref-prefix", tp.Ref, "--park-deadline", "5s", "--tick", "500ms"}
	case tp.Accrue:
		return []string{"accrue", "--name", tp.Accrue, "--input", tp.Credited, "--overrides", tp.Overrides, "--recompute", tp.Recompute,
			"--dead-letter", tp.AccrueRejected, "--accruals", tp.Accruals, "--attainment", tp.Attainment, "--nudges", tp.Nudges,
			"--awards", tp.Awards, "--payable", tp.Payable, "--programs-topic", tp.Programs, "--ref-prefix", tp.Ref}
	}
	panic("e2e: no stage " + stage)
}

// SinkSpecs is the ClickHouse sink's --topics: every table the reports read.
func (tp *Topics) SinkSpecs() string {
	return tp.Clean + "=sales.clean," + tp.Credited + "=sales.credited," + tp.Rejected + "=sales.rejected," +
		tp.AccrueRejected + "=sales.rejected," + tp.Accruals + "=accruals," + tp.Attainment + "=attainment"
}

// Sunk are the topics the sink writes to ClickHouse.
func (tp *Topics) Sunk() []string {
	return []string{tp.Clean, tp.Credited, tp.Rejected, tp.AccrueRejected, tp.Accruals, tp.Attainment}
}

func admin(brokers []string) *kadm.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil
	}
	return kadm.NewClient(cl)
}

// EndOffsets is the sum of the end offsets of topic's partitions.
func EndOffsets(t testing.TB, brokers []string, topic string) int64 {
	t.Helper()
	adm := admin(brokers)
	if adm == nil {
		t.Fatal("no admin client")
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	offs.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// CommittedOffsets is the sum of group's committed offsets on topic.
func CommittedOffsets(t testing.TB, brokers []string, group, topic string) int64 {
	t.Helper()
	n, err := Committed(brokers, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Committed is CommittedOffsets returning an error rather than failing a
// test: while a broker restarts, asking is expected to fail.
func Committed(brokers []string, group, topic string) (int64, error) {
	adm := admin(brokers)
	if adm == nil {
		return 0, fmt.Errorf("no admin client")
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	var n int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.At > 0 {
			n += o.At
		}
	})
	return n, nil
}

// DeleteGroups deletes consumer groups, ignoring failures (a cleanup).
func DeleteGroups(brokers []string, groups ...string) {
	adm := admin(brokers)
	if adm == nil {
		return
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = adm.DeleteGroups(ctx, groups...)
}

// ProduceRaw writes raw records of the world to their sources' topics. It
// may run on a goroutine of its own.
func ProduceRaw(brokers []string, tp *Topics, raw []*kgo.Record) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(200000))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rs := make([]*kgo.Record, 0, len(raw))
	for _, r := range raw {
		rs = append(rs, &kgo.Record{Topic: tp.Raw[r.Topic], Key: r.Key, Value: r.Value})
	}
	return cl.ProduceSync(ctx, rs...).FirstErr()
}

// EnvInt is the positive number in the environment variable name, or def
// when it is not set.
func EnvInt(t testing.TB, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

// Publish loads w's reference data (`accrue ref load`) and publishes
// Programs (`accrue program publish`) on tp's topics with bin.
func Publish(t testing.TB, bin string, brokers []string, tp *Topics, w *World) {
	t.Helper()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--brokers", strings.Join(brokers, ","), "--log-level", "info"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("accrue %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, k := range []string{"reps", "products", "fx"} {
		run("ref", "load", "--kind", k, "-q", "--topic", tp.Ref+k, "--transactional-id", "ref-load-"+tp.Sfx, w.Files[k+".jsonl"])
	}
	run(append([]string{"program", "--topic", tp.Programs, "publish"}, Programs...)...)
}
