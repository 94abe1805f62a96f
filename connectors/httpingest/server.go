// Package httpingest is accrue's HTTP source: upstream systems POST sales to
// /v1/sources/{source}/events and each record is checked against the
// source's mapping before it is produced to the source's raw topic.
//
// A request carries one JSON object, a JSON array, NDJSON, or CSV, as the
// source's format says. Each record found in the body is either accepted
// (produced to the raw topic, keyed by its event's dedupe identity, with an
// idempotent producer) or rejected (reported in the response with its line
// and field, and kept on the dead-letter topic). The response says how many
// of each:
//
//	200  every record accepted
//	422  some or all records rejected; the accepted ones were produced
//	400  the body cannot be read at all (for example not JSON)
//	401  missing or wrong bearer token
//	404  unknown source
//	413  body larger than the limit
//	429  Kafka cannot take the records now; Retry-After says when to retry
//
// Retrying a request is safe: events are deduplicated downstream by
// (source, txn_id, type).
package httpingest

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
)

// Record is one record found in a request body: its original bytes, its
// place, and either the key to produce it under or why it was rejected.
type Record struct {
	Raw    []byte
	Line   int    // 1-based line in the body, 0 when not line-oriented
	Key    string // dedupe identity of the mapped event (source:txn_id)
	Reject *pipeline.Reject
}

// Source is one source that accepts HTTP ingest.
type Source struct {
	// Name is the {source} path segment.
	Name string
	// Topic is the source's raw topic.
	Topic string
	// Split finds and checks the records of a body. A non-nil error means
	// the body as a whole cannot be read (400).
	Split func(body []byte, visit func(Record)) error
}

// Config configures a Server.
type Config struct {
	// Tokens are the accepted bearer tokens; at least one is required.
	Tokens []string
	// MaxBodyBytes bounds a request body; default 8 MiB.
	MaxBodyBytes int64
	// ProduceTimeout bounds how long a request waits for Kafka to take its
	// records before answering 429; default 5s.
	ProduceTimeout time.Duration
	// RetryAfter is the Retry-After of a 429; default 5s.
	RetryAfter time.Duration
	// DeadLetter is the topic for rejected records; default sales.rejected.
	DeadLetter string
	Logger     *slog.Logger
}

// Producer is the part of *kgo.Client the server uses.
type Producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

// Server is an http.Handler for the ingest endpoint.
type Server struct {
	cfg     Config
	prod    Producer
	sources map[string]Source
	log     *slog.Logger
}

// New builds a Server. prod should be a client with idempotent production
// (franz-go's default) and a record delivery timeout, so that records stuck
// behind an unreachable broker fail instead of waiting for ever.
func New(cfg Config, prod Producer, sources ...Source) (*Server, error) {
	if len(cfg.Tokens) == 0 {
		return nil, errors.New("httpingest: at least one token is required")
	}
	for _, t := range cfg.Tokens {
		if len(t) < 16 {
			return nil, errors.New("httpingest: tokens must be at least 16 characters")
		}
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 8 << 20
	}
	if cfg.ProduceTimeout <= 0 {
		cfg.ProduceTimeout = 5 * time.Second
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 5 * time.Second
	}
	if cfg.DeadLetter == "" {
		cfg.DeadLetter = "sales.rejected"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, prod: prod, sources: map[string]Source{}, log: cfg.Logger}
	for _, src := range sources {
		if src.Name == "" || src.Topic == "" || src.Split == nil {
			return nil, fmt.Errorf("httpingest: source %q needs a name, a topic and a splitter", src.Name)
		}
		s.sources[src.Name] = src
	}
	return s, nil
}

// Response is the JSON body of every answer.
type Response struct {
	Accepted int           `json:"accepted"`
	Rejected int           `json:"rejected"`
	Errors   []RecordError `json:"errors,omitempty"`
	Error    string        `json:"error,omitempty"`
}

