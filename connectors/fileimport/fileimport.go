// Package fileimport loads a file of sales into a source's raw topic exactly
// once. The file is mapped and checked record by record (the ingest
// pipeline); good records go to the raw topic keyed by their identity, bad
// ones to the dead-letter topic with their line. Records are written in
// transactions that also record how far the import got, in the compacted
// topic "imports" under the key source:sha256(file); a re-run of the same
// file resumes after the last committed transaction, and a finished import
// writes nothing again.
package fileimport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/connectors/httpingest"
	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/ingest"
)

// ProgressTopic is the compacted topic that remembers every import's
// progress.
const ProgressTopic = "imports"

// Config configures an import.
type Config struct {
	Brokers    []string
	Topic      string // the source's raw topic
	DeadLetter string // default sales.rejected
	Pipeline   *ingest.Pipeline
	// BatchSize is the number of records per transaction; default 5000.
	BatchSize int
	// Progress, when set, is called after every committed transaction
	// with the records done and the total.
	Progress   func(done, total int)
	ClientOpts []kgo.Opt
}

// Progress is an import's committed state, the value in ProgressTopic.
type Progress struct {
	File     string         `json:"file"`
	Done     int            `json:"done"`
	Total    int            `json:"total"`
	Accepted int            `json:"accepted"`
	Skipped  int            `json:"skipped"`
	Rejected map[string]int `json:"rejected"`
	Finished bool           `json:"finished"`
}

// Result says what a run did: Resumed is where it started (0 for a new
// import), and Progress is the state at its end.
type Result struct {
	ID      string `json:"id"`
	Resumed int    `json:"resumed"`
	Progress
}

// ID is an import's identity: the same file for the same source is the same
// import, whatever its name.
func ID(source string, payload []byte) string {
	sum := sha256.Sum256(payload)
	return source + ":" + hex.EncodeToString(sum[:16])
}

// Run imports payload (the whole file, named name) and blocks until it is
// done or ctx ends. A run cut short (a crash, Ctrl-C) leaves the committed
// part in place and the next run of the same file continues from there.
func Run(ctx context.Context, cfg Config, name string, payload []byte) (Result, error) {
	if cfg.DeadLetter == "" {
		cfg.DeadLetter = "sales.rejected"
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 5000
	}
	source := cfg.Pipeline.Mapper.Source()
	res := Result{ID: ID(source, payload)}

	// Map the whole file first: the total is known for progress, and a
	// resumed run skips by record index.
	var results []ingest.Result
	cfg.Pipeline.Run(payload, time.Now(), func(r ingest.Result) { results = append(results, r) })

	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.ClientOpts...)
	opts = append(opts, kgo.TransactionalID("accrue-import-"+res.ID), kgo.ProducerLinger(0))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return res, err
	}
	defer cl.Close()

	prog, err := readProgress(ctx, cl, cfg, res.ID)
	if err != nil {
		return res, err
	}
	if prog.Rejected == nil {
		prog.Rejected = map[string]int{}
	}
	prog.File, prog.Total = name, len(results)
	res.Resumed = prog.Done
	if prog.Finished {
		res.Progress = prog
		return res, nil
	}
	for prog.Done < len(results) || !prog.Finished {
		end := min(prog.Done+cfg.BatchSize, len(results))
		next := prog
		next.Rejected = copyCounts(prog.Rejected)
		if err := cl.BeginTransaction(); err != nil {
			return res, err
		}
		for _, r := range results[prog.Done:end] {
			switch {
			case r.Reject != nil:
				next.Rejected[r.Reject.Reason]++
				from := &kgo.Record{Topic: cfg.Topic, Partition: -1, Offset: -1, Value: r.Raw,
					Headers: []kgo.RecordHeader{{Key: "source", Value: []byte(source)}, {Key: "file", Value: []byte(name)}}}
				dl := pipeline.NewDeadLetter(cfg.DeadLetter, "import", from, r.Reject, time.Now())
				dl.Headers = append(dl.Headers, kgo.RecordHeader{Key: httpingest.HeaderSourceLine, Value: []byte(strconv.Itoa(r.Line))})
				cl.Produce(ctx, dl, nil)
			case r.Skip != "":
				next.Skipped++
			default:
				next.Accepted++
				cl.Produce(ctx, &kgo.Record{Topic: cfg.Topic, Key: ingest.Key(r.Event), Value: r.Raw,
					Headers: []kgo.RecordHeader{{Key: "source", Value: []byte(source)}}}, nil)
			}
		}
		next.Done = end
		next.Finished = end == len(results)
		b, _ := json.Marshal(next)
		cl.Produce(ctx, &kgo.Record{Topic: ProgressTopic, Key: []byte(res.ID), Value: b}, nil)
		if err := endTxn(ctx, cl); err != nil {
			return res, err
		}
		prog = next
		if cfg.Progress != nil {
			cfg.Progress(prog.Done, prog.Total)
		}
	}
	res.Progress = prog
	return res, nil
}

// endTxn flushes and commits; any produce failure aborts the transaction and
// is returned, leaving the committed progress where it was.
func endTxn(ctx context.Context, cl *kgo.Client) error {
	if err := cl.Flush(ctx); err != nil {
		_ = cl.AbortBufferedRecords(context.Background())
		_ = cl.EndTransaction(context.Background(), kgo.TryAbort)
		return err
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// readProgress reads the last committed progress of id (read_committed);
// the zero Progress when the import is new.
func readProgress(ctx context.Context, cl *kgo.Client, cfg Config, id string) (Progress, error) {
	var p Progress
	err := pipeline.ScanTopic(ctx, cl, cfg.Brokers, cfg.ClientOpts, ProgressTopic,
		func(r *kgo.Record) error {
			if string(r.Key) != id || r.Value == nil {
				return nil
			}
			var q Progress
			if err := json.Unmarshal(r.Value, &q); err != nil {
				return fmt.Errorf("progress of %s: %w", id, err)
			}
			p = q
			return nil
		})
	if err != nil && !errors.Is(err, context.Canceled) {
		return p, fmt.Errorf("read %s: %w", ProgressTopic, err)
	}
	return p, err
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
