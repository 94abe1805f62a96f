package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestDemoRunsEndToEnd runs the demo for a few seconds and checks that its
// final summary reports every exactly-once check passed.
func TestDemoRunsEndToEnd(t *testing.T) {
	var out bytes.Buffer
	f := &demoFlags{duration: 3 * time.Second, rate: 3000, seed: 7, adminAddr: "127.0.0.1:0"}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := runDemo(ctx, &out, f); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	final := s[strings.LastIndex(s, "final"):]
	if n := strings.Count(final, "✓"); n != 8 || strings.Contains(final, "✗") {
		t.Fatalf("final summary has %d passed checks, want 8 and no failure:\n%s", n, final)
	}
	for _, want := range []string{"crm-na", "erp-eu", "pos-apac", "sales.rejected", "duplicate", "txns",
		"sales.credited", "unknown_rep", "released", "accruals", "attainment"} {
		if !strings.Contains(final, want) {
			t.Errorf("final summary lacks %q:\n%s", want, final)
		}
	}
}
