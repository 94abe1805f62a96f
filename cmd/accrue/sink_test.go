package main

import (
	"errors"
	"testing"
)

// A topic of no known kind is a usage error (exit status 2), found before
// anything is reached.
func TestSinkClickHouseRefusesUnknownKinds(t *testing.T) {
	for _, topics := range []string{"payouts.payable", "x=nothing", "sales.clean,sales.clean"} {
		_, _, err := runCLI(t, "--log-level", "error", "sink", "clickhouse", "--admin-addr", "",
			"--clickhouse-addr", "127.0.0.1:1", "--topics", topics)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("--topics %s: error %v, want a usage error", topics, err)
		}
	}
}
