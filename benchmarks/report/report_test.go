package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCompareAndWrite(t *testing.T) {
	r := New("t", "go test", map[string]any{"records": 100})
	r.Add(0, "ingest", "consume", 1000, time.Second)
	r.Add(0, "ingest", "ctp", 500, time.Second)
	r.Add(0, "ingest", "stage", 250, time.Second)
	r.Add(0, "link", "stage", 1, time.Second)
	r.Compare(0, "ingest", "consume", "ctp")
	if got := r.Results[2].Of; got["consume"] != 0.25 || got["ctp"] != 0.5 {
		t.Errorf("stage of baselines: %v", got)
	}
	if r.Results[0].Of != nil || r.Results[1].Of["consume"] != 0.5 || r.Results[3].Of != nil {
		t.Errorf("baselines or other stages compared: %v %v", r.Results[0].Of, r.Results[3].Of)
	}
	path, err := r.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || filepath.Base(path) != "t.json" {
		t.Fatal(path, err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || len(back.Results) != 4 || back.Machine.Cores == 0 {
		t.Fatalf("%v %+v", err, back)
	}
	var tb strings.Builder
	if err := r.Table(&tb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"of consume", "of ctp", "0.250", "records=100"} {
		if !strings.Contains(tb.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tb.String())
		}
	}
}
