package program

import _ "embed"

// Schema is the JSON Schema (draft 2020-12) of a program document, for
// editors and for checking documents outside Go (docs/programs/README.md
// says how). Every document Parse accepts is valid under it; Parse checks
// more than it can say (bands rising, effective_to after effective_from,
// time zones, ISO 4217, expressions, unique ids, override levels without
// a gap).
//
//go:embed schema.json
var Schema []byte
