package clickhouse

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// TestSinkKilledMidBatch runs `accrue sink clickhouse` as a real process
// and kills it with SIGKILL at random moments while records keep arriving:
// batches inserted and not yet committed are written again by the next
// process. Afterwards every report must hold each record exactly once and
// every sum exactly, and the processes' logs must show that records were
// indeed written more than once.
func TestSinkKilledMidBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes against Kafka and ClickHouse; not in -short")
	}
	brokers := pt.RealBrokers(t)
	o, conn := migrated(t)
	tt := newTestTopics(t, brokers, 3)
	bin := pt.AccrueBinary(t)
	logDir := t.TempDir()
	// Offsets are committed far less often than the kills come, so each
	// killed process leaves acknowledged batches uncommitted and its
	// successor writes them again: the replays are certain, not a matter
	// of where a kill happens to land.
	start := func(n int) *pt.Proc {
		return pt.StartProc(t, bin, logDir, "sink-"+strconv.Itoa(n), "--brokers", brokers[0], "--log-level", "debug",
			"sink", "clickhouse", "--topics", tt.specs(), "--group", "chsink-crash-"+tt.clean,
			"--clickhouse-addr", o.Addr[0], "--database", o.Database, "--admin-addr", "",
			"--batch-rows", "2000", "--batch-interval", "200ms", "--commit-interval", "10s", "--session-timeout", "6s")
	}

	const records = 20_000 // sales; with credits and dead letters about 49,000 records
	want := newExpected()
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		produce(t, brokers, tt, 0, records, want, 250*time.Millisecond) // about 10s
	}()

	p := start(0)
	const kills = 4
	for k := 1; k <= kills; k++ {
		time.Sleep(1500*time.Millisecond + rand.N(1500*time.Millisecond))
		if !p.Alive() {
			p.Died()
		}
		p.Kill()
		p = start(k)
	}
	<-produced
	waitRows(t, conn, want, 4*time.Minute)
	if out := p.Stop(); len(out) != 0 {
		t.Logf("last sink printed %q", out)
	}
	checkReports(t, conn, want)

	// The logs of all processes: records acknowledged by ClickHouse, over
	// all runs, exceed what was produced: the repeats the kills caused.
	written := 0
	ack := regexp.MustCompile(`msg="batch acknowledged" .*records=(\d+)`)
	logs, _ := filepath.Glob(filepath.Join(logDir, "*.log"))
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ack.FindAllSubmatch(b, -1) {
			n, _ := strconv.Atoi(string(m[1]))
			written += n
		}
	}
	total := want.events + want.credits + want.rejects
	raw := count(t, conn, "SELECT count() FROM sales") + count(t, conn, "SELECT count() FROM credits") + count(t, conn, "SELECT count() FROM rejects")
	t.Logf("%d records produced; %d written over %d processes (%d repeated); %d rows before merges collapse repeats",
		total, written, kills+1, written-total, raw)
	if written <= total {
		t.Errorf("the kills caused no repeated writes (%d written, %d produced): the test did not test replays", written, total)
	}
}
