package ingest

import (
	"time"

	"github.com/accrue/accrue/connectors/httpingest"
)

// HTTPSplit adapts a Pipeline to HTTP ingest: each record of a request body
// is mapped and checked now, so that the caller hears of a bad record with
// its line and field in the response, and a good one is produced keyed by
// its identity.
func (p *Pipeline) HTTPSplit(now func() time.Time) func(body []byte, visit func(httpingest.Record)) error {
	return func(body []byte, visit func(httpingest.Record)) error {
		p.Run(body, now(), func(r Result) {
			switch {
			case r.Reject != nil:
				visit(httpingest.Record{Raw: r.Raw, Line: r.Line, Reject: r.Reject})
			case r.Skip != "":
				// Neither an event nor an error (a CDC update that
				// changes nothing): accepted, and the ingest stage
				// counts it again when it reads the raw topic.
				visit(httpingest.Record{Raw: r.Raw, Line: r.Line, Key: p.Mapper.Source()})
			default:
				visit(httpingest.Record{Raw: r.Raw, Line: r.Line, Key: string(Key(r.Event))})
			}
		})
		return nil
	}
}
