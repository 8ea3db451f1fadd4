// Package client waits for VPR reports: it polls the status endpoint
// (GET /api/vpr/status/{job_id}) the way the service asks, and fetches the
// result. It uses the standard library only, so importing it pulls in no
// AWS, JWT or OpenTelemetry code.
//
//	c, err := client.New("https://api.example.com", client.WithToken(tokens))
//	s, err := c.Wait(ctx, jobID, nil)         // COMPLETED or FAILED
//	report, err := c.FetchResult(ctx, s)      // when s.State == "COMPLETED"
//
// # Polling rules
//
// [Client.Wait] follows the rules the browser module web/vprpoll.js follows
// too:
//
//   - Pacing. After a 202 or 304 it waits what Retry-After asks (2 s, the
//     service's own interval, when the answer has no usable Retry-After),
//     raised to the minimum interval and capped at the maximum one (1 s and
//     30 s unless [WithPollBounds] says otherwise). Retry-After is read as
//     delay-seconds or an HTTP-date; anything else is treated as absent.
//   - Jitter. Every wait is then lengthened by 0–10 % of itself, within
//     the maximum interval, so a client never polls sooner than asked, and
//     many clients spread out.
//   - Conditional polling. The last ETag goes back in If-None-Match; a 304
//     means "unchanged" and keeps the last status.
//   - 429 and 503. Their Retry-After is a hard "not before": the poller
//     waits it out (raised to the minimum interval), and when it is beyond
//     the maximum interval it fails at once, with [ErrRateLimited] or an
//     [*APIError] of StatusCode 503 carrying the RetryAfter.
//   - Retries. Network errors, 503 and 429 share one budget of 4 retries
//     (5 attempts) over consecutive failures; any 2xx or 304 resets it.
//     Without a Retry-After they back off 1 s, 2 s, 4 s, 8 s (capped at the
//     maximum interval), with the same jitter.
//   - 401. The token source is called once more and the request repeated at
//     once; a second 401 fails with [ErrUnauthorized].
//   - 403, 404, 410, any other error status, a redirect, and a body that
//     is not the expected JSON end the poll at once, without a retry.
//   - The context. Wait returns ctx.Err() when ctx ends, and fails at once
//     with [context.DeadlineExceeded] when the next wait could not end
//     before ctx's deadline.
//
// COMPLETED and FAILED end the poll; FAILED is a result, not an error.
//
// # Untrusted answers
//
// The two clients treat every answer as untrusted input, a proxy gone wrong
// or a compromised host included:
//
//   - No token on redirects. The API never redirects a poll, so a status
//     request is never redirected: a 3xx (but 304) is an error that names
//     its Location (without its query), and no second request is made. This holds for a client
//     given with [WithHTTPClient] too (its copy refuses redirects; the
//     caller's is not changed). Result fetches carry no token, and follow
//     redirects.
//   - Bounded bodies. A status or error body is read up to 64 KiB, a result
//     up to 32 MiB, after decompression; a Content-Length over the bound is
//     refused before reading. The status code is read first: a 401 or 503
//     whose body is over the bound is still a 401 (after the one fresh
//     token, [ErrUnauthorized]) or a 503 (retried); only a 200 or 202 status
//     body, or a result, over its bound is an error.
//   - Bounded time. Each request, headers and body, is bounded by the HTTP
//     client's Timeout: 30 s by default, and for a client given with
//     [WithHTTPClient] without a Timeout of its own. Expiry is a network
//     error, retried like one.
//   - Answers that agree. A 200 or 202 body must be JSON of the job asked
//     for (job_id equal to the id, letter case aside), with a state that
//     agrees with the code: PENDING or PROCESSING on a 202, COMPLETED or
//     FAILED on a 200. A FAILED body's error must be a string; a COMPLETED
//     body's result_url an absolute https: URL (http: too when the base URL
//     is http:, for local development), without credentials, with a valid
//     port. Anything else is a malformed answer, not retried.
//   - No secrets in errors. A result URL is a bearer secret until it
//     expires: no error of this package holds a URL's query (where a
//     presigned URL's signature is) or credentials.
//
// Server-controlled text (problem details, a FAILED job's error) reaches
// [APIError] and [Status] as received: a program that prints it to a
// terminal escapes control characters first, as cmd/vprpoll does.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of the options.
const (
	defaultUserAgent = "vprstatus-client/1"
	defaultMinWait   = time.Second
	defaultMaxWait   = 30 * time.Second
	// defaultTimeout bounds each request of the default HTTP client, so a
	// stalled connection becomes a network error (retried) instead of a
	// poll that never returns.
	defaultTimeout = 30 * time.Second
)

