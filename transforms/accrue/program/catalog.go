package program

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/accrue/accrue/transforms/reference"
)

// Published is a program as the catalog holds it: one version, and when it
// was published (zero for a program added from a file).
type Published struct {
	*Program
	PublishedAt time.Time
}

// Catalog is the set of published programs by id and version, as the
// compacted Topic holds them. Feed it every record of the topic, in order,
// with Apply; query it with InForce, At, Latest and Versions. It is safe
// for concurrent use: queries may run while records are applied, and
// the programs they return never change.
//
// Which version is in force on a day: the highest version whose effective
// dates hold that day. A new version therefore takes effect from its
// effective_from, and the versions before it stay in force before that
// date; if it ends (effective_to) and an older version has no end, the
// older one is in force again after it.
type Catalog struct {
	mu   sync.RWMutex
	byID map[string][]Published // ascending version
}

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog { return &Catalog{byID: map[string][]Published{}} }

// Apply applies one record of Topic. A tombstone (nil or empty value)
// withdraws that version. Otherwise the record replaces what the catalog
// held for its key, as compaction would: the last record of a key wins.
// A record that cannot be read (an error wrapping ErrRecord) withdraws
// the version it names too, so that the catalog holds the same before
// and after the topic is compacted; it is the caller's to report.
func (c *Catalog) Apply(key, value []byte) error {
	id, version, err := SplitKey(key)
	if err != nil {
		return err
	}
	if len(value) == 0 {
		c.remove(id, version)
		return nil
	}
	pb, err := DecodeRecord(key, value)
	if err != nil {
		c.remove(id, version)
		return err
	}
	c.put(*pb)
	return nil
}

// Add adds a program read from a file (PublishedAt zero). Adding the same
// id and version again is a no-op when the document is the same and an
// error when it differs: one version of a program is one document.
func (c *Catalog) Add(p *Program) error {
	c.mu.RLock()
	old, ok := c.find(p.ID, p.Version)
	c.mu.RUnlock()
	if ok {
		if old.Digest != p.Digest {
			return fmt.Errorf("program %s is given twice with different documents", p.Key())
		}
		return nil
	}
	c.put(Published{Program: p})
	return nil
}

func (c *Catalog) put(pb Published) {
	c.mu.Lock()
	defer c.mu.Unlock()
	vs := c.byID[pb.ID]
	i := sort.Search(len(vs), func(i int) bool { return vs[i].Version >= pb.Version })
	// Copy on write: slices handed out by Versions stay as they were.
	next := make([]Published, 0, len(vs)+1)
	next = append(next, vs[:i]...)
	next = append(next, pb)
	if i < len(vs) && vs[i].Version == pb.Version {
		i++
	}
	next = append(next, vs[i:]...)
	c.byID[pb.ID] = next
}

func (c *Catalog) remove(id string, version int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	vs := c.byID[id]
	i := sort.Search(len(vs), func(i int) bool { return vs[i].Version >= version })
	if i == len(vs) || vs[i].Version != version {
		return
	}
	if len(vs) == 1 {
		delete(c.byID, id)
		return
	}
	next := make([]Published, 0, len(vs)-1)
	c.byID[id] = append(append(next, vs[:i]...), vs[i+1:]...)
}

// find is the version of id; c.mu is held.
func (c *Catalog) find(id string, version int) (Published, bool) {
	for _, v := range c.byID[id] {
		if v.Version == version {
			return v, true
		}
	}
	return Published{}, false
}

// Get is one version of a program.
func (c *Catalog) Get(id string, version int) (Published, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.find(id, version)
}

// IDs lists the programs that have a version, in id order.
func (c *Catalog) IDs() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.byID))
	for id := range c.byID {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Versions lists the versions of id, lowest first; nil when there is
// none. The caller may keep the slice but must not change it.
func (c *Catalog) Versions(id string) []Published {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byID[id]
}

// Latest is the highest version of id, whatever its dates; nil when there
// is none.
func (c *Catalog) Latest(id string) *Program {
	c.mu.RLock()
	defer c.mu.RUnlock()
	vs := c.byID[id]
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1].Program
}

// InForce is the version of id in force on day, a local date in the
// program's time zone (LocalDate): the highest version whose effective
// dates hold it. nil when none does.
//
// Versions of one program may name different time zones; At takes each
// version's own.
func (c *Catalog) InForce(id string, day reference.Date) *Program {
	c.mu.RLock()
	defer c.mu.RUnlock()
	vs := c.byID[id]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].InEffect(day) {
			return vs[i].Program
		}
	}
	return nil
}

// At is the version of id in force at instant t: the highest version whose
// effective dates hold t's date in that version's time zone. nil when none
// does.
func (c *Catalog) At(id string, t time.Time) *Program {
	c.mu.RLock()
	defer c.mu.RUnlock()
	vs := c.byID[id]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].InEffect(LocalDate(t, vs[i].Location)) {
			return vs[i].Program
		}
	}
	return nil
}
