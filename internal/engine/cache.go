package engine

import "sync"

// ProgramCache hands the program compiled while checking a deploy to the
// load that usually follows, so that a deploy compiles once. It keeps only
// a handful: checked programs that never get loaded must not pile up.
type ProgramCache struct {
	mu sync.Mutex
	m  map[string]*Program
}

// Put keeps p under the digest of its bundle.
func (c *ProgramCache) Put(digest string, p *Program) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*Program{}
	}
	if len(c.m) >= 64 {
		clear(c.m)
	}
	c.m[digest] = p
}

// Take removes and returns the program kept under digest, or nil.
func (c *ProgramCache) Take(digest string) *Program {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.m[digest]
	delete(c.m, digest)
	return p
}
