// Package status answers clients polling for the state of a VPR generation job:
// GET /api/vpr/status/{job_id}.
//
// It owns the job model, the small interfaces it consumes (JobStore, URLSigner,
// Authenticator, Limiter) and the one place where domain errors become HTTP answers.
package status

import (
	"context"
	"errors"
	"time"
)

// State is the lifecycle state of a job as the worker writes it.
type State string

// The four states the worker writes. Anything else in the store is bad data.
const (
	Pending    State = "PENDING"
	Processing State = "PROCESSING"
	Completed  State = "COMPLETED"
	Failed     State = "FAILED"
)

// Job is one record of the jobs table, as far as this service reads it.
type Job struct {
	ID          string
	UserID      string
	State       State
	CreatedAt   string // RFC 3339 UTC, as written by the worker
	StartedAt   string // optional
	CompletedAt string // optional
	ResultKey   string // S3 key of the result JSON, for Completed
	TokenUsage  *TokenUsage
	Error       string // for Failed
	// ExpiresAt is the DynamoDB ttl. Zero means none. DynamoDB deletes expired
	// items lazily (up to about two days late) and still returns them, so
	// expiry is decided here, not by the store.
	ExpiresAt time.Time
}

// TokenUsage is what the model consumed to produce the report.
type TokenUsage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// Expired reports whether the job's ttl has passed at now.
func (j *Job) Expired(now time.Time) bool {
	return !j.ExpiresAt.IsZero() && !now.Before(j.ExpiresAt)
}

// JobStore reads jobs by id.
type JobStore interface {
	// Job returns the job with the given id, or an error wrapping ErrNotFound.
	// Throttling and timeouts should wrap ErrUnavailable.
	Job(ctx context.Context, id string) (*Job, error)
}

// URLSigner hands out short-lived URLs for result objects.
type URLSigner interface {
	// SignResult checks that the object at key exists and returns a URL that
	// fetches it. A missing object is an error wrapping ErrResultGone;
	// throttling and timeouts wrap ErrUnavailable.
	SignResult(ctx context.Context, key string) (SignedURL, error)
}

// SignedURL is a URL that grants read access to a result until ExpiresAt.
type SignedURL struct {
	URL       string
	ExpiresAt time.Time
}

// Domain errors. Adapters wrap them; errorWriter.write maps them to HTTP answers.
var (
	// ErrNotFound: the job does not exist (or has expired).
	ErrNotFound = errors.New("job not found")
	// ErrResultGone: the job completed but its result object is gone.
	ErrResultGone = errors.New("result object gone")
	// ErrUnavailable: a dependency is throttling or did not answer in time;
	// the client should retry later.
	ErrUnavailable = errors.New("dependency unavailable")
	// ErrBadRecord: the store holds a record this service cannot make sense of.
	ErrBadRecord = errors.New("bad job record")
	// ErrBadRequest: a request no handler can be given, such as a Lambda event
	// whose path is not a URL path. Entry points answer it with Refuse.
	ErrBadRequest = errors.New("bad request")
)
