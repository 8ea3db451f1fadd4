package status

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Errors that only arise inside this package, on the way to an HTTP answer.
var (
	errInvalidID        = errors.New("job id is not a canonical UUID")
	errForbidden        = errors.New("job owned by another user")
	errNoResultKey      = errors.New("completed job has no result_key")
	errUnknownState     = errors.New("unknown job status")
	errNoRoute          = errors.New("no such route")
	errMethodNotAllowed = errors.New("method not allowed")
)

// rateLimitedError refuses a request because its caller polls too fast.
type rateLimitedError struct {
	retryAfter time.Duration // when the bucket can serve the next request
}

func (e *rateLimitedError) Error() string {
	return "rate limited, retry after " + e.retryAfter.String()
}

// problem is the body of every error answer: RFC 9457 problem details
// (type, title, status) beside the error/message members the frontend reads.
type problem struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Status  int    `json:"status"`
	Error   string `json:"error"`
	Message string `json:"message,omitempty"`
}

// Bodies fixed by the contract.
const (
	msgNotFound       = "Job not found (may have expired after 10 minutes)"
	msgInternal       = "Internal server error"
	msgRetrieveFailed = "Failed to retrieve job status"
)

// errorWriter is the one place where errors become HTTP answers.
type errorWriter struct {
	logger *slog.Logger
	// retryUnavailable is the Retry-After sent with 503 answers.
	retryUnavailable time.Duration
	// allow is the Allow header of 405 answers.
	allow string
}

// write answers r with the HTTP form of err. Causes of 5xx answers are logged
// and never returned to the client.
func (ew errorWriter) write(w http.ResponseWriter, r *http.Request, err error) {
	h := w.Header()
	var p problem // Status, Error and Message; WriteProblem fills in the rest
	var rl *rateLimitedError
	switch {
	case errors.Is(err, ErrNoCredentials):
		h.Set("WWW-Authenticate", `Bearer realm="vprstatus"`)
		p.Status, p.Error, p.Message = http.StatusUnauthorized, "Unauthorized", "A bearer token is required"
	case errors.Is(err, ErrInvalidToken):
		h.Set("WWW-Authenticate", `Bearer realm="vprstatus", error="invalid_token"`)
		p.Status, p.Error, p.Message = http.StatusUnauthorized, "Unauthorized", "The bearer token is invalid or expired"
	case errors.As(err, &rl):
		h.Set("Retry-After", retryAfter(rl.retryAfter))
		p.Status, p.Error, p.Message = http.StatusTooManyRequests, "Too many requests", "Polling too fast; retry after the time in Retry-After"
	case errors.Is(err, ErrBadRequest):
		p.Status, p.Error = http.StatusBadRequest, "Bad request"
	case errors.Is(err, errInvalidID), errors.Is(err, ErrNotFound):
		p.Status, p.Error = http.StatusNotFound, msgNotFound
	case errors.Is(err, errForbidden):
		p.Status, p.Error = http.StatusForbidden, "Forbidden"
	case errors.Is(err, ErrResultGone):
		p.Status, p.Error, p.Message = http.StatusGone, "Result expired or deleted", "Please regenerate the VPR"
	case errors.Is(err, errNoRoute):
		p.Status, p.Error = http.StatusNotFound, "Not found"
	case errors.Is(err, errMethodNotAllowed):
		h.Set("Allow", ew.allow)
		p.Status, p.Error = http.StatusMethodNotAllowed, "Method not allowed"
	case errors.Is(err, errNoResultKey):
		p.Status, p.Error = http.StatusInternalServerError, "Result key missing"
	case errors.Is(err, errUnknownState):
		p.Status, p.Error = http.StatusInternalServerError, "Unknown job status"
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		h.Set("Retry-After", retryAfter(ew.retryUnavailable))
		p.Status, p.Error, p.Message = http.StatusServiceUnavailable, "Service unavailable", msgRetrieveFailed
	default:
		p.Status, p.Error, p.Message = http.StatusInternalServerError, msgInternal, msgRetrieveFailed
	}
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away: nobody reads this answer, and nothing failed.
		ew.logger.DebugContext(r.Context(), "client gone", "path", r.URL.Path)
	case p.Status >= 500 && p.Status != http.StatusServiceUnavailable:
		ew.logger.ErrorContext(r.Context(), "request failed", "status", p.Status, "path", r.URL.Path, "err", err)
	case p.Status == http.StatusServiceUnavailable:
		ew.logger.WarnContext(r.Context(), "dependency unavailable", "path", r.URL.Path, "err", err)
	case p.Status == http.StatusGone:
		// Expected when results age out, and rare otherwise; a burst of them
		// is worth a look (a lifecycle rule, or S3_FORBIDDEN_MEANS_GONE
		// reading a policy's 403 as gone): keep the cause.
		ew.logger.InfoContext(r.Context(), "result gone", "path", r.URL.Path, "err", err)
	}
	WriteProblem(w, r, p.Status, p.Error, p.Message)
}

// WriteProblem answers r with code and a problem body in the API's shape:
// RFC 9457's type, title and status, beside the error and message members
// the frontend reads. It is for the development server's own endpoints,
// whose errors look like the API's; the API's errors come from errorWriter.
func WriteProblem(w http.ResponseWriter, r *http.Request, code int, errText, message string) {
	writeJSON(w, r, code, problemType, problem{
		Type: "about:blank", Title: http.StatusText(code), Status: code, Error: errText, Message: message,
	})
}

// retryAfter renders d as whole seconds, rounded up and at least 1, so a
// client never comes back before it can be served.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(max(ceilSeconds(d), 1), 10)
}
