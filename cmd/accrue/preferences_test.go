package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/accrue/accrue/pipeline/pipelinetest"
	"github.com/accrue/accrue/transforms/nudge"
)

func TestPreferencesLoad(t *testing.T) {
	_, brokers := pipelinetest.Fake(t)
	pipelinetest.CreateTopics(t, brokers, 3, nil, nudge.TopicPrefs)
	flags := []string{"--brokers", strings.Join(brokers, ",")}
	dir := t.TempDir()

	bad := writeFile(t, dir, "bad.jsonl", strings.Join([]string{
		`{"rep_id":"R-1","timezone":"Asia/Tokyo","locale":"ja-JP","channels":["email"]}`,
		`{"rep_id":"R-2","timezone":"Mars/Olympus"}`,
		`{"rep_id":"R-3","channels":["pigeon"]}`,
		`{"rep_id":"R-4","quiet_hours":{"from":"22:00","to":"7"}}`,
		`{"rep_id":"R-5","colour":"blue"}`,
		`{"rep_id":"R-1"}`,
		`{"timezone":"UTC"}`,
		`{"rep_id":"R-6"`,
	}, "\n"))
	out, errOut, status := runAccrue(t, append([]string{"preferences", "load", bad}, flags...)...)
	if status != 2 || !strings.Contains(out, `"bad": 7`) {
		t.Fatalf("status %d\n%s%s", status, out, errOut)
	}
	for _, want := range []string{
		bad + `:2: timezone: `, bad + `:3: unknown channel "pigeon"`, bad + `:4: quiet_hours: want from and to as HH:MM`,
		bad + `:5: json: unknown field "colour"`, bad + `:6: rep_id "R-1" is also on line 1`, bad + `:7: rep_id is missing`,
		bad + `:8: unexpected EOF`, "nothing published",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if n := len(pipelinetest.ReadAll(t, brokers, nudge.TopicPrefs)); n != 0 {
		t.Fatalf("%d records after a refused load", n)
	}

	good := writeFile(t, dir, "good.jsonl", `{"rep_id":"R-1","timezone":"Asia/Tokyo","locale":"ja-JP","channels":["email"]}

{"rep_id":"R-2","timezone":"America/New_York","quiet_hours":{"from":"22:00","to":"07:00"}}
`)
	out, errOut, status = runAccrue(t, append([]string{"preferences", "load", good, "--delete", "R-9"}, flags...)...)
	if status != 0 || !strings.Contains(out, `"published": 2`) || !strings.Contains(out, `"deleted": 1`) {
		t.Fatalf("status %d\n%s%s", status, out, errOut)
	}
	recs := pipelinetest.ReadAll(t, brokers, nudge.TopicPrefs)
	got := map[string]string{}
	for _, r := range recs {
		got[string(r.Key)] = string(r.Value)
	}
	if len(recs) != 3 || got["R-9"] != "" {
		t.Fatalf("records %v", got)
	}
	// What the delivery stage reads back.
	var p nudge.Prefs
	if err := json.Unmarshal([]byte(got["R-2"]), &p); err != nil || p.Check() != nil || p.Timezone != "America/New_York" ||
		p.QuietHours == nil || p.RepID != "R-2" {
		t.Fatalf("R-2 %s: %+v %v", got["R-2"], p, err)
	}
}
