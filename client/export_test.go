package client

import (
	"context"
	"time"
)

// WithClock replaces the clock and the sleep behind every wait, so that
// tests of the pacing neither sleep nor depend on the time of day.
func WithClock(now func() time.Time, sleep func(context.Context, time.Duration) error) Option {
	return func(c *Client) error {
		c.now, c.sleep = now, sleep
		return nil
	}
}

// Timeouts are the per-request bounds of c's status and result requests.
func (c *Client) Timeouts() (status, result time.Duration) {
	return c.statusHC.Timeout, c.hc.Timeout
}
