package program

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/accrue/accrue/transforms/reference"
)

// Key is the program's key on the programs topic: "id@version".
func (p *Program) Key() string { return p.ID + "@" + strconv.Itoa(p.Version) }

// InEffect reports whether the local date day (in p.Location, see
// LocalDate) lies within the program's effective dates, both inclusive.
func (p *Program) InEffect(day reference.Date) bool {
	return day >= p.EffectiveFrom && (!p.HasEnd || day <= p.EffectiveTo)
}

// LocalDate is the calendar date of t in loc, counted like reference.Date:
// the day an event falls on for a program cut in loc.
func LocalDate(t time.Time, loc *time.Location) reference.Date {
	y, m, d := t.In(loc).Date()
	return reference.DateOf(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
}

// digest is the hex SHA-256 of a document.
func digest(doc []byte) string {
	sum := sha256.Sum256(doc)
	return hex.EncodeToString(sum[:])
}
