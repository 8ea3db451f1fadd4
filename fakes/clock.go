package fakes

import (
	"sync/atomic"
	"time"
)

// Clock is a settable time source, safe for concurrent use: pass its Now
// where a component takes a clock. Make one with NewClock.
type Clock struct {
	now atomic.Pointer[time.Time]
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock {
	c := new(Clock)
	c.Set(t)
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return *c.now.Load() }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.now.Store(&t) }

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	for {
		old := c.now.Load()
		t := old.Add(d)
		if c.now.CompareAndSwap(old, &t) {
			return
		}
	}
}