// Client polls one deployment of the status API. It is safe for concurrent
// use by multiple goroutines.
type Client struct {
	base       string // the base URL, without a trailing slash
	baseScheme string // "http" or "https": which result URLs are usable
	token      func(context.Context) (string, error)
	hc         *http.Client // result fetches, as given
	statusHC   *http.Client // status requests: hc, refusing redirects
	userAgent  string
	minWait    time.Duration
	maxWait    time.Duration

	// Hooks for tests (export_test.go): the clock and the sleep behind
	// every wait.
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

// An Option configures a Client in [New].
type Option func(*Client) error

// WithToken sets the source of the bearer token. It is called for each
// request, so it may refresh the token as it pleases; after a 401 it is
// called once more, and the request repeated, before giving up with
// [ErrUnauthorized]. An error from it ends the call that needed the token,
// wrapped, without a retry. Without it, requests carry no Authorization
// header.
func WithToken(token func(context.Context) (string, error)) Option {
	return func(c *Client) error {
		if token == nil {
			return errors.New("WithToken: nil func")
		}
		c.token = token
		return nil
	}
}

// WithHTTPClient sets the HTTP client of every request, status and result
// alike. The default is an http.Client on http.DefaultTransport with a 30 s
// timeout per request. Status requests go through a copy of hc that refuses
// every redirect (the caller's hc is not modified). hc's Timeout bounds each
// request; a client without one (an http.Client's zero value) is used
// through a copy with the default 30 s, so that a stalled server cannot hold
// a poll until ctx ends: give hc a Timeout of its own for another bound.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("WithHTTPClient: nil client")
		}
		if hc.Timeout <= 0 {
			cp := *hc
			cp.Timeout = defaultTimeout
			hc = &cp
		}
		c.hc = hc
		return nil
	}
}

// WithUserAgent sets the User-Agent of every request (default
// "vprstatus-client/1"). An empty string sends none.
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		c.userAgent = ua
		return nil
	}
}

// WithPollBounds sets the shortest and the longest wait between polls
// (default 1 s and 30 s); max is at most a day. See the package
// documentation for how they apply.
func WithPollBounds(min, max time.Duration) Option {
	return func(c *Client) error {
		if min < 0 || max <= 0 || min > max || max > 24*time.Hour {
			return fmt.Errorf("WithPollBounds(%v, %v): want 0 ≤ min ≤ max, and 0 < max ≤ 24h", min, max)
		}
		c.minWait, c.maxWait = min, max
		return nil
	}
}

// New returns a client of the status API at baseURL, such as
// "http://127.0.0.1:8080" or "https://api.example.com/prod" (a path prefix
// is kept: status requests go to baseURL + "/api/vpr/status/{job_id}").
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("vprstatus client: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("vprstatus client: base URL %q: want http(s)://host[/prefix], without credentials, query or fragment", u.Redacted())
	}
	c := &Client{
		base:       strings.TrimRight(u.String(), "/"),
		baseScheme: u.Scheme,
		hc:         &http.Client{Timeout: defaultTimeout},
		userAgent:  defaultUserAgent,
		minWait:    defaultMinWait,
		maxWait:    defaultMaxWait,
		now:        time.Now,
		sleep:      sleep,
	}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, fmt.Errorf("vprstatus client: %w", err)
		}
	}
	c.statusHC = refusingRedirects(c.hc)
	return c, nil
}

// refusingRedirects returns a copy of hc whose transport turns every
// redirect into an error, before http.Client could follow it: Go's keeps
// Authorization on a redirect to the same host on another port, from
// https: to http:, or to a subdomain, and the API never redirects a poll.
// (CheckRedirect would come too late: http.Client fails on a Location it
// cannot parse before asking it, and that error would read as a network
// error.) The copy shares hc's Transport, Jar and Timeout.
func refusingRedirects(hc *http.Client) *http.Client {
	cp := *hc
	next := cp.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cp.Transport = redirectGuard{next}
	return &cp
}

// redirectGuard is an http.RoundTripper that answers no redirect.
type redirectGuard struct{ next http.RoundTripper }

func (g redirectGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := g.next.RoundTrip(r)
	if err != nil || !isRedirect(resp.StatusCode) {
		return resp, err
	}
	drainClose(resp.Body)
	return nil, newRedirectError(resp)
}

// Status asks for the state of job jobID once: one request, repeated only
// when it is answered 401 and the token source gives a fresh token. It does
// not wait, and does not retry network errors, 429 or 503.
//
// A 202 or 200 gives the Status, with the answer's ETag and Retry-After.
// Error answers give an [*APIError] that matches the package's sentinels
// with errors.Is; a body that is not the expected JSON, another error.
func (c *Client) Status(ctx context.Context, jobID string) (*Status, error) {
	a, err := c.poll(ctx, jobID, "")
	if err != nil {
		return nil, err
	}
	switch a.code {
	case http.StatusOK, http.StatusAccepted:
		return c.decode(a, jobID)
	case http.StatusNotModified:
		return nil, malformed(a.code, errors.New("304 to a request without If-None-Match"))
	}
	return nil, a.apiError()
}

// answer is one HTTP answer, its body read.
type answer struct {
	code          int
	etag          string
	retryAfter    time.Duration
	hasRetryAfter bool   // a usable Retry-After came with the answer
	body          []byte // at most maxStatusBody bytes
	tooLarge      bool   // the body was over maxStatusBody: body is its start, or empty
}

