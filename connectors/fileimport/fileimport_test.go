package fileimport

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/accrue/accrue/connectors/mapping"
	pt "github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/ingest"
)

func crmPipeline(t *testing.T) (*ingest.Pipeline, []byte) {
	t.Helper()
	cfg, err := mapping.Load("../examples/crm-opportunities.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := mapping.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := os.ReadFile("../examples/crm-opportunities.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	return &ingest.Pipeline{Mapper: m}, payload
}

// TestImportResumesAndNeverDuplicates cuts an import short after its first
// transaction, runs it again to the end, and runs it a third time: the raw
// topic and the dead-letter topic hold every record exactly once.
func TestImportResumesAndNeverDuplicates(t *testing.T) {
	_, brokers := pt.Fake(t)
	pt.CreateTopics(t, brokers, 3, []string{"raw.crm", "sales.rejected"}, ProgressTopic)
	pl, payload := crmPipeline(t)
	cfg := Config{Brokers: brokers, Topic: "raw.crm", Pipeline: pl, BatchSize: 10}

	ctx, cancel := context.WithCancel(context.Background())
	cut := cfg
	cut.Progress = func(done, total int) { cancel() } // stop after the first commit
	res, err := Run(ctx, cut, "crm.ndjson", payload)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("the cut run ended with %v, want context canceled", err)
	}
	if res.Done != 0 && res.Done != 10 {
		t.Fatalf("the cut run reports %d done", res.Done)
	}

	res, err = Run(context.Background(), cfg, "crm.ndjson", payload)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed != 10 || !res.Finished || res.Total != 30 || res.Accepted != 22 || res.Skipped != 2 {
		t.Fatalf("second run: %+v", res)
	}
	if n := res.Rejected["invalid_field"] + res.Rejected["malformed_json"] + res.Rejected["missing_field"] + res.Rejected["unmapped_type"]; n != 6 {
		t.Errorf("rejected %v, want 6 in all", res.Rejected)
	}

	res, err = Run(context.Background(), cfg, "renamed.ndjson", payload)
	if err != nil || res.Resumed != 30 || !res.Finished {
		t.Fatalf("third run: %+v %v", res, err)
	}
	if raw := pt.ReadAll(t, brokers, "raw.crm"); len(raw) != 22 {
		t.Errorf("%d records on the raw topic, want 22", len(raw))
	}
	if dl := pt.ReadAll(t, brokers, "sales.rejected"); len(dl) != 6 {
		t.Errorf("%d dead letters, want 6", len(dl))
	}
}
