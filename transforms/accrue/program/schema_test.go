package program

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("program.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("program.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlValue is what an editor checks: the document as JSON.
func yamlValue(t *testing.T, b []byte) any {
	t.Helper()
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Every example program, and every variant Parse accepts below, is valid
// under the schema: an editor never flags a document accrue takes.
func TestSchemaValidatesExamples(t *testing.T) {
	s := compileSchema(t)
	docs := map[string][]byte{}
	for _, f := range exampleFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[f] = b
	}
	for name, doc := range map[string]string{
		"minimal":         minimal,
		"strings":         strings.NewReplacer("{from: 0, rate: 0.01}", `{from: "0.0", rate: "+0.01"}`).Replace(minimal),
		"spiff rate":      minimal + "spiffs: [{id: s, rate: .5}]\n",
		"overrides none":  strings.Replace(minimal, "measure: amount", "measure: count", 1) + "overrides: []\n",
		"measure quota":   minimal + "quota: {by_role: {AE: 10}}\nbadges: [{id: b, metric: measure, at_least: 1}]\n",
		"attainment ok":   strings.Replace(minimal, "basis: measure", "basis: attainment", 1) + "quota: {default: \"1.5\"}\nnudges: {attainment_crossed: [1], near_next_tier: {within: 0.1}}\n",
		"participants []": minimal + "participants: {roles: [], reps: [R-1]}\n",
	} {
		b := []byte(doc)
		if _, err := Parse(name, b); err != nil {
			t.Fatalf("Parse refuses %s: %v", name, err)
		}
		docs[name] = b
	}
	for name, b := range docs {
		if err := s.Validate(yamlValue(t, b)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The schema refuses the broken documents whose faults it can express.
func TestSchemaRefusesBadDocuments(t *testing.T) {
	s := compileSchema(t)
	for _, name := range []string{
		"attainment-without-quota", "quota-without-default", "unknown-measure", "overrides-count",
		"misspelt-keys", "spiffs", "types", "dates-currency-timezone", "overrides-duplicate",
		"many-problems",
	} {
		b, err := os.ReadFile(filepath.Join("testdata/invalid", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(yamlValue(t, b)); err == nil {
			t.Errorf("schema accepted testdata/invalid/%s.yaml", name)
		}
	}
	for _, doc := range []string{
		strings.Replace(minimal, "{from: 0, rate: 0.01}", "{from: 1, rate: 0.01}", 1),
		strings.Replace(minimal, "rate: 0.01", "rate: -0.01", 1),
		strings.Replace(minimal, "rate: 0.01", "rate: 1e-2", 1),
		strings.Replace(minimal, "version: 1", "version: \"1\"", 1),
		strings.Replace(minimal, "2026-01-01", "2026-13-01", 1),
		minimal + "spiffs: [{id: s, rate: \"0.1\", max_per_period: 3}]\n",
		minimal + "cap: {amount: 0}\n",
		minimal + "nudges: {attainment_crossed: [\"0.5\"]}\n",
	} {
		if err := s.Validate(yamlValue(t, []byte(doc))); err == nil {
			t.Errorf("schema accepted:\n%s", doc)
		}
	}
}
