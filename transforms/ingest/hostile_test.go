package ingest_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/examples"
	"github.com/accrue/accrue/connectors/mapping"
	"github.com/accrue/accrue/pipeline"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/ingest"
)

// hostile is one record built to break a reader: what it is, the source
// it comes from, its bytes, and what must become of it: a dead letter
// with reason and field, or (reason "") an event with event_time at (when
// set).
type hostile struct {
	name, source string
	raw          string
	reason       string
	field        string
	at           string
	// lines is how many records the bytes are (0: one): a raw newline
	// inside a JSON string makes the record invalid JSON, framed as
	// NDJSON lines, each refused.
	lines int
}

const (
	crmGood = `{"opportunity": {"id": "OPP-1"}, "stage": "closed_won", "closed_at": "2026-11-02T10:07:00-05:00", "owner": {"employee_id": "E-1022"}, "account": {"id": "ACC-301"}, "primary_product": {"sku": "SKU-CRM-ENT", "quantity": "2"}, "amount": "1137.01", "currency": "USD"}`
	posHead = "receipt_no;kind;original_receipt;sold_at;cashier;sku;qty;total;currency;store;note\n"
	posGood = "B-1;SALE;;09.11.2026 17:53;K-07;4006381333931;2;12,07;EUR;München-Pasing;"
	erpGood = `{"before": null, "after": {"id": 1, "order_no": "SO-1", "status": "invoiced", "customer_id": "A-1", "sales_rep": "R-17", "main_item": "P-1", "net_total": "1250.00", "gross_margin": "300.00", "currency": "EUR", "warehouse": "MUC", "invoiced_at": "2026-11-02T10:01:00.000000Z"}, "source": {"ts_ms": 1796083260000}, "op": "c", "ts_ms": 1796083260120}`
)

