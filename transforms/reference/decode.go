package reference

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DecodeRow decodes and validates one row of kind from its JSON object.
// Unknown fields are refused for every kind but products, whose extra
// fields are attributes.
func DecodeRow(kind Kind, b []byte) (Row, error) {
	var (
		r   Row
		err error
	)
	switch kind {
	case Reps:
		v := Rep{ValidFrom: Forever}
		err, r = decodeStrict(b, &v), &v
	case Products:
		var v Product
		err, r = json.Unmarshal(b, &v), &v
	case Accounts:
		v := Account{ValidFrom: Forever}
		err, r = decodeStrict(b, &v), &v
	case FX:
		v := FXRate{ValidFrom: Forever}
		err, r = decodeStrict(b, &v), &v
	case Identities:
		v := Identity{ValidFrom: Forever}
		err, r = decodeStrict(b, &v), &v
	default:
		return nil, fmt.Errorf("unknown kind %q", kind)
	}
	if err != nil {
		return nil, jsonError(err)
	}
	row := deref(r)
	if err := row.validate(); err != nil {
		return nil, err
	}
	return row, nil
}

func deref(r Row) Row {
	switch v := r.(type) {
	case *Rep:
		return *v
	case *Product:
		return *v
	case *Account:
		return *v
	case *FXRate:
		return *v
	case *Identity:
		return *v
	}
	return r
}

// jsonError turns encoding/json's errors into FieldErrors where they name
// a field.
func jsonError(err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return &FieldError{Field: te.Field, Msg: "must be a " + te.Type.String()}
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &FieldError{Field: strings.Trim(f, `"`), Msg: "unknown field"}
	}
	return err
}

// Format is how a reference file is written.
type Format string

// The file formats.
const (
	JSONL Format = "jsonl" // one JSON object a line
	CSV   Format = "csv"   // a header row naming the fields, then one row a line
)

// FormatOf guesses a file's format from its name: ".csv" is CSV, anything
// else JSON lines.
func FormatOf(name string) Format {
	if strings.HasSuffix(strings.ToLower(name), ".csv") {
		return CSV
	}
	return JSONL
}

// LineError is a bad row of a reference file, with its line (1-based).
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// Read reads every row of a reference file of kind, calling fn for each
// good row with its line and bad for each bad one; a bad row does not stop
// the reading. An error from fn stops it and is returned, as is an error
// reading r.
func Read(kind Kind, r io.Reader, format Format, fn func(line int, row Row) error, bad func(*LineError)) error {
	if format == CSV {
		return readCSV(kind, r, fn, bad)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		row, err := DecodeRow(kind, b)
		if err != nil {
			bad(&LineError{Line: line, Err: err})
			continue
		}
		if err := fn(line, row); err != nil {
			return err
		}
	}
	return sc.Err()
}

func readCSV(kind Kind, r io.Reader, fn func(int, Row) error, bad func(*LineError)) error {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("csv header: %w", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad(&LineError{Line: pe.StartLine, Err: pe.Err})
				continue
			}
			return err
		}
		line, _ := cr.FieldPos(0) // only for a record read whole: it panics after an error
		if len(rec) != len(header) {
			bad(&LineError{Line: line, Err: fmt.Errorf("%d fields, the header has %d", len(rec), len(header))})
			continue
		}
		obj := make(map[string]string, len(rec))
		for i, v := range rec {
			if v = strings.TrimSpace(v); v != "" {
				obj[header[i]] = v
			}
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		row, err := DecodeRow(kind, b)
		if err != nil {
			bad(&LineError{Line: line, Err: err})
			continue
		}
		if err := fn(line, row); err != nil {
			return err
		}
	}
}

// Load reads a whole reference file of kind into t. It returns every bad
// row; none of them is loaded.
func (t *Tables) Load(kind Kind, r io.Reader, format Format) ([]*LineError, error) {
	var bad []*LineError
	err := Read(kind, r, format, func(_ int, row Row) error {
		t.Put(row)
		return nil
	}, func(e *LineError) { bad = append(bad, e) })
	return bad, err
}
