// Package httpwallet is the wallet's HTTP endpoint for redemption
// requests: the rep-facing app POSTs a request to /v1/redemptions and it
// is produced to the wallet stage's input topic, keyed by rep. The wallet
// stage decides it; the outcome (accepted, refused with a reason) is
// asynchronous, on the stage's outcomes topic.
//
//	POST /v1/redemptions
//	Authorization: Bearer <token>
//	Idempotency-Key: click-7
//	{"rep_id":"R-17","type":"bank_transfer","amount":"100.00","currency":"EUR"}
//
//	202  taken: {"request_id":…,"idempotency_key":…,"rep_id":…,"status":"pending"}
//
//	GET /v1/redemptions/{request_id}
//
//	200  the request's latest outcome, as the wallet stage wrote it
//	404  no outcome yet (pending, or never taken), or outcomes not served
//	400  the body is not a JSON object
//	401  missing or wrong bearer token
//	404  another path
//	405  another method
//	413  body larger than the limit
//	415  not application/json
//	422  a field is missing or wrong: {"error":…,"field":…,"reason":…}
//	429  Kafka cannot take the request now; Retry-After says when to retry
//
// Retrying is safe: the wallet answers the same idempotency key once and
// pays it once, so a client that did not see the 202 sends the same
// request with the same key again.
package httpwallet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/transforms/wallet"
)

// Path is the endpoint's path.
const Path = "/v1/redemptions"

