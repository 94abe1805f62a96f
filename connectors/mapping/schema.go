package mapping

import _ "embed"

// Schema is the JSON Schema (draft 2020-12) of a mapping config, for
// editors and for checking configs outside Go. Parse checks more than it
// can say (paths, layouts, zones, which fields are required together).
//
//go:embed schema.json
var Schema []byte
