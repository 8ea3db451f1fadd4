package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
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
// on: the job asked for, a known state, a string error when FAILED, and a
// usable URL when COMPLETED (see [resultURLProblem]; baseScheme is the base
// URL's). Members it does not know are ignored, as the contract allows.
func decodeStatus(body []byte, jobID, baseScheme string) (*Status, error) {
	var s Status
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, err
	}
	// Letter case aside: a UUID's hex digits name the same job either way.
	if !strings.EqualFold(s.JobID, jobID) {
		return nil, fmt.Errorf("job_id %q, asked for %q", s.JobID, jobID)
	}
	switch s.State {
	case statePending, stateProcessing:
	case stateFailed:
		// Unmarshal refused an error that is not a string; an absent or null
		// one leaves Error empty, so look again.
		var e struct{ Error *string }
		if json.Unmarshal(body, &e) != nil || e.Error == nil {
			return nil, errors.New("FAILED without an error string")
		}
	case stateCompleted:
		// Say what is wrong without repeating the URL: it is a secret.
		if why := resultURLProblem(s.ResultURL, baseScheme); why != "" {
			return nil, fmt.Errorf("COMPLETED with an unusable result_url: %s", why)
		}
	default:
		return nil, fmt.Errorf("unknown status %q", s.State)
	}
	return &s, nil
}

// stateAgrees checks that a status body's state is one its answer's code
// may carry: a 202 is for an unfinished job, a 200 for a finished one.
func stateAgrees(code int, state string) error {
	if (code == http.StatusAccepted) != finished(state) {
		return nil
	}
	return fmt.Errorf("status %s on a %d", state, code)
}

// resultURLProblem says why raw is not a result URL to fetch, or returns ""
// when it is: an absolute https: URL (http: too under an http: base URL,
// for local development) without credentials, with a host and a valid port.
// What it says never repeats the URL.
func resultURLProblem(raw, baseScheme string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "not a URL"
	case u.Scheme == "https", u.Scheme == "http" && baseScheme == "http":
	case u.Scheme == "http":
		return "http: under an https: API"
	case u.Scheme == "":
		return "not absolute"
	default:
		return "not https:"
	}
	if u.User != nil {
		return "credentials in it"
	}
	if u.Host == "" || u.Hostname() == "" {
		return "no host"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return "a bad port"
		}
	}
	return ""
}

// malformed describes an answer whose body is not what the contract says.
func malformed(code int, err error) error {
	return fmt.Errorf("vprstatus client: malformed %d answer: %w", code, err)
}

// finished reports whether state ends the poll.
func finished(state string) bool { return state == stateCompleted || state == stateFailed }
