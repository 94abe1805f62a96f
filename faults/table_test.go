package faults

import (
	"strings"
	"testing"
	"time"
)

func TestTableMarkdown(t *testing.T) {
	tab := Table{
		{Scenario: "kills", Faults: map[string]int{"SIGKILL link": 2, "SIGKILL accrue": 3}, Records: 20000, Events: 19700,
			Credits: 24000, Accruals: 31000, Took: 61 * time.Second},
		{Scenario: "broker", Faults: map[string]int{"broker kill -9": 2}, Records: 1500, Differences: 1, Took: 1500 * time.Millisecond},
	}
	var b strings.Builder
	if err := tab.Markdown(&b); err != nil {
		t.Fatal(err)
	}
	want := `| scenario | faults injected | raw records | clean events | credits | accruals | differences | took |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
| kills | 3× SIGKILL accrue, 2× SIGKILL link | 20,000 | 19,700 | 24,000 | 31,000 | 0 | 1m1s |
| broker | 2× broker kill -9 | 1,500 | 0 | 0 | 0 | 1 | 2s |
| **all** | 7 faults | 21,500 | 19,700 | 24,000 | 31,000 | **1** | 1m3s |
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	for n, s := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != s {
			t.Errorf("thousands(%d) = %s, want %s", n, got, s)
		}
	}
}
