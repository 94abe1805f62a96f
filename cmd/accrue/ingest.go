package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/accrue/accrue/connectors/mapping"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/ingest"
	"github.com/accrue/accrue/transforms/sanitize"
)

// loadGate reads a gatekeeper config; without a path it returns the default
// gate (the event contract and ISO 4217 currencies only).
func loadGate(path string) (*sanitize.Gate, error) {
	cfg := &sanitize.Config{}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, usageError{err}
		}
		if cfg, err = sanitize.ParseConfig(b); err != nil {
			return nil, usageError{fmt.Errorf("%s: %w", path, err)}
		}
	}
	g, err := sanitize.Compile(cfg)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", path, err)}
	}
	return g, nil
}

func loadMapper(path string) (*mapping.Mapper, error) {
	cfg, err := mapping.Load(path)
	if err != nil {
		return nil, usageError{err}
	}
	m, err := mapping.New(cfg)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", path, err)}
	}
	return m, nil
}

func newConnectorCmd(_ *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "connector", Short: "Try source mappings and gatekeepers offline"}
	var config, gatePath, input, out string
	run := &cobra.Command{
		Use:   "run",
		Short: "Map and check a file without Kafka: clean.jsonl and rejected.jsonl",
		Long: `Runs a file through a source's mapping (--config), the gatekeepers (--gate) and
deduplication, exactly as the ingest and dedupe stages would, and writes
DIR/clean.jsonl (canonical events) and DIR/rejected.jsonl (reason, field,
message, line, offset, raw). Prints the counts as JSON. Exit status 2 for a
bad config or an unreadable input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if config == "" || input == "" || out == "" {
				return usageError{fmt.Errorf("--config, --input and --out are required")}
			}
			m, err := loadMapper(config)
			if err != nil {
				return err
			}
			gate, err := loadGate(gatePath)
			if err != nil {
				return err
			}
			payload, err := os.ReadFile(input)
			if err != nil {
				return usageError{err}
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			clean, err := os.Create(filepath.Join(out, "clean.jsonl"))
			if err != nil {
				return err
			}
			defer clean.Close()
			rejected, err := os.Create(filepath.Join(out, "rejected.jsonl"))
			if err != nil {
				return err
			}
			defer rejected.Close()
			counts, err := ingest.RunOffline(&ingest.Pipeline{Mapper: m, Gate: gate}, gate.Deduper(), payload, time.Now(), clean, rejected)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(counts)
		},
	}
	run.Flags().StringVar(&config, "config", "", "source mapping config (YAML)")
	run.Flags().StringVar(&gatePath, "gate", "", "gatekeeper config (YAML); default: the event contract and ISO 4217 currencies")
	run.Flags().StringVar(&input, "input", "", "file to map (JSON, NDJSON, CSV or Debezium NDJSON, as the config says)")
	run.Flags().StringVar(&out, "out", "", "directory for clean.jsonl and rejected.jsonl")
	cmd.AddCommand(run)
	return cmd
}

// sourcePipelines loads the gatekeepers of gatePath and the mapping of every
// --source TOPIC=CONFIG.yaml, and returns a pipeline per topic and the
// topics in order.
func sourcePipelines(specs []string, gatePath string) (map[string]*ingest.Pipeline, []string, error) {
	gate, err := loadGate(gatePath)
	if err != nil {
		return nil, nil, err
	}
	if len(specs) == 0 {
		return nil, nil, usageError{fmt.Errorf("at least one --source TOPIC=CONFIG.yaml is required")}
	}
	out := map[string]*ingest.Pipeline{}
	var topics []string
	for _, s := range specs {
		topic, path, ok := strings.Cut(s, "=")
		if !ok || topic == "" || path == "" {
			return nil, nil, usageError{fmt.Errorf("--source %q: want TOPIC=CONFIG.yaml", s)}
		}
		m, err := loadMapper(path)
		if err != nil {
			return nil, nil, err
		}
		if _, dup := out[topic]; dup {
			return nil, nil, usageError{fmt.Errorf("--source: topic %q given twice", topic)}
		}
		out[topic] = &ingest.Pipeline{Mapper: m, Gate: gate}
		topics = append(topics, topic)
	}
	sort.Strings(topics)
	return out, topics, nil
}

func newIngestStageCmds(g *globals) []*cobra.Command {
	var fi, fd stageFlags
	var sources []string
	var gatePath, output, deadLetter, iName string
	ingestCmd := &cobra.Command{
		Use:   "ingest",
		Short: "Map and sanitize upstream topics into canonical sales (sales.canonical)",
		Long: `Reads every --source topic, maps each record with that source's config,
checks it with the gatekeepers and writes canonical events to --output keyed
by source:txn_id; rejected records go to --dead-letter with reason, field,
message, line and source position. Stateless; run 'accrue stage dedupe' after it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pls, topics, err := sourcePipelines(sources, gatePath)
			if err != nil {
				return err
			}
			reg := newRegistry()
			cfg := fi.config(g, iName, topics, reg)
			cfg.Stateless, cfg.DeadLetter = true, deadLetter
			proc := ingest.NewProcessor(pls, output, nil)
			skipped := skippedCounter(reg)
			proc.OnSkip = func(source, reason string) { skipped.WithLabelValues(source, reason).Inc() }
			return runStage(cmd, cfg, fi.adminAddr, reg, pipeline.Int64Codec{}, proc)
		},
	}
	fi.register(ingestCmd)
	ingestCmd.Flags().StringArrayVar(&sources, "source", nil, "TOPIC=CONFIG.yaml, repeated: an upstream topic and its mapping")
	ingestCmd.Flags().StringVar(&gatePath, "gate", "", "gatekeeper config (YAML)")
	ingestCmd.Flags().StringVar(&output, "output", "sales.canonical", "topic for canonical events")
	ingestCmd.Flags().StringVar(&deadLetter, "dead-letter", "sales.rejected", "topic for rejected records")
	ingestCmd.Flags().StringVar(&iName, "name", "ingest", "stage name (consumer group accrue-<name>)")

	var dGate, dInput, dOutput, dDead, dName string
	dedupeCmd := &cobra.Command{
		Use:   "dedupe",
		Short: "Pass the first copy of every (source, txn_id, type) to sales.clean",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			gate, err := loadGate(dGate)
			if err != nil {
				return err
			}
			reg := newRegistry()
			cfg := fd.config(g, dName, []string{dInput}, reg)
			cfg.DeadLetter = dDead
			return runStage(cmd, cfg, fd.adminAddr, reg, pipeline.Int64Codec{}, ingest.NewDedupe(gate.Deduper(), dOutput))
		},
	}
	fd.register(dedupeCmd)
	dedupeCmd.Flags().StringVar(&dGate, "gate", "", "gatekeeper config (YAML) giving the dedupe windows")
	dedupeCmd.Flags().StringVar(&dInput, "input", "sales.canonical", "topic of canonical events")
	dedupeCmd.Flags().StringVar(&dOutput, "output", "sales.clean", "topic for deduplicated events")
	dedupeCmd.Flags().StringVar(&dDead, "dead-letter", "sales.rejected", "topic for duplicates")
	dedupeCmd.Flags().StringVar(&dName, "name", "dedupe", "stage name (group accrue-<name>, state topic <name>.changelog)")
	return []*cobra.Command{ingestCmd, dedupeCmd}
}
