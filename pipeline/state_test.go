package pipeline

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestPartitionStateCommitAndRollback(t *testing.T) {
	p := newPartitionState[int64]()
	p.committed["a"] = 1
	p.committed["b"] = 2

	p.staged["a"] = pending[int64]{v: 10}
	p.staged["b"] = pending[int64]{deleted: true}
	p.staged["c"] = pending[int64]{v: 3}
	if v, ok := p.get("a"); !ok || v != 10 {
		t.Errorf("staged write not visible: %d %v", v, ok)
	}
	if _, ok := p.get("b"); ok {
		t.Error("staged delete not visible")
	}
	p.rollback()
	if v, _ := p.get("a"); v != 1 {
		t.Errorf("rollback kept a staged write: a=%d", v)
	}
	if _, ok := p.get("c"); ok {
		t.Error("rollback kept a staged insert")
	}

	p.staged["a"] = pending[int64]{v: 10}
	p.staged["b"] = pending[int64]{deleted: true}
	p.commit()
	if len(p.staged) != 0 || p.committed["a"] != 10 {
		t.Errorf("commit: staged=%v committed=%v", p.staged, p.committed)
	}
	if _, ok := p.committed["b"]; ok {
		t.Error("commit kept a deleted key")
	}
}

func TestInt64Codec(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 1 << 62, -1 << 63} {
		got, err := Int64Codec{}.Decode(Int64Codec{}.Encode(nil, v))
		if err != nil || got != v {
			t.Errorf("round trip %d: %d %v", v, got, err)
		}
	}
	if _, err := (Int64Codec{}).Decode([]byte{1, 2, 3}); err == nil {
		t.Error("short input accepted")
	}
}

func FuzzInt64CodecDecode(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Int64Codec{}.Decode(b)
		if err != nil {
			return
		}
		if string(Int64Codec{}.Encode(nil, v)) != string(b) {
			t.Fatalf("decode/encode of %x is not the identity", b)
		}
	})
}

func TestDeadLetterKeepsOriginalAndPlace(t *testing.T) {
	rec := &kgo.Record{Topic: "sales.raw", Partition: 3, Offset: 42, Key: []byte("k"), Value: []byte("{bad"),
		Headers: []kgo.RecordHeader{{Key: "source", Value: []byte("crm")}}}
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	dl := deadLetter("x.rejected", "ingest", rec, Rejectf("malformed_json", "amount", "unexpected end"), at)
	want := map[string]string{
		HeaderReason: "malformed_json", HeaderField: "amount", HeaderStage: "ingest",
		HeaderSourceTopic: "sales.raw", HeaderSourcePartition: "3", HeaderSourceOffset: "42",
		HeaderRejectedAt: "2026-11-03T10:00:00Z", "source": "crm",
		HeaderMessage: "malformed_json: field amount: unexpected end",
	}
	for k, v := range want {
		if got, _ := Header(dl, k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if dl.Topic != "x.rejected" || string(dl.Key) != "k" || string(dl.Value) != "{bad" {
		t.Errorf("dead letter %s %q %q", dl.Topic, dl.Key, dl.Value)
	}
	plain := deadLetter("x.rejected", "ingest", rec, errors.New("boom"), at)
	if got, _ := Header(plain, HeaderReason); got != ReasonProcessingFailed {
		t.Errorf("plain error reason %q", got)
	}
}

func TestAdminEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.Rejects("s", "r").Inc()
	var ready atomic.Bool
	a, err := NewAdmin("127.0.0.1:0", reg, ReadyCheck{Name: "stage s", Ready: ready.Load})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.Serve() }()
	defer func() { _ = a.Shutdown(t.Context()) }()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + a.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "stage s") {
		t.Errorf("/readyz before ready: %d %q", code, body)
	}
	ready.Store(true)
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz when ready: %d", code)
	}
	if _, body := get("/metrics"); !strings.Contains(body, `accrue_stage_rejects_total{reason="r",stage="s"} 1`) {
		t.Errorf("/metrics lacks the reject counter:\n%s", body)
	}
}
