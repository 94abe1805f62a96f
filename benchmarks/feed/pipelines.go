package feed

import (
	"fmt"
	"io/fs"

	"github.com/accrue/accrue/connectors/examples"
	"github.com/accrue/accrue/connectors/mapping"
	"github.com/accrue/accrue/transforms/ingest"
	"github.com/accrue/accrue/transforms/sanitize"
)

// configs names each source's example mapping in examples.FS.
var configs = map[string]string{CRM: examples.CRM, ERP: examples.ERP, POS: examples.POS, Shop: examples.Shop}

// Pipelines returns the ingest pipeline of each source by its raw topic:
// the example mapping config of the source and the example gatekeepers
// (connectors/examples), as `accrue stage ingest` would build them from
// those files; and the gate, whose Deduper the dedupe and link stages use.
func Pipelines() (map[string]*ingest.Pipeline, *sanitize.Gate, error) {
	b, err := fs.ReadFile(examples.FS, examples.Gate)
	if err != nil {
		return nil, nil, err
	}
	gcfg, err := sanitize.ParseConfig(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", examples.Gate, err)
	}
	gate, err := sanitize.Compile(gcfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", examples.Gate, err)
	}
	out := make(map[string]*ingest.Pipeline, len(configs))
	for _, src := range SourceNames {
		b, err := fs.ReadFile(examples.FS, configs[src])
		if err != nil {
			return nil, nil, err
		}
		cfg, err := mapping.Parse(b, configs[src])
		if err != nil {
			return nil, nil, err
		}
		if cfg.Source != src {
			return nil, nil, fmt.Errorf("%s maps source %q, the feed calls it %q", configs[src], cfg.Source, src)
		}
		m, err := mapping.New(cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", configs[src], err)
		}
		out[RawTopic(src)] = &ingest.Pipeline{Mapper: m, Gate: gate}
	}
	return out, gate, nil
}