func hostiles() []hostile {
	crm := func(name, old, new, reason, field string) hostile {
		return hostile{name: name, source: "crm", raw: strings.Replace(crmGood, old, new, 1), reason: reason, field: field}
	}
	pos := func(name, old, new, reason, field string) hostile {
		return hostile{name: name, source: "pos", raw: posHead + strings.Replace(posGood, old, new, 1), reason: reason, field: field}
	}
	erp := func(name, old, new, reason, field string) hostile {
		return hostile{name: name, source: "erp", raw: strings.Replace(erpGood, old, new, 1), reason: reason, field: field}
	}
	const bad, malformed = mapping.ReasonInvalidField, mapping.ReasonMalformedJSON
	hs := []hostile{
		// Size and nesting.
		{name: "nested 100,000 deep", source: "crm", raw: strings.Repeat(`{"a":`, 100_000) + "1" + strings.Repeat("}", 100_000), reason: malformed},
		crm("nested 5,000 deep where a value belongs", `{"id": "ACC-301"}`, strings.Repeat(`{"id":`, 5000)+`"x"`+strings.Repeat("}", 5000), malformed, ""),
		crm("a 2 MiB id", `"OPP-1"`, `"OPP-`+strings.Repeat("x", 2<<20)+`"`, bad, "txn_id"),
		crm("a 2 MiB field nobody maps", `"currency": "USD"`, `"currency": "USD", "notes": "`+strings.Repeat("x", 2<<20)+`"`, "", ""),
		// Invalid UTF-8 and control characters.
		crm("an id that is not UTF-8", "OPP-1", "OPP-\xff\xfe", bad, "txn_id"),
		pos("a cashier that is not UTF-8", "K-07", "K-\xff", bad, "rep_id"),
		erp("an order number that is not UTF-8", "SO-1", "SO-\xc3", bad, "txn_id"),
		{name: "a rep id with a raw newline", source: "crm", raw: strings.Replace(crmGood, `"E-1022"`, "\"E-10\n22\"", 1), reason: malformed, lines: 2},
		crm("a rep id with an escaped newline", `"E-1022"`, `"E-10\n22"`, bad, "rep_id"),
		crm("a rep id with an escaped backslash", `"E-1022"`, `"E-10\\n22"`, "", ""),
		// Numbers.
		crm("an amount of 401 digits", `"1137.01"`, `"1`+strings.Repeat("0", 400)+`"`, bad, "amount.value"),
		crm("an amount of 401 digits, a JSON number", `"1137.01"`, `1`+strings.Repeat("0", 400), bad, "amount.value"),
		pos("a total of 500 nines", "12,07", strings.Repeat("9", 500), bad, "amount.value"),
		crm("NaN", `"1137.01"`, `"NaN"`, bad, "amount.value"),
		crm("Infinity", `"1137.01"`, `"Infinity"`, bad, "amount.value"),
		crm("NaN, a bare word", `"1137.01"`, `NaN`, bad, "amount.value"),
		crm("exponent notation", `"1137.01"`, `"1.13701e3"`, bad, "amount.value"),
		crm("exponent notation, a JSON number", `"1137.01"`, `1.13701e3`, bad, "amount.value"),
		crm("a quantity of 1e9999999", `"quantity": "2"`, `"quantity": "1e9999999"`, bad, "quantity"),
		pos("a quantity in exponent notation", ";2;", ";1e3;", bad, "quantity"),
		erp("a net total in exponent notation", `"1250.00"`, `"1.25e3"`, bad, "amount.value"),
		crm("a negative amount on a sale", `"1137.01"`, `"-5"`, bad, "amount.value"),
		// Duplicate keys.
		crm("the amount twice", `"amount": "1137.01"`, `"amount": "1137.01", "amount": "9999999.00"`, malformed, "amount"),
		crm("the owner twice", `"owner": {"employee_id": "E-1022"}`, `"owner": {"employee_id": "E-1022"}, "owner": {"employee_id": "E-1"}`, malformed, "owner.employee_id"),
		crm("a key nobody maps twice", `"currency": "USD"`, `"currency": "USD", "x": 1, "x": 2`, "", ""),
		erp("the net total twice", `"net_total": "1250.00"`, `"net_total": "1250.00", "net_total": "1.00"`, malformed, "net_total"),
		erp("the status twice", `"status": "invoiced"`, `"status": "draft", "status": "invoiced"`, malformed, "status"),
		erp("the envelope's op twice", `"op": "c"`, `"op": "d", "op": "c"`, malformed, "op"),
		// Time zones and calendars.
		crm("no offset, and the source has no zone", `"2026-11-02T10:07:00-05:00"`, `"2026-11-02T10:07:00"`, bad, "event_time"),
		crm("offset +25:00", `-05:00"`, `+25:00"`, bad, "event_time"),
		crm("29 February 2026", `"2026-11-02T10:07:00-05:00"`, `"2026-02-29T10:07:00Z"`, bad, "event_time"),
		crm("hour 24", `"2026-11-02T10:07:00-05:00"`, `"2026-11-02T24:00:00Z"`, bad, "event_time"),
		pos("a till time the clocks skip (Berlin, spring forward)", "09.11.2026 17:53", "29.03.2026 02:30", bad, "event_time"),
		// Malformed framing.
		pos("a bare quote", "K-07", `K"07`, mapping.ReasonMalformedCSV, ""),
		pos("two cells too many", "EUR;", "EUR;x;y;", mapping.ReasonMalformedCSV, ""),
		erp("an op with no row", `"op": "c"`, `"op": "t"`, mapping.ReasonMalformedCDC, ""),
	}
	// What is not hostile, only unusual, is read, and read one way.
	hs = append(hs,
		hostile{name: "offset +14:00", source: "crm", raw: strings.Replace(crmGood, "-05:00", "+14:00", 1), at: "2026-11-01T20:07:00Z"},
		hostile{name: "a till time shown twice (Berlin, fall back) is the earlier", source: "pos",
			raw: posHead + strings.Replace(posGood, "09.11.2026 17:53", "25.10.2026 02:30", 1), at: "2026-10-25T00:30:00Z"},
		hostile{name: "a till time the day after", source: "pos",
			raw: posHead + strings.Replace(posGood, "09.11.2026 17:53", "30.03.2026 02:30", 1), at: "2026-03-30T00:30:00Z"},
	)
	return hs
}

