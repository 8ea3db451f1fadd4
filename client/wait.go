package client

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// The retry rules of the package documentation.
const (
	// defaultPoll is the wait after a 202 or 304 without a usable
	// Retry-After: the service's own poll interval.
	defaultPoll = 2 * time.Second
	// maxRetries is the budget shared by network errors, 429 and 503 over
	// consecutive failures.
	maxRetries = 4
	// firstBackoff doubles with each consecutive failure: 1 s, 2 s, 4 s, 8 s.
	firstBackoff = time.Second
)

// Wait polls job jobID until it is COMPLETED or FAILED, and returns that
// status: FAILED is a result, not an error. It follows the rules of the
// package documentation: it waits what the service asks (within the poll
// bounds, with 0–10 % of jitter, never sooner), polls conditionally with
// the last ETag, retries network errors, 429 and 503 at most 4 times in a
// row, and asks the token source again once after a 401.
//
// onUpdate, when not nil, is called on Wait's goroutine with each change of
// the job's state, the first answer included (never for a 304); the Status
// it gets is not modified afterwards.
//
// When ctx ends, Wait returns ctx.Err(); when the next wait could not end
// before ctx's deadline, it returns [context.DeadlineExceeded] at once.
// Errors otherwise are those of [Client.Status] (a redirect, or a malformed
// answer, included), [ErrRateLimited] when 429s
// exhaust the retries, an [*APIError] of StatusCode 503 when 503s do, and
// the transport's error, wrapped, when network errors do.
func (c *Client) Wait(ctx context.Context, jobID string, onUpdate func(*Status)) (*Status, error) {
	var (
		last     *Status // the last status received
		failures int     // consecutive network errors, 429s and 503s
	)
	for {
		etag := ""
		if last != nil {
			etag = last.ETag
		}
		a, err := c.poll(ctx, jobID, etag)
		var wait time.Duration
		var netErr *netError
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.As(err, &netErr):
			if failures++; failures > maxRetries {
				return nil, err
			}
			wait = c.backoff(failures)
		case err != nil:
			return nil, err
		case a.code == http.StatusOK || a.code == http.StatusAccepted:
			failures = 0
			s, err := c.decode(a, jobID)
			if err != nil {
				return nil, err
			}
			if onUpdate != nil && (last == nil || last.State != s.State) {
				onUpdate(s)
			}
			if finished(s.State) {
				return s, nil
			}
			last = s
			wait = c.pace(a)
		case a.code == http.StatusNotModified:
			failures = 0
			if last == nil {
				return nil, malformed(a.code, errors.New("304 to a request without If-None-Match"))
			}
			// Unchanged: the same status, with this answer's headers.
			s := *last
			s.RetryAfter = a.retryAfter
			if a.etag != "" {
				s.ETag = a.etag
			}
			last = &s
			wait = c.pace(a)
		case a.code == http.StatusTooManyRequests || a.code == http.StatusServiceUnavailable:
			if failures++; failures > maxRetries {
				return nil, a.apiError()
			}
			if !a.hasRetryAfter {
				wait = c.backoff(failures)
				break
			}
			// A hard "not before": never sooner, and never beyond the bound.
			if a.retryAfter > c.maxWait {
				return nil, a.apiError()
			}
			wait = max(a.retryAfter, c.minWait)
		default:
			return nil, a.apiError()
		}
		// Jitter spreads pollers out, within the maximum like every wait.
		wait = min(jitter(wait), c.maxWait)
		if deadline, ok := ctx.Deadline(); ok && c.now().Add(wait).After(deadline) {
			return nil, context.DeadlineExceeded
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// pace is the wait after a 202 or 304: what the service asks, or its own
// interval, within the bounds.
func (c *Client) pace(a *answer) time.Duration {
	d := defaultPoll
	if a.hasRetryAfter {
		d = a.retryAfter
	}
	return min(max(d, c.minWait), c.maxWait)
}

// backoff is the wait after the n-th consecutive failure without a
// Retry-After: 1 s, 2 s, 4 s, 8 s, within the bounds.
func (c *Client) backoff(n int) time.Duration {
	return min(max(firstBackoff<<(n-1), c.minWait), c.maxWait)
}

// jitter lengthens d by 0–10 % of itself: never shorter than asked.
func jitter(d time.Duration) time.Duration {
	return d + rand.N(d/10+1) // #nosec G404 -- jitter spreads pollers out; nothing depends on it being unpredictable
}

// parseRetryAfter reads a Retry-After field: delay-seconds (a non-negative
// integer) or an HTTP-date, which counts from now (a past date asks for no
// wait). ok is false when the field is absent or is neither.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		n, err := strconv.ParseUint(v, 10, 64)
		switch {
		case err == nil && n <= uint64(math.MaxInt64/time.Second):
			return time.Duration(n) * time.Second, true
		case errors.Is(err, strconv.ErrRange), err == nil:
			// Digits too many to count: as far away as can be said.
			return math.MaxInt64, true
		}
		return 0, false
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
