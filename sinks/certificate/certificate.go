// Package certificate renders award certificates as PDF documents, stores
// them, and verifies them by their code.
//
// A certificate's verification code is an HMAC-SHA256 of the award's id
// under a secret key, shortened to 80 bits and written in Crockford's
// base 32 as four groups of four ("7KQM-2XD4-PF9A-R3TB"). Issue renders the
// PDF (github.com/go-pdf/fpdf, fonts embedded: DejaVu Sans), stores it as
// CODE.pdf and its index entry as CODE.json in a Store. Verify finds the
// index entry of a code and recomputes the code from the award id it
// names: a code nobody issued is unknown, and an index entry written
// without the key does not match. Without the index, Check recomputes the
// code of a known award id.
//
// Rendering is deterministic: the same certificate renders to the same
// bytes (the PDF's dates are the award's), so that a replayed award
// rewrites the same file.
package certificate

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Certificate is what a certificate says.
type Certificate struct {
	// AwardID is the award's deterministic id; the code is derived from it.
	AwardID string `json:"award_id"`
	RepID   string `json:"rep_id"`
	RepName string `json:"rep_name"`
	// Badge is the badge's id; BadgeTitle what the certificate prints.
	Badge      string `json:"badge"`
	BadgeTitle string `json:"badge_title"`
	// Program is the program's (or contest's) name; ProgramID its id.
	ProgramID string `json:"program_id"`
	Program   string `json:"program"`
	Period    string `json:"period"`
	// Issued is the award's date.
	Issued time.Time `json:"issued"`
	// Title heads the certificate; VerifyHint is printed under the code.
	Title      string `json:"-"`
	VerifyHint string `json:"-"`
}

// Record is an index entry: the certificate, its code and where its PDF is.
type Record struct {
	Certificate
	Code string `json:"code"`
	URI  string `json:"uri"`
}

// Errors of Verify.
var (
	// ErrUnknown: no certificate was issued with this code.
	ErrUnknown = errors.New("certificate: no certificate has this code")
	// ErrForged: the index holds an entry for the code, but the code is
	// not the one the key gives its award: the entry was not written by
	// an issuer with the key.
	ErrForged = errors.New("certificate: the code does not match its award under the key")
	// ErrMalformed: the text is not a code.
	ErrMalformed = errors.New("certificate: not a verification code (XXXX-XXXX-XXXX-XXXX)")
)

var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// Code is the verification code of awardID under key.
func Code(key []byte, awardID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("accrue certificate\x00"))
	m.Write([]byte(awardID))
	s := crockford.EncodeToString(m.Sum(nil)[:10])
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// Normalize reads a code as a person may type it: any case, with or
// without dashes and spaces, O for 0 and I or L for 1.
func Normalize(code string) (string, error) {
	r := strings.NewReplacer("-", "", " ", "", "O", "0", "I", "1", "L", "1")
	s := r.Replace(strings.ToUpper(strings.TrimSpace(code)))
	if len(s) != 16 {
		return "", ErrMalformed
	}
	if _, err := crockford.DecodeString(s); err != nil {
		return "", ErrMalformed
	}
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16], nil
}

// Store keeps certificates and their index entries by name. Put replaces
// what a name held; it must be atomic (a reader sees the old or the new
// bytes, never part). Get returns ErrNotFound for a name never put.
// Implementations are safe for concurrent use.
type Store interface {
	Put(ctx context.Context, name string, data []byte) (uri string, err error)
	Get(ctx context.Context, name string) ([]byte, error)
}

// ErrNotFound is returned by a Store's Get for a name it does not hold.
var ErrNotFound = errors.New("certificate: not found")

// Issuer renders, stores and verifies certificates under one key.
type Issuer struct {
	key   []byte
	store Store
}

// NewIssuer returns an Issuer. The key must be at least 16 bytes: it is
// what makes codes unforgeable.
func NewIssuer(key []byte, store Store) (*Issuer, error) {
	if len(key) < 16 {
		return nil, fmt.Errorf("certificate: the key is %d bytes; give at least 16 (32 random bytes are best)", len(key))
	}
	if store == nil {
		return nil, errors.New("certificate: no store")
	}
	return &Issuer{key: bytes.Clone(key), store: store}, nil
}

// Issue renders c, stores the PDF and its index entry, and returns the
// entry. Issuing the same award again writes the same bytes again.
func (is *Issuer) Issue(ctx context.Context, c Certificate) (*Record, error) {
	code := Code(is.key, c.AwardID)
	pdf, err := Render(c, code)
	if err != nil {
		return nil, err
	}
	uri, err := is.store.Put(ctx, code+".pdf", pdf)
	if err != nil {
		return nil, fmt.Errorf("certificate: store %s.pdf: %w", code, err)
	}
	rec := &Record{Certificate: c, Code: code, URI: uri}
	idx, _ := json.MarshalIndent(rec, "", "  ")
	if _, err := is.store.Put(ctx, code+".json", append(idx, '\n')); err != nil {
		return nil, fmt.Errorf("certificate: store %s.json: %w", code, err)
	}
	return rec, nil
}

// Verify returns the certificate issued with code, from the store's index,
// after checking that code is the key's code of its award: ErrUnknown when
// no certificate has the code, ErrForged when the entry does not match.
func (is *Issuer) Verify(ctx context.Context, code string) (*Record, error) {
	code, err := Normalize(code)
	if err != nil {
		return nil, err
	}
	b, err := is.store.Get(ctx, code+".json")
	if errors.Is(err, ErrNotFound) {
		return nil, ErrUnknown
	}
	if err != nil {
		return nil, err
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%w: the index entry cannot be read: %v", ErrForged, err)
	}
	if !is.Check(code, rec.AwardID) || rec.Code != code {
		return nil, ErrForged
	}
	return &rec, nil
}

// Check reports whether code is the key's code of awardID, in constant
// time: verification by recomputing, without the index.
func (is *Issuer) Check(code, awardID string) bool {
	code, err := Normalize(code)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(code), []byte(Code(is.key, awardID)))
}
