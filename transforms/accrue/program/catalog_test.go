package program

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// version writes version v of program "plan", in force from..to (to may be
// empty), with rate as its only band's rate.
func version(t testing.TB, v int, from, to, rate string) *Program {
	t.Helper()
	doc := fmt.Sprintf("id: plan\nversion: %d\ncurrency: USD\nperiod: month\neffective_from: %s\n", v, from)
	if to != "" {
		doc += "effective_to: " + to + "\n"
	}
	doc += "credit: {measure: amount}\ntiers: {basis: measure, method: marginal, bands: [{from: 0, rate: \"" + rate + "\"}]}\n"
	p, err := Parse(fmt.Sprintf("plan-v%d.yaml", v), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func publish(t testing.TB, c *Catalog, p *Program, at time.Time) {
	t.Helper()
	pb := NewPublication(p, at)
	v, err := pb.Value()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(pb.Key(), v); err != nil {
		t.Fatal(err)
	}
}

func versionOf(p *Program) int {
	if p == nil {
		return 0
	}
	return p.Version
}

// A new version takes effect from its effective date; before it the
// previous versions stay in force, whatever order they were published in.
func TestCatalogVersionsTakeEffectFromTheirDates(t *testing.T) {
	c := NewCatalog()
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	// Published out of order: the catalog orders by version, not arrival.
	publish(t, c, version(t, 3, "2027-01-01", "2027-12-31", "0.03"), now)
	publish(t, c, version(t, 1, "2026-01-01", "", "0.01"), now)
	publish(t, c, version(t, 2, "2026-07-01", "", "0.02"), now)

	for _, tc := range []struct {
		day  string
		want int // 0: none
	}{
		{"2025-12-31", 0},
		{"2026-01-01", 1},
		{"2026-06-30", 1},
		{"2026-07-01", 2},
		{"2026-12-31", 2},
		{"2027-01-01", 3},
		{"2027-12-31", 3},
		// v3 has ended; v2 has no end, so it holds again.
		{"2028-01-01", 2},
	} {
		if got := versionOf(c.InForce("plan", date(tc.day))); got != tc.want {
			t.Errorf("InForce(%s) = v%d, want v%d", tc.day, got, tc.want)
		}
	}
	if got := versionOf(c.Latest("plan")); got != 3 {
		t.Errorf("Latest = v%d", got)
	}
	vs := c.Versions("plan")
	if len(vs) != 3 || vs[0].Version != 1 || vs[2].Version != 3 || !vs[1].PublishedAt.Equal(now) {
		t.Errorf("Versions = %+v", vs)
	}
	if c.InForce("other", date("2026-07-01")) != nil || c.Latest("other") != nil || c.Versions("other") != nil {
		t.Errorf("an unknown program has versions")
	}
	if ids := c.IDs(); len(ids) != 1 || ids[0] != "plan" {
		t.Errorf("IDs = %v", ids)
	}
}

// At cuts the instant in each version's own time zone.
func TestCatalogAtUsesEachVersionsZone(t *testing.T) {
	c := NewCatalog()
	p1 := version(t, 1, "2026-01-01", "", "0.01")
	doc := strings.Replace(string(version(t, 2, "2026-07-01", "", "0.02").Document), "period:", "timezone: Asia/Tokyo\nperiod:", 1)
	p2, err := Parse("v2", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	publish(t, c, p1, time.Now())
	publish(t, c, p2, time.Now())
	// 2026-06-30T16:00Z is already 2026-07-01 in Tokyo.
	if got := versionOf(c.At("plan", time.Date(2026, 6, 30, 16, 0, 0, 0, time.UTC))); got != 2 {
		t.Errorf("At(2026-06-30T16:00Z) = v%d, want v2 (July 1st in Tokyo)", got)
	}
	if got := versionOf(c.At("plan", time.Date(2026, 6, 30, 14, 0, 0, 0, time.UTC))); got != 1 {
		t.Errorf("At(2026-06-30T14:00Z) = v%d, want v1", got)
	}
}

func TestCatalogApply(t *testing.T) {
	c := NewCatalog()
	p1 := version(t, 1, "2026-01-01", "", "0.01")
	pb := NewPublication(p1, time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.FixedZone("x", 3600)))
	value, err := pb.Value()
	if err != nil {
		t.Fatal(err)
	}
	if string(pb.Key()) != "plan@1" || p1.Key() != "plan@1" {
		t.Fatalf("key %s", pb.Key())
	}
	var raw map[string]any
	if err := json.Unmarshal(value, &raw); err != nil || raw["published_at"] != "2026-01-02T02:04:05.678Z" ||
		raw["digest"] != p1.Digest || raw["document"] != string(p1.Document) || raw["id"] != "plan" || raw["version"] != 1.0 {
		t.Fatalf("value %s (%v)", value, err)
	}
	if err := c.Apply(pb.Key(), value); err != nil {
		t.Fatal(err)
	}
	got, ok := c.Get("plan", 1)
	if !ok || got.Digest != p1.Digest || !got.PublishedAt.Equal(pb.PublishedAt) {
		t.Fatalf("Get = %+v, %v", got, ok)
	}

	// The last record of a key wins, as after compaction.
	p1b := version(t, 1, "2026-01-01", "", "0.05")
	publish(t, c, p1b, time.Now())
	if c.Latest("plan").Digest != p1b.Digest {
		t.Errorf("a later record of plan@1 did not replace the earlier")
	}
	// A tombstone withdraws the version.
	if err := c.Apply([]byte("plan@1"), nil); err != nil || c.Latest("plan") != nil || len(c.IDs()) != 0 {
		t.Errorf("tombstone: %v, latest %v", err, c.Latest("plan"))
	}

	bad := func(mut func(*Publication)) []byte {
		q := NewPublication(p1, time.Now())
		mut(&q)
		b, _ := q.Value()
		return b
	}
	// A bad record of plan@1 withdraws plan@1 (the catalog then holds what
	// it will hold once the topic is compacted); a bad key names nothing.
	for _, tc := range []struct {
		name       string
		key, value []byte
		want       string
	}{
		{"key without version", []byte("plan"), value, "is not id@version"},
		{"key version zero", []byte("plan@0"), value, "is not id@version"},
		{"key version padded", []byte("plan@01"), value, "is not id@version"},
		{"key and value differ", []byte("plan@2"), value, "the value is plan@1"},
		{"not json", []byte("plan@1"), []byte("{"), "value is not a publication"},
		{"digest", []byte("plan@1"), bad(func(q *Publication) { q.Digest = strings.Repeat("0", 64) }), "does not match"},
		{"document edited", []byte("plan@1"), bad(func(q *Publication) { q.Document += "# edited\n" }), "does not match"},
		{"document invalid", []byte("plan@1"), bad(func(q *Publication) {
			q.Document = strings.Replace(q.Document, "month", "fortnight", 1)
			q.Digest = digest([]byte(q.Document))
		}), `plan@1:4:9: period: unknown period "fortnight"`},
		{"document names another version", []byte("plan@1"), bad(func(q *Publication) {
			q.Document = strings.Replace(q.Document, "version: 1", "version: 7", 1)
			q.Digest = digest([]byte(q.Document))
		}), "the document is plan@7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			publish(t, c, p1, time.Now())
			err := c.Apply(tc.key, tc.value)
			if !errors.Is(err, ErrRecord) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Apply = %v, want ErrRecord with %q", err, tc.want)
			}
			_, held := c.Get("plan", 1)
			if names := string(tc.key) == "plan@1"; held == names {
				t.Errorf("after a bad record keyed %s, plan@1 held = %v", tc.key, held)
			}
		})
	}
	// The problems of an invalid document are reachable.
	err = c.Apply([]byte("plan@1"), bad(func(q *Publication) {
		q.Document = strings.Replace(q.Document, "month", "fortnight", 1)
		q.Digest = digest([]byte(q.Document))
	}))
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Line != 4 {
		t.Errorf("Problems of a bad record: %v", err)
	}
}

