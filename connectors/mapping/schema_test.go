package mapping

import (
	"bytes"
	"os"
	"path/filepath"
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
	if err := c.AddResource("mapping.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("mapping.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

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

func TestSchemaValidatesExamples(t *testing.T) {
	s := compileSchema(t)
	files, _ := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if len(files) < 4 {
		t.Fatalf("found %d example configs", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(yamlValue(t, b)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestSchemaRefusesBadConfigs(t *testing.T) {
	s := compileSchema(t)
	for _, doc := range []string{
		"source: x\nformat: xml\ntype: {value: sale}\nfields: {txn_id: id}\n",
		"source: x\nformat: json\ntype: {value: sale}\nfields: {txn_id: id, colour: c}\n",
		"source: x\nformat: json\ntype: {value: sale, field: s}\nfields: {txn_id: id}\n",
		"source: x\nformat: json\ntype: {value: sale}\nfields: {txn_id: id}\nextra: 1\n",
	} {
		if err := s.Validate(yamlValue(t, []byte(doc))); err == nil {
			t.Errorf("schema accepted:\n%s", doc)
		}
	}
}