// Config configures a Server.
type Config struct {
	// Tokens are the accepted bearer tokens, each at least 16 characters;
	// at least one is required.
	Tokens []string
	// Topic is the wallet stage's request topic; default
	// wallet.TopicRedemptions.
	Topic string
	// MaxBodyBytes bounds a request body; default 64 KiB.
	MaxBodyBytes int64
	// ProduceTimeout bounds the wait for Kafka to take a request before
	// answering 429; default 5s.
	ProduceTimeout time.Duration
	// RetryAfter is the Retry-After of a 429; default 5s.
	RetryAfter time.Duration
	// Outcomes answers GET /v1/redemptions/{request_id}; nil answers 404.
	Outcomes OutcomeStore
	// Now stamps requests; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Producer is the part of *kgo.Client the server uses.
type Producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

// OutcomeStore gives a request's latest outcome (the wallet stage's
// outcome record, JSON) by request id. Safe for concurrent use.
type OutcomeStore interface {
	Outcome(requestID string) (json.RawMessage, bool)
}

// Server is the http.Handler of the endpoint. Safe for concurrent use.
type Server struct {
	cfg  Config
	prod Producer
	log  *slog.Logger
}

// New builds a Server. prod should be an idempotent producer (franz-go's
// default) with a record delivery timeout.
func New(cfg Config, prod Producer) (*Server, error) {
	if len(cfg.Tokens) == 0 {
		return nil, errors.New("httpwallet: at least one token is required")
	}
	for _, t := range cfg.Tokens {
		if len(t) < 16 {
			return nil, errors.New("httpwallet: tokens must be at least 16 characters")
		}
	}
	if prod == nil {
		return nil, errors.New("httpwallet: a producer is required")
	}
	if cfg.Topic == "" {
		cfg.Topic = wallet.TopicRedemptions
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.ProduceTimeout <= 0 {
		cfg.ProduceTimeout = 5 * time.Second
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{cfg: cfg, prod: prod, log: cfg.Logger}, nil
}

// Accepted is the body of a 202.
type Accepted struct {
	RequestID      string `json:"request_id"`
	IdempotencyKey string `json:"idempotency_key"`
	RepID          string `json:"rep_id"`
	Status         string `json:"status"`
}

// Problem is the body of every error answer. Field and Reason are set on
// a 422: the field at fault and a stable reason code.
type Problem struct {
	Error  string `json:"error"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// HeaderIdempotencyKey is the header that carries a request's
// idempotency key.
const HeaderIdempotencyKey = "Idempotency-Key"

// RequestID is the id a request is answered with: derived from the rep and
// the idempotency key, so a retry gets the same id.
func RequestID(repID, key string) string {
	h := sha256.Sum256([]byte(repID + "\x00" + key))
	return "red_" + hex.EncodeToString(h[:12])
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="accrue"`)
		reply(w, http.StatusUnauthorized, Problem{Error: "missing or invalid bearer token"})
		return
	}
	if id, ok := strings.CutPrefix(r.URL.Path, Path+"/"); ok && id != "" && !strings.Contains(id, "/") {
		s.get(w, r, id)
		return
	}
	if r.URL.Path != Path {
		reply(w, http.StatusNotFound, Problem{Error: "path must be " + Path + " or " + Path + "/{request_id}"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, Problem{Error: "use POST"})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			reply(w, http.StatusUnsupportedMediaType, Problem{Error: "the body must be application/json"})
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			reply(w, http.StatusRequestEntityTooLarge, Problem{Error: fmt.Sprintf("body larger than %d bytes", mbe.Limit)})
			return
		}
		reply(w, http.StatusBadRequest, Problem{Error: "reading body: " + err.Error()})
		return
	}
	req, prob, status := s.decode(r.Header.Get(HeaderIdempotencyKey), body)
	if prob != nil {
		reply(w, status, *prob)
		return
	}
	req.RequestID = RequestID(req.RepID, req.IdempotencyKey)
	req.RequestedAt = s.cfg.Now().UTC()
	value, err := json.Marshal(req)
	if err != nil {
		reply(w, http.StatusInternalServerError, Problem{Error: "encoding the request"})
		return
	}
	rec := &kgo.Record{Topic: s.cfg.Topic, Key: []byte(req.RepID), Value: value}
	if err := s.produce(r.Context(), rec); err != nil {
		s.log.Warn("redemptions: kafka did not take the request", "request_id", req.RequestID, "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(int(s.cfg.RetryAfter.Round(time.Second)/time.Second)))
		reply(w, http.StatusTooManyRequests, Problem{Error: "the wallet cannot take requests now; retry later with the same Idempotency-Key"})
		return
	}
	reply(w, http.StatusAccepted, Accepted{RequestID: req.RequestID, IdempotencyKey: req.IdempotencyKey, RepID: req.RepID, Status: "pending"})
}

// get answers GET /v1/redemptions/{request_id} with the request's latest
// outcome.
func (s *Server) get(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		reply(w, http.StatusMethodNotAllowed, Problem{Error: "use GET"})
		return
	}
	if s.cfg.Outcomes == nil {
		reply(w, http.StatusNotFound, Problem{Error: "outcomes are not served here: read the wallet's outcomes topic"})
		return
	}
	o, ok := s.cfg.Outcomes.Outcome(id)
	if !ok {
		reply(w, http.StatusNotFound, Problem{Error: "no outcome for this request yet: it is pending, or was never taken"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(o)
}

// decode reads and checks the body and the key; on failure it returns the
// problem and its status.
func (s *Server) decode(key string, body []byte) (*wallet.RequestRecord, *Problem, int) {
	if strings.TrimSpace(key) == "" {
		return nil, &Problem{Error: "the Idempotency-Key header is required: one key per redemption the rep asks for",
			Field: HeaderIdempotencyKey, Reason: "missing"}, http.StatusUnprocessableEntity
	}
	var in struct {
		RepID        string          `json:"rep_id"`
		Type         string          `json:"type"`
		Amount       json.RawMessage `json:"amount"`
		All          bool            `json:"all"`
		Currency     string          `json:"currency"`
		ItemID       string          `json:"item_id"`
		Face         json.RawMessage `json:"face"`
		FaceCurrency string          `json:"face_currency"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || dec.More() {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, &Problem{Error: fmt.Sprintf("field %s: a JSON %s where %s is expected", te.Field, te.Value, te.Type),
				Field: te.Field, Reason: "invalid_type"}, http.StatusUnprocessableEntity
		}
		if err != nil && strings.HasPrefix(err.Error(), "json: unknown field ") {
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return nil, &Problem{Error: fmt.Sprintf("unknown field %q", f), Field: f, Reason: "unknown_field"}, http.StatusUnprocessableEntity
		}
		return nil, &Problem{Error: "the body must be one JSON object"}, http.StatusBadRequest
	}
	req := &wallet.RequestRecord{IdempotencyKey: key, RepID: in.RepID, Type: in.Type, All: in.All, Currency: in.Currency,
		ItemID: in.ItemID, FaceCurrency: in.FaceCurrency}
	var err error
	if req.Amount, err = decimalOf(in.Amount); err != nil {
		return nil, &Problem{Error: "amount is not a decimal number", Field: "amount", Reason: wallet.ReasonInvalidAmount}, http.StatusUnprocessableEntity
	}
	if req.Face, err = decimalOf(in.Face); err != nil {
		return nil, &Problem{Error: "face is not a decimal number", Field: "face", Reason: wallet.ReasonInvalidAmount}, http.StatusUnprocessableEntity
	}
	if err := req.Validate(); err != nil {
		var rj *pipeline.Reject
		p := &Problem{Error: err.Error()}
		if errors.As(err, &rj) {
			p.Error, p.Field, p.Reason = rj.Err.Error(), rj.Field, rj.Reason
			if p.Field == "idempotency_key" {
				p.Field = HeaderIdempotencyKey
			}
		}
		return nil, p, http.StatusUnprocessableEntity
	}
	return req, nil, 0
}

// produce hands rec to Kafka and waits for its acknowledgement, or
// ProduceTimeout.
func (s *Server) produce(ctx context.Context, rec *kgo.Record) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ProduceTimeout)
	defer cancel()
	done := make(chan error, 1)
	s.prod.Produce(ctx, rec, func(_ *kgo.Record, err error) { done <- err })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// The record may still be delivered; the client's retry with the
		// same key is harmless.
		return ctx.Err()
	}
}

// decimalOf reads a JSON string or number as a decimal; nil when absent.
func decimalOf(raw json.RawMessage) (*decimal.Decimal, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var d decimal.Decimal
	if err := d.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	return &d, nil
}

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return false
	}
	match := 0
	for _, t := range s.cfg.Tokens {
		// Every token is compared, so the time taken does not tell
		// which one matched.
		match |= subtle.ConstantTimeCompare([]byte(tok), []byte(t))
	}
	return match == 1
}

func reply(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