// RecordError says why one record was rejected, and where it was.
type RecordError struct {
	Line    int    `json:"line,omitempty"`
	Index   int    `json:"index"`
	Reason  string `json:"reason"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// maxErrors bounds the errors listed in one response.
const maxErrors = 100

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="accrue"`)
		reply(w, http.StatusUnauthorized, Response{Error: "missing or invalid bearer token"})
		return
	}
	name, ok := sourceName(r.URL.Path)
	if !ok {
		reply(w, http.StatusNotFound, Response{Error: "path must be /v1/sources/{source}/events"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, Response{Error: "use POST"})
		return
	}
	src, ok := s.sources[name]
	if !ok {
		reply(w, http.StatusNotFound, Response{Error: fmt.Sprintf("unknown source %q", name)})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			reply(w, http.StatusRequestEntityTooLarge, Response{Error: fmt.Sprintf("body larger than %d bytes", mbe.Limit)})
			return
		}
		reply(w, http.StatusBadRequest, Response{Error: "reading body: " + err.Error()})
		return
	}

	var resp Response
	var recs []*kgo.Record
	index := 0
	err = src.Split(body, func(rec Record) {
		index++
		if rec.Reject != nil {
			resp.Rejected++
			if len(resp.Errors) < maxErrors {
				resp.Errors = append(resp.Errors, RecordError{Line: rec.Line, Index: index, Reason: rec.Reject.Reason,
					Field: rec.Reject.Field, Message: rec.Reject.Error()})
			}
			recs = append(recs, s.deadLetter(src, rec))
			return
		}
		resp.Accepted++
		recs = append(recs, &kgo.Record{Topic: src.Topic, Key: []byte(rec.Key), Value: rec.Raw,
			Headers: []kgo.RecordHeader{{Key: "source", Value: []byte(src.Name)}}})
	})
	if err != nil {
		reply(w, http.StatusBadRequest, Response{Error: err.Error()})
		return
	}
	if err := s.produce(r.Context(), recs); err != nil {
		s.log.Warn("ingest: kafka did not take the records", "source", name, "records", len(recs), "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter.Round(time.Second)/time.Second)))
		reply(w, http.StatusTooManyRequests, Response{Error: "the event log cannot take records now; retry later"})
		return
	}
	status := http.StatusOK
	if resp.Rejected > 0 {
		status = http.StatusUnprocessableEntity
	}
	reply(w, status, resp)
}

// deadLetter keeps a rejected record on the dead-letter topic, placed by
// source and line as a Kafka dead letter is placed by offset.
func (s *Server) deadLetter(src Source, rec Record) *kgo.Record {
	from := &kgo.Record{Topic: src.Topic, Partition: -1, Offset: -1, Value: rec.Raw,
		Headers: []kgo.RecordHeader{{Key: "source", Value: []byte(src.Name)}}}
	dl := pipeline.NewDeadLetter(s.cfg.DeadLetter, "http", from, rec.Reject, time.Now())
	dl.Headers = append(dl.Headers, kgo.RecordHeader{Key: HeaderSourceLine, Value: []byte(strconv.Itoa(rec.Line))})
	return dl
}

// HeaderSourceLine gives the line of a rejected record in its request body
// or file.
const HeaderSourceLine = "accrue.source.line"

// produce hands every record to Kafka and waits until all are acknowledged,
// or until ProduceTimeout.
func (s *Server) produce(ctx context.Context, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ProduceTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	wg.Add(len(recs))
	for _, r := range recs {
		s.prod.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return first
	case <-ctx.Done():
		// The records stay in the client's buffer and may still be
		// delivered; downstream deduplication makes the client's retry
		// harmless.
		return ctx.Err()
	}
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return false
	}
	for _, t := range s.cfg.Tokens {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(t)) == 1 {
			return true
		}
	}
	return false
}

func sourceName(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/v1/sources/")
	if !ok {
		return "", false
	}
	name, ok := strings.CutSuffix(rest, "/events")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", false
	}
	return name, true
}

func reply(w http.ResponseWriter, status int, resp Response) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(resp)
}
