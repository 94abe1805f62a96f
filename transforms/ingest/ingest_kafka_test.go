package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
)

// The sources of the integration test: a CRM sending JSON, a POS sending CSV
// files of 50 rows, an ERP's orders through Debezium.
var testConfigs = map[string]string{
	"crm": `source: crm
format: json
time: {layout: rfc3339}
type: {value: sale}
fields: {txn_id: id, event_time: at, rep_id: rep, amount: {value: amount, currency: cur}}
`,
	"pos": `source: pos
format: csv
csv: {delimiter: ",", header: true}
time: {layout: rfc3339}
type: {value: sale}
fields: {txn_id: id, event_time: at, rep_id: rep, amount.value: amount, amount.currency: cur}
`,
	"erp": `source: erp
format: debezium
time: {layout: rfc3339}
type: {field: status, map: {invoiced: sale}}
fields: {txn_id: order_no, event_time: invoiced_at, rep_id: sales_rep, amount: {value: net_total, currency: currency}}
`,
}

// expectation is what the stages must produce: the clean event ids, and the
// rejections per reason.
type expectation struct {
	clean    map[string]bool
	rejected map[string]int
	records  []*kgo.Record
}

func (x *expectation) reject(reason string) { x.rejected[reason]++ }

// generate builds n records per source, about 5% of them broken in varied
// ways, and 1% of the CRM's sent twice.
func generate(rng *rand.Rand, topics map[string]string, perSource int) *expectation {
	x := &expectation{clean: map[string]bool{}, rejected: map[string]int{}}
	at := func(i int) string {
		return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
	}
	amount := func() string { return fmt.Sprintf("%d.%02d", 10+rng.Intn(5000), rng.Intn(100)) }
	rep := func() string { return "R-" + strconv.Itoa(rng.Intn(500)) }
	add := func(topic string, key, value string) {
		x.records = append(x.records, &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(value)})
	}

	// CRM: one JSON object a record.
	for i := 0; i < perSource; i++ {
		id := "C-" + strconv.Itoa(i)
		r := rep()
		v := fmt.Sprintf(`{"id":%q,"at":%q,"rep":%q,"amount":%q,"cur":"USD"}`, id, at(i), r, amount())
		switch rng.Intn(100) {
		case 0:
			v = v[:len(v)/2]
			x.reject("malformed_json")
		case 1:
			v = strings.Replace(v, `"rep":"`+r+`",`, "", 1)
			x.reject("missing_field")
		case 2:
			v = strings.Replace(v, `"amount":"`, `"amount":"x`, 1)
			x.reject("invalid_field")
		case 3:
			v = strings.Replace(v, `"cur":"USD"`, `"cur":"XYZ"`, 1)
			x.reject("unknown_currency")
		case 4:
			v = strings.Replace(v, `"amount":"`, `"amount":"-`, 1)
			x.reject("invalid_field")
		default:
			x.clean["crm:"+id+":sale"] = true
			if rng.Intn(100) == 0 {
				add(topics["crm"], r, v) // a second copy
				x.reject("duplicate")
			}
		}
		add(topics["crm"], r, v)
	}

	// POS: CSV files of 50 rows, each with its header.
	var b strings.Builder
	flush := func(i int) {
		if b.Len() > 0 {
			add(topics["pos"], "store-"+strconv.Itoa(i%7), "id,at,rep,amount,cur\n"+b.String())
			b.Reset()
		}
	}
	for i := 0; i < perSource; i++ {
		id := "P-" + strconv.Itoa(i)
		row := fmt.Sprintf("%s,%s,%s,%s,EUR\n", id, at(i), rep(), amount())
		switch rng.Intn(100) {
		case 0:
			row = fmt.Sprintf("%s,%s,%s,%s\n", id, at(i), rep(), amount()) // a column short
			x.reject("malformed_csv")
		case 1:
			row = fmt.Sprintf(",%s,%s,%s,EUR\n", at(i), rep(), amount())
			x.reject("missing_field")
		case 2:
			row = fmt.Sprintf("%s,yesterday,%s,%s,EUR\n", id, rep(), amount())
			x.reject("invalid_field")
		case 3, 4:
			row = fmt.Sprintf("%s,%s,%s,12.5.1,EUR\n", id, at(i), rep())
			x.reject("invalid_field")
		default:
			x.clean["pos:"+id+":sale"] = true
		}
		b.WriteString(row)
		if i%50 == 49 {
			flush(i)
		}
	}
	flush(perSource)

	// ERP: Debezium change events of the orders table.
	for i := 0; i < perSource; i++ {
		id := "SO-" + strconv.Itoa(i)
		after := fmt.Sprintf(`{"order_no":%q,"status":"invoiced","sales_rep":%q,"net_total":%q,"currency":"EUR","invoiced_at":%q}`,
			id, rep(), amount(), at(i))
		env := `{"before":null,"after":` + after + `,"source":{"ts_ms":1796083260000},"op":"c"}`
		switch rng.Intn(100) {
		case 0:
			env = `{"before":null,"op":"c","source":{"ts_ms":1796083260000}}`
			x.reject("malformed_cdc")
		case 1:
			env = strings.Replace(env, `"invoiced"`, `"on_hold"`, 1)
			x.reject("unmapped_type")
		case 2:
			env = env[:len(env)-3]
			x.reject("malformed_json")
		case 3, 4:
			env = strings.Replace(env, `"net_total":"`, `"net_total":"1e`, 1)
			x.reject("invalid_field")
		default:
			x.clean["erp:"+id+":sale"] = true
		}
		add(topics["erp"], id, env)
	}
	rng.Shuffle(len(x.records), func(i, j int) { x.records[i], x.records[j] = x.records[j], x.records[i] })
	return x
}