// decode decodes a 200 or 202 answer to a request for jobID.
func (c *Client) decode(a *answer, jobID string) (*Status, error) {
	if a.tooLarge {
		return nil, malformed(a.code, fmt.Errorf("%w (over %d bytes)", errTooLarge, maxStatusBody))
	}
	s, err := decodeStatus(a.body, jobID, c.baseScheme)
	if err == nil {
		err = stateAgrees(a.code, s.State)
	}
	if err != nil {
		return nil, malformed(a.code, err)
	}
	s.ETag, s.RetryAfter = a.etag, a.retryAfter
	return s, nil
}

// poll sends one status request, and repeats it at once with a fresh token
// after a 401.
func (c *Client) poll(ctx context.Context, jobID, etag string) (*answer, error) {
	if jobID == "" {
		return nil, errors.New("vprstatus client: empty job id")
	}
	a, err := c.send(ctx, jobID, etag)
	if err != nil || a.code != http.StatusUnauthorized || c.token == nil {
		return a, err
	}
	return c.send(ctx, jobID, etag)
}

// maxStatusBody bounds what is read of a status answer; the service's are
// well under 2 KiB.
const maxStatusBody = 64 << 10

// send makes one status request.
func (c *Client) send(ctx context.Context, jobID, etag string) (*answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/vpr/status/"+url.PathEscape(jobID), nil)
	if err != nil {
		return nil, fmt.Errorf("vprstatus client: %w", err)
	}
	if c.token != nil {
		tok, err := c.token(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("vprstatus client: token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	c.setUserAgent(req)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := c.statusHC.Do(req)
	if err != nil {
		var re *redirectError
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.As(err, &re):
			return nil, re
		}
		return nil, &netError{err}
	}
	defer drainClose(resp.Body)
	// The code counts before the size: a 401 or 503 with a body over the
	// bound is still a 401 or 503.
	body, err := readAtMost(resp.Body, resp.ContentLength, maxStatusBody)
	tooLarge := errors.Is(err, errTooLarge)
	if err != nil && !tooLarge {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &netError{fmt.Errorf("reading the %d answer: %w", resp.StatusCode, err)}
	}
	a := &answer{code: resp.StatusCode, etag: resp.Header.Get("ETag"), body: body, tooLarge: tooLarge}
	a.retryAfter, a.hasRetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), c.now())
	return a, nil
}

// isRedirect: a 3xx other than 304, which is an answer of its own.
func isRedirect(code int) bool {
	return code >= 300 && code < 400 && code != http.StatusNotModified
}

// redirectError: a status request answered with a redirect, not followed.
type redirectError struct {
	code     int
	location string // cut to maxLocation bytes
}

// maxLocation bounds how much of a Location an error repeats.
const maxLocation = 256

func newRedirectError(resp *http.Response) *redirectError {
	loc := resp.Header.Get("Location")
	// Without what may be secret, as every error here: query, fragment and
	// credentials.
	if u, err := url.Parse(loc); err == nil {
		u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
		loc = u.String()
	} else if i := strings.IndexAny(loc, "?#"); i >= 0 {
		loc = loc[:i]
	}
	if len(loc) > maxLocation {
		loc = strings.ToValidUTF8(loc[:maxLocation], "") + "…"
	}
	return &redirectError{code: resp.StatusCode, location: loc}
}

func (e *redirectError) Error() string {
	if e.location == "" {
		return fmt.Sprintf("vprstatus client: status request answered %d, a redirect without a Location: not followed (the API never redirects a poll)", e.code)
	}
	return fmt.Sprintf("vprstatus client: status request redirected (%d) to %q: not followed (the API never redirects a poll, and the bearer token must not go along)", e.code, e.location)
}

func (c *Client) setUserAgent(req *http.Request) {
	// An empty value makes net/http send no User-Agent at all, instead of
	// its own.
	req.Header["User-Agent"] = []string{c.userAgent}
}

// netError is a transport failure: no answer, or an answer cut short. Wait
// retries it.
type netError struct{ err error }

func (e *netError) Error() string { return "vprstatus client: " + e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

// errTooLarge: a body over its bound.
var errTooLarge = errors.New("body too large")

// readAtMost reads r to its end, failing with errTooLarge if it holds more
// than limit bytes; then b holds the first limit bytes. A declared length
// (Content-Length, -1 when unknown) over limit fails before reading, with b
// empty.
func readAtMost(r io.Reader, declared, limit int64) (b []byte, err error) {
	if declared > limit {
		return nil, fmt.Errorf("%w (Content-Length %d, over %d bytes)", errTooLarge, declared, limit)
	}
	b, err = io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return b[:limit], fmt.Errorf("%w (over %d bytes)", errTooLarge, limit)
	}
	return b, nil
}

// drainClose reads a little of what is left of body, so the connection can
// be reused, and closes it.
func drainClose(body io.ReadCloser) {
	// Errors here change nothing: the answer is read already.
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 4<<10))
	_ = body.Close()
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
