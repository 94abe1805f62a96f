package ingest_test

import (
	"os"
	"testing"

	"github.com/accrue/accrue/transforms/sanitize"
)

// TestExampleGateConfigCompiles keeps connectors/examples/gatekeepers/gate.yaml valid.
func TestExampleGateConfigCompiles(t *testing.T) {
	b, err := os.ReadFile("../../connectors/examples/gatekeepers/gate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := sanitize.ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sanitize.Compile(cfg); err != nil {
		t.Fatal(err)
	}
}