func TestIngestExactlyOnceAcrossKills(t *testing.T) {
	if testing.Short() {
		t.Skip("runs stage processes against a real broker")
	}
	brokers := pt.RealBrokers(t)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	sfx := strconv.FormatInt(seed, 36)
	dir := t.TempDir()
	t.Logf("seed %d; logs in %s", seed, dir)

	topics := map[string]string{}
	var ingestArgs []string
	for name, cfg := range testConfigs {
		topics[name] = "raw-" + name + "-" + sfx
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		ingestArgs = append(ingestArgs, "--source", topics[name]+"="+path)
	}
	canonicalT, cleanT, rejectedT := "canonical-"+sfx, "clean-"+sfx, "rejected-"+sfx
	ingestName, dedupeName := "ingest-"+sfx, "dedupe-"+sfx
	pt.CreateTopics(t, brokers, 6, []string{topics["crm"], topics["pos"], topics["erp"], canonicalT, cleanT, rejectedT},
		dedupeName+".changelog")

	x := generate(rng, topics, 33_334)
	t.Logf("%d Kafka records; %d clean events and %v rejections expected", len(x.records), len(x.clean), x.rejected)

	bin := pt.AccrueBinary(t)
	common := []string{"--brokers", brokers[0], "--log-level", "info"}
	startIngest := func() *pt.Proc {
		args := append(append(append([]string{}, common...), "stage", "ingest", "--name", ingestName,
			"--output", canonicalT, "--dead-letter", rejectedT, "--instance-id", "i1", "--admin-addr", "",
			"--session-timeout", "6s", "--transaction-timeout", "10s", "--max-poll-records", "2000"), ingestArgs...)
		return pt.StartProc(t, bin, dir, "ingest", args...)
	}
	startDedupe := func() *pt.Proc {
		return pt.StartProc(t, bin, dir, "dedupe", append(append([]string{}, common...), "stage", "dedupe",
			"--name", dedupeName, "--input", canonicalT, "--output", cleanT, "--dead-letter", rejectedT,
			"--instance-id", "d1", "--admin-addr", "", "--session-timeout", "6s", "--transaction-timeout", "10s",
			"--max-poll-records", "2000")...)
	}

	// Input arrives over about 15s while the stages are killed.
	go func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MaxBufferedRecords(50_000))
		if err != nil {
			t.Error(err)
			return
		}
		defer cl.Close()
		ctx := context.Background()
		for i, r := range x.records {
			cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce: %v", err)
				}
			})
			if i%2000 == 1999 {
				time.Sleep(300 * time.Millisecond)
			}
		}
		if err := cl.Flush(ctx); err != nil {
			t.Error(err)
		}
	}()

	ing, ded := startIngest(), startDedupe()
	for k := 0; k < 3; k++ {
		time.Sleep(time.Duration(1500+rng.Intn(2500)) * time.Millisecond)
		if !ing.Alive() {
			ing.Died()
		}
		ing.Kill()
		ing = startIngest()
		if k == 1 {
			if !ded.Alive() {
				ded.Died()
			}
			ded.Kill()
			ded = startDedupe()
		}
	}

	wantRejected := 0
	for _, n := range x.rejected {
		wantRejected += n
	}
	deadline := time.Now().Add(4 * time.Minute)
	var clean, rejected []*kgo.Record
	for {
		var err error
		if clean, err = pt.ReadTopic(context.Background(), brokers, cleanT); err != nil {
			t.Fatal(err)
		}
		if rejected, err = pt.ReadTopic(context.Background(), brokers, rejectedT); err != nil {
			t.Fatal(err)
		}
		if len(clean) >= len(x.clean) && len(rejected) >= wantRejected {
			break
		}
		for _, p := range []*pt.Proc{ing, ded} {
			if !p.Alive() {
				p.Died()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 4 minutes: %d of %d clean, %d of %d rejected", len(clean), len(x.clean), len(rejected), wantRejected)
		}
		time.Sleep(time.Second)
	}
	ing.Stop()
	ded.Stop()
	if clean, rejected = pt.ReadAll(t, brokers, cleanT), pt.ReadAll(t, brokers, rejectedT); len(clean) != len(x.clean) || len(rejected) != wantRejected {
		t.Fatalf("after the stages stopped: %d clean (want %d), %d rejected (want %d)", len(clean), len(x.clean), len(rejected), wantRejected)
	}

	seen := map[string]bool{}
	for _, r := range clean {
		var ev struct {
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatalf("clean record is not an event: %v", err)
		}
		if seen[ev.EventID] {
			t.Errorf("event %s is clean twice", ev.EventID)
		}
		seen[ev.EventID] = true
		if !x.clean[ev.EventID] {
			t.Errorf("event %s is clean but was not expected to be", ev.EventID)
		}
	}
	got := map[string]int{}
	for _, r := range rejected {
		reason, _ := pipeline.Header(r, pipeline.HeaderReason)
		got[reason]++
		if src, _ := pipeline.Header(r, pipeline.HeaderSourceTopic); src == "" {
			t.Errorf("rejection without its source topic: %s", reason)
		}
	}
	for reason, n := range x.rejected {
		if got[reason] != n {
			t.Errorf("rejected %s: %d, want %d", reason, got[reason], n)
		}
	}
	for reason, n := range got {
		if _, ok := x.rejected[reason]; !ok {
			t.Errorf("unexpected rejections %s: %d", reason, n)
		}
	}
	t.Logf("clean %d, rejected %v", len(clean), got)
}
