package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// The job states the service reports.
const (
	statePending    = "PENDING"
	stateProcessing = "PROCESSING"
	stateCompleted  = "COMPLETED"
	stateFailed     = "FAILED"
)

// Status is the state of a job, as the status endpoint reports it. Its JSON
// form is the service's body (times in RFC 3339, unset fields omitted);
// ETag and RetryAfter come from the answer's header fields.
type Status struct {
	JobID string `json:"job_id"`
	// State is PENDING, PROCESSING, COMPLETED or FAILED.
	State       string    `json:"status"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
	// ResultURL fetches the result JSON of a COMPLETED job until
	// ResultURLExpiresAt (see [Client.FetchResult]). It is a bearer secret:
	// don't log it.
	ResultURL          string      `json:"result_url,omitempty"`
	ResultURLExpiresAt time.Time   `json:"result_url_expires_at,omitzero"`
	TokenUsage         *TokenUsage `json:"token_usage,omitempty"`
	// Error says why a FAILED job failed.
	Error string `json:"error,omitempty"`

	// ETag is the entity tag of an unfinished job's answer, sent back in
	// If-None-Match by [Client.Wait].
	ETag string `json:"-"`
	// RetryAfter is the answer's Retry-After: when the service asks to be
	// polled again. Zero when the answer had none, or a malformed one.
	RetryAfter time.Duration `json:"-"`
}

// TokenUsage is what the model consumed to produce a report.
type TokenUsage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// decodeStatus decodes a 200 or 202 body and checks what the client relies
// on: the job asked for, a known state, and a usable URL when COMPLETED.
// Members it does not know are ignored, as the contract allows.
func decodeStatus(body []byte, jobID string) (*Status, error) {
	var s Status
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, err
	}
	if !strings.EqualFold(s.JobID, jobID) {
		return nil, fmt.Errorf("job_id %q, asked for %q", s.JobID, jobID)
	}
	switch s.State {
	case statePending, stateProcessing, stateFailed:
	case stateCompleted:
		// Say what is wrong without repeating the URL: it is a secret.
		u, err := url.Parse(s.ResultURL)
		if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return nil, errors.New("COMPLETED without a usable result_url")
		}
	default:
		return nil, fmt.Errorf("unknown status %q", s.State)
	}
	return &s, nil
}

// malformed describes an answer whose body is not what the contract says.
func malformed(code int, err error) error {
	return fmt.Errorf("vprstatus client: malformed %d answer: %w", code, err)
}

// finished reports whether state ends the poll.
func finished(state string) bool { return state == stateCompleted || state == stateFailed }
