package link_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accrue/accrue/connectors/mapping"
	"github.com/accrue/accrue/transforms/ingest"
	"github.com/accrue/accrue/transforms/link"
	"github.com/accrue/accrue/transforms/reference"
	"github.com/accrue/accrue/transforms/sanitize"
)

const examples = "../../connectors/examples"

// exampleTables loads every file of connectors/examples/reference, each
// without a bad row.
func exampleTables(t *testing.T) *reference.Tables {
	t.Helper()
	var tb reference.Tables
	files, err := filepath.Glob(filepath.Join(examples, "reference", "*.*"))
	if err != nil {
		t.Fatal(err)
	}
	loaded := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			continue
		}
		name := filepath.Base(f)
		kind, err := reference.ParseKind(name[:strings.IndexByte(name, '.')])
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		bad, err := tb.Load(kind, r, reference.FormatOf(f))
		r.Close()
		if err != nil || len(bad) > 0 {
			t.Fatalf("%s: %v %v", f, err, bad)
		}
		loaded++
	}
	if loaded != len(reference.Kinds) {
		t.Fatalf("%d reference files, want one per kind (%d)", loaded, len(reference.Kinds))
	}
	return &tb
}

// TestExampleReferenceLinksTheExamples maps the four example sources with
// their configs and the example gatekeepers, and links every clean event
// with the example reference data: none may lack anything.
func TestExampleReferenceLinksTheExamples(t *testing.T) {
	tb := exampleTables(t)
	gcfg, err := os.ReadFile(filepath.Join(examples, "gatekeepers", "gate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := sanitize.ParseConfig(gcfg)
	if err != nil {
		t.Fatal(err)
	}
	gate, err := sanitize.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l := &link.Linker{Tables: tb, RequireProduct: true}
	credits := map[string]link.Credit{}
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	for _, ex := range []struct{ config, sample string }{
		{"crm-opportunities.yaml", "crm-opportunities.ndjson"},
		{"erp-orders-debezium.yaml", "erp-orders-debezium.ndjson"},
		{"pos-export.yaml", "pos-export.csv"},
		{"shop-webhook.yaml", "shop-webhook.json"},
	} {
		mcfg, err := mapping.Load(filepath.Join(examples, ex.config))
		if err != nil {
			t.Fatal(err)
		}
		m, err := mapping.New(mcfg)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := os.ReadFile(filepath.Join(examples, ex.sample))
		if err != nil {
			t.Fatal(err)
		}
		seen, orig, n := ingest.MemorySeen{}, link.MemoryOriginals{}, 0
		(&ingest.Pipeline{Mapper: m, Gate: gate}).Run(payload, now, func(r ingest.Result) {
			if r.Event == nil || gate.Deduper().CheckAndRemember(seen, r.Event) != nil {
				return
			}
			n++
			cs, miss, rj := l.Link(r.Event, orig)
			if miss != nil || rj != nil {
				t.Errorf("%s line %d (%s): %+v %v", ex.sample, r.Line, r.Event.Key(), miss, rj)
			}
			for _, c := range cs {
				credits[c.ID()] = c
			}
		})
		if n == 0 {
			t.Errorf("%s: no clean event", ex.sample)
		}
	}

	// As of each event's date: a rep's role, an identity's rep, a manager.
	for _, c := range []struct {
		credit, want string
		get          func(link.Credit) string
	}{
		{"crm-na:OPP-2008:sale/R-104", "SDR", role(tb)},
		{"crm-na:OPP-2013:sale/R-104", "AE", role(tb)},
		{"pos-de:B-7010:sale/R-202", "R-202", func(c link.Credit) string { return c.RepID }},
		{"pos-de:B-7013:sale/R-204", "R-204", func(c link.Credit) string { return c.RepID }},
		{"pos-de:B-7018:return/R-203", link.ViaOriginal, func(c link.Credit) string { return c.Via }},
		{"erp-eu:SO-1001:sale/R-17", "R-2", manager(tb)},
		{"wh_09009/R-22", "0.4", func(c link.Credit) string { return c.Share.String() }},
	} {
		cr, ok := credits[c.credit]
		if !ok {
			t.Errorf("no credit %s", c.credit)
			continue
		}
		if got := c.get(cr); got != c.want {
			t.Errorf("%s: %s, want %s", c.credit, got, c.want)
		}
	}
	t.Logf("%d credits", len(credits))
}

func role(tb *reference.Tables) func(link.Credit) string {
	return func(c link.Credit) string { r, _ := c.Rep(tb); return r.Role }
}

func manager(tb *reference.Tables) func(link.Credit) string {
	return func(c link.Credit) string { r, _ := c.Rep(tb); return r.ManagerID }
}