func examplePipelines(t *testing.T) map[string]*ingest.Pipeline {
	t.Helper()
	out := map[string]*ingest.Pipeline{}
	for src, name := range map[string]string{"crm": examples.CRM, "pos": examples.POS, "erp": examples.ERP} {
		b, err := examples.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := mapping.Parse(b, name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mapping.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		out[src] = &ingest.Pipeline{Mapper: m}
	}
	return out
}

// TestHostileInput feeds records built to break a reader (nesting, size,
// invalid UTF-8, numbers that overflow or are not numbers, duplicate
// keys, times that do not exist) through the example sources' mappings:
// each is refused with its reason and field, on its line, or read the one
// way documented; none panics.
func TestHostileInput(t *testing.T) {
	pls := examplePipelines(t)
	now := time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)
	for _, h := range hostiles() {
		t.Run(h.name, func(t *testing.T) {
			var got []ingest.Result
			pls[h.source].Run([]byte(h.raw), now, func(r ingest.Result) { got = append(got, r) })
			if len(got) != max(h.lines, 1) {
				t.Fatalf("%d outcomes, want %d", len(got), max(h.lines, 1))
			}
			r := got[0]
			switch {
			case h.reason == "" && r.Reject != nil:
				t.Fatalf("refused: %v", r.Reject)
			case h.reason == "" && h.at != "":
				if at := r.Event.EventTime.Format(time.RFC3339); at != h.at {
					t.Errorf("event_time %s, want %s", at, h.at)
				}
			case h.reason == "":
			case r.Reject == nil:
				t.Fatalf("accepted (%+v), want %s on %q", r.Event, h.reason, h.field)
			case r.Reject.Reason != h.reason || r.Reject.Field != h.field:
				t.Fatalf("refused %s on %q, want %s on %q: %v", r.Reject.Reason, r.Reject.Field, h.reason, h.field, r.Reject)
			}
			if r.Reject != nil {
				if len(r.Reject.Error()) > 2000 {
					t.Errorf("a message of %d bytes: %.200s…", len(r.Reject.Error()), r.Reject.Error())
				}
				if want := 1 + strings.Count(posHead, "\n")*boolInt(h.source == "pos"); r.Line != want && h.lines == 0 {
					t.Errorf("line %d, want %d", r.Line, want)
				}
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestHostileInputStage runs the same records through the ingest stage,
// one Kafka record each, with a good record after each: every hostile
// record is in the dead-letter topic with its reason and original bytes,
// the rest come out, and the stage never stops.
func TestHostileInputStage(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake")
	}
	pls := examplePipelines(t)
	_, brokers := pt.Fake(t, kfakeMaxBytes())
	topics := map[string]*ingest.Pipeline{}
	for src, pl := range pls {
		topics["raw."+src] = pl
	}
	pt.CreateTopics(t, brokers, 1, []string{"raw.crm", "raw.pos", "raw.erp", "canonical", "ingest.rejected"})
	good := map[string]string{"crm": crmGood, "pos": posHead + posGood, "erp": erpGood}
	wantRejects, wantOut := map[string]int{}, 0
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerBatchMaxBytes(8<<20), kgo.MaxBufferedBytes(64<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i, h := range hostiles() {
		if h.reason == "" {
			wantOut++
		} else {
			wantRejects[h.reason] += max(h.lines, 1)
		}
		// Each good record after a hostile one has a txn of its own.
		follow := strings.NewReplacer("OPP-1", "OPP-G"+strconv.Itoa(i), "B-1;", "B-G"+strconv.Itoa(i)+";", "SO-1", "SO-G"+strconv.Itoa(i)).Replace(good[h.source])
		for _, v := range []string{h.raw, follow} {
			if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "raw." + h.source, Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		wantOut++
	}
	now := func() time.Time { return time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC) }
	st, err := pipeline.NewStage[int64](pipeline.Config{
		Name: "ingest", Brokers: brokers, Inputs: []string{"raw.crm", "raw.pos", "raw.erp"}, DeadLetter: "ingest.rejected",
		InstanceID: "h", Stateless: true, Metrics: pipeline.NewMetrics(prometheus.NewRegistry()),
		ClientOpts: []kgo.Opt{kgo.ProducerBatchMaxBytes(8 << 20), kgo.FetchMaxPartitionBytes(16 << 20)},
	}, pipeline.Int64Codec{}, ingest.NewProcessor(topics, "canonical", now))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	total := 0
	for _, n := range wantRejects {
		total += n
	}
	pt.WaitFor(t, 60*time.Second, "every record out or dead-lettered", func() bool {
		select {
		case err := <-done:
			t.Fatalf("the stage stopped: %v", err)
		default:
		}
		return len(pt.ReadAll(t, brokers, "canonical")) >= wantOut && len(pt.ReadAll(t, brokers, "ingest.rejected")) >= total
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := len(pt.ReadAll(t, brokers, "canonical")); got != wantOut {
		t.Errorf("%d events out, want %d", got, wantOut)
	}
	gotRejects := map[string]int{}
	var raws []string
	for _, h := range hostiles() {
		if h.reason != "" {
			raws = append(raws, h.raw)
		}
	}
	isHostile := func(b []byte) bool {
		for _, raw := range raws {
			if strings.Contains(raw, string(b)) {
				return true
			}
		}
		return false
	}
	for _, r := range pt.ReadAll(t, brokers, "ingest.rejected") {
		reason, _ := pipeline.Header(r, pipeline.HeaderReason)
		gotRejects[reason]++
		if !isHostile(r.Value) {
			t.Errorf("a dead letter (%s) whose bytes are not a hostile record's: %.120q", reason, r.Value)
		}
	}
	for reason, n := range wantRejects {
		if gotRejects[reason] != n {
			t.Errorf("%d dead letters %s, want %d (all: %v)", gotRejects[reason], reason, n, gotRejects)
		}
	}
}

// kfakeMaxBytes lets the broker take the hostile test's 2 MiB records, as
// a source topic configured for large records would.
func kfakeMaxBytes() kfake.Opt {
	return kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(16 << 20)})
}
