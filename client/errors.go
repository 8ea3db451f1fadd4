package client

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinels for errors.Is. The [*APIError] of an answer with one of these
// codes matches the sentinel.
var (
	// ErrUnauthorized: 401, the token was missing or refused, twice when
	// the token source could be asked again.
	ErrUnauthorized = errors.New("vprstatus client: unauthorized")
	// ErrForbidden: 403, the job is another user's (or the result storage
	// refused a freshly signed URL).
	ErrForbidden = errors.New("vprstatus client: forbidden")
	// ErrNotFound: 404, no such job, or its record has expired.
	ErrNotFound = errors.New("vprstatus client: job not found")
	// ErrResultGone: 410, the job completed but its result is gone; the
	// report must be generated again.
	ErrResultGone = errors.New("vprstatus client: result gone")
	// ErrRateLimited: 429, polled too fast, after the retries the rules
	// allow or at once when Retry-After is beyond the maximum interval.
	ErrRateLimited = errors.New("vprstatus client: rate limited")
)

// APIError is an error answer of the service, or of the result storage.
//
// The service's error bodies are RFC 9457 problem details with the
// members "error" (a short statement) and "message" (what to do) beside
// "title" (the status code's reason phrase). Title is "title", or the
// reason phrase when the body has none. Detail is "detail" when the body
// has one; otherwise "error" and "message" joined by ": ", leaving out
// "error" where it only repeats the title (401 "Unauthorized", 403
// "Forbidden"). So a 410 reads "Result expired or deleted: Please
// regenerate the VPR" and a 401 "The bearer token is invalid or expired".
type APIError struct {
	StatusCode int
	Title      string
	Detail     string
	// Body is the answer's body as received (bounded in size). A result
	// storage's error body may echo the signed request: don't log it.
	Body []byte
	// RetryAfter is the answer's Retry-After, zero when it had none.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vprstatus client: %d %s", e.StatusCode, e.Title)
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %v)", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns the sentinel of e's status code, if it has one.
func (e *APIError) Unwrap() error {
	switch e.StatusCode {
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusGone:
		return ErrResultGone
	case http.StatusTooManyRequests:
		return ErrRateLimited
	}
	return nil
}

// apiError makes the error of a service answer that is not a status.
func (a *answer) apiError() *APIError {
	e := &APIError{StatusCode: a.code, Body: a.body, RetryAfter: a.retryAfter}
	var p struct {
		Title, Detail, Error, Message string
	}
	// A body that is not a problem leaves the fields empty: the status code
	// still says what happened.
	_ = json.Unmarshal(a.body, &p)
	e.Title = cmp.Or(p.Title, http.StatusText(a.code))
	switch {
	case p.Detail != "":
		e.Detail = p.Detail
	case strings.EqualFold(p.Error, e.Title) || p.Error == "":
		e.Detail = p.Message
	case p.Message == "":
		e.Detail = p.Error
	default:
		e.Detail = p.Error + ": " + p.Message
	}
	return e
}