func TestCatalogAdd(t *testing.T) {
	c := NewCatalog()
	p := version(t, 1, "2026-01-01", "", "0.01")
	if err := c.Add(p); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(version(t, 1, "2026-01-01", "", "0.01")); err != nil {
		t.Errorf("the same document twice: %v", err)
	}
	if err := c.Add(version(t, 1, "2026-01-01", "", "0.02")); err == nil || !strings.Contains(err.Error(), "plan@1") {
		t.Errorf("a different document for plan@1: %v", err)
	}
	if got, _ := c.Get("plan", 1); !got.PublishedAt.IsZero() || got.Program != p {
		t.Errorf("Get = %+v", got)
	}
}

// Queries run while records are applied (go test -race).
func TestCatalogConcurrentUse(t *testing.T) {
	c := NewCatalog()
	ps := []*Program{version(t, 1, "2026-01-01", "", "0.01"), version(t, 2, "2026-07-01", "", "0.02")}
	var recs [][2][]byte
	for _, p := range ps {
		pb := NewPublication(p, time.Now())
		v, _ := pb.Value()
		recs = append(recs, [2][]byte{pb.Key(), v})
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			r := recs[i%2]
			if i%7 == 0 {
				_ = c.Apply(r[0], nil)
			} else if err := c.Apply(r[0], r[1]); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			if p := c.InForce("plan", date("2026-08-01")); p != nil && p.ID != "plan" {
				t.Error("wrong program")
			}
			for _, v := range c.Versions("plan") {
				_ = v.Digest
			}
			_ = c.Latest("plan")
			_ = c.IDs()
		}
	}()
	wg.Wait()
}
