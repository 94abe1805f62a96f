package program

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/accrue/accrue/internal/yamldoc"
	"strconv"
	"strings"
	"time"
)

// Topic is the compacted topic that published programs live on, one record
// per program version.
const Topic = "programs"

// ErrRecord marks a record of Topic that cannot be read: a bad key, a value
// that is not a publication, a digest that does not match, or a document
// that Parse refuses (then errors.As also finds its Problems).
var ErrRecord = errors.New("program: bad record")

// Publication is the value of a record on Topic, keyed by Program.Key
// ("id@version"):
//
//	{"id": "ae-commission", "version": 3, "digest": "<hex SHA-256 of document>",
//	 "published_at": "2026-11-30T09:12:44.031Z", "document": "id: ae-commission\n…"}
//
// The document is the YAML exactly as written, so that its digest can be
// checked and the program parsed again by any reader. id, version and
// digest repeat what the document says for readers that only list. Readers
// ignore fields they do not know.
type Publication struct {
	ID          string    `json:"id"`
	Version     int       `json:"version"`
	Digest      string    `json:"digest"`
	PublishedAt time.Time `json:"published_at"`
	Document    string    `json:"document"`
}

// NewPublication is the publication of p at time at (kept in UTC, to the
// millisecond).
func NewPublication(p *Program, at time.Time) Publication {
	return Publication{ID: p.ID, Version: p.Version, Digest: p.Digest,
		PublishedAt: at.UTC().Truncate(time.Millisecond), Document: string(p.Document)}
}

// Key is the record key: "id@version".
func (pb Publication) Key() []byte { return []byte(pb.ID + "@" + strconv.Itoa(pb.Version)) }

// Value is the record value, JSON. It fails only for a PublishedAt
// outside the years 0..9999.
func (pb Publication) Value() ([]byte, error) { return json.Marshal(pb) }

// SplitKey reads a record key "id@version". The id is everything before
// the last '@' (ids cannot hold one).
func SplitKey(key []byte) (id string, version int, err error) {
	k := string(key)
	i := strings.LastIndexByte(k, '@')
	if i <= 0 {
		return "", 0, fmt.Errorf("%w: key %q is not id@version", ErrRecord, yamldoc.Clip(k))
	}
	v, err := strconv.Atoi(k[i+1:])
	if err != nil || v < 1 || strconv.Itoa(v) != k[i+1:] {
		return "", 0, fmt.Errorf("%w: key %q is not id@version", ErrRecord, yamldoc.Clip(k))
	}
	return k[:i], v, nil
}

// DecodeRecord reads a record of Topic into its program, whose
// PublishedAt is set. It checks that key, publication and document agree
// and that the document is still a valid program; an error wraps
// ErrRecord. A nil or empty value (a tombstone) is an error here; Catalog
// treats it as a withdrawal.
func DecodeRecord(key, value []byte) (*Published, error) {
	id, version, err := SplitKey(key)
	if err != nil {
		return nil, err
	}
	var pb Publication
	if err := json.Unmarshal(value, &pb); err != nil {
		return nil, fmt.Errorf("%w: %s: value is not a publication: %v", ErrRecord, key, err)
	}
	if pb.ID != id || pb.Version != version {
		return nil, fmt.Errorf("%w: %s: the value is %s@%d", ErrRecord, key, pb.ID, pb.Version)
	}
	doc := []byte(pb.Document)
	if d := digest(doc); d != pb.Digest {
		return nil, fmt.Errorf("%w: %s: digest %s does not match the document's %s", ErrRecord, key, yamldoc.Clip(pb.Digest), d)
	}
	p, err := Parse(string(key), doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: the document is not a valid program: %w", ErrRecord, key, err)
	}
	if p.ID != id || p.Version != version {
		return nil, fmt.Errorf("%w: %s: the document is %s", ErrRecord, key, p.Key())
	}
	return &Published{Program: p, PublishedAt: pb.PublishedAt}, nil
}
