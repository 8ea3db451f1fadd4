package status

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The answers of a poll. Each appends its JSON itself (see jsonBody),
// member for member as encoding/json encodes the struct, tags and all.

// pendingBody is the 202 answer while the job runs.
type pendingBody struct {
	JobID     string `json:"job_id"`
	Status    State  `json:"status"`
	CreatedAt string `json:"created_at"`
	StartedAt string `json:"started_at,omitempty"`
}

func (p pendingBody) appendJSON(b []byte) []byte {
	b = append(b, `{"job_id":`...)
	b = appendString(b, p.JobID)
	b = append(b, `,"status":`...)
	b = appendString(b, string(p.Status))
	b = append(b, `,"created_at":`...)
	b = appendString(b, p.CreatedAt)
	if p.StartedAt != "" {
		b = append(b, `,"started_at":`...)
		b = appendString(b, p.StartedAt)
	}
	return append(b, "}\n"...)
}

// completedBody is the 200 answer of a completed job.
type completedBody struct {
	JobID              string      `json:"job_id"`
	Status             State       `json:"status"`
	CreatedAt          string      `json:"created_at"`
	CompletedAt        string      `json:"completed_at,omitempty"`
	ResultURL          string      `json:"result_url"`
	ResultURLExpiresAt string      `json:"result_url_expires_at"`
	TokenUsage         *TokenUsage `json:"token_usage,omitempty"`
}

func (c completedBody) appendJSON(b []byte) []byte {
	b = append(b, `{"job_id":`...)
	b = appendString(b, c.JobID)
	b = append(b, `,"status":`...)
	b = appendString(b, string(c.Status))
	b = append(b, `,"created_at":`...)
	b = appendString(b, c.CreatedAt)
	if c.CompletedAt != "" {
		b = append(b, `,"completed_at":`...)
		b = appendString(b, c.CompletedAt)
	}
	b = append(b, `,"result_url":`...)
	b = appendString(b, c.ResultURL)
	b = append(b, `,"result_url_expires_at":`...)
	b = appendString(b, c.ResultURLExpiresAt)
	if u := c.TokenUsage; u != nil {
		b = append(b, `,"token_usage":{"input_tokens":`...)
		b = strconv.AppendInt(b, u.InputTokens, 10)
		b = append(b, `,"output_tokens":`...)
		b = strconv.AppendInt(b, u.OutputTokens, 10)
		b = append(b, '}')
	}
	return append(b, "}\n"...)
}

// failedBody is the 200 answer of a failed job.
type failedBody struct {
	JobID     string `json:"job_id"`
	Status    State  `json:"status"`
	CreatedAt string `json:"created_at"`
	Error     string `json:"error"`
}

func (f failedBody) appendJSON(b []byte) []byte {
	b = append(b, `{"job_id":`...)
	b = appendString(b, f.JobID)
	b = append(b, `,"status":`...)
	b = appendString(b, string(f.Status))
	b = append(b, `,"created_at":`...)
	b = appendString(b, f.CreatedAt)
	b = append(b, `,"error":`...)
	b = appendString(b, f.Error)
	return append(b, "}\n"...)
}

// handleStatus answers GET /api/vpr/status/{job_id} for an authenticated caller.
func handleStatus(ew errorWriter, jobs JobStore, results URLSigner, now func() time.Time, poll time.Duration) http.Handler {
	pollAfter := shared(retryAfter(poll))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, ok := User(r.Context())
		if !ok {
			// The route is always wrapped by authenticate; reaching here is a bug.
			ew.write(w, r, ErrNoCredentials)
			return
		}
		id := r.PathValue("job_id")
		if !ValidJobID(id) {
			ew.write(w, r, errInvalidID)
			return
		}
		job, err := jobs.Job(r.Context(), id)
		if err != nil {
			ew.write(w, r, err)
			return
		}
		if job.Expired(now()) {
			ew.write(w, r, ErrNotFound)
			return
		}
		if job.UserID != user {
			ew.write(w, r, errForbidden)
			return
		}
		switch job.State {
		case Pending, Processing:
			tag := etag(job)
			h := w.Header()
			h[hdrETag] = []string{tag}
			h[hdrRetryAfter] = pollAfter
			if etagMatch(r.Header.Get("If-None-Match"), tag) {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			writeBody(w, r, http.StatusAccepted, jsonType, pendingBody{
				JobID: job.ID, Status: job.State, CreatedAt: job.CreatedAt, StartedAt: job.StartedAt,
			})
		case Completed:
			if job.ResultKey == "" {
				ew.write(w, r, errNoResultKey)
				return
			}
			u, err := results.SignResult(r.Context(), job.ResultKey)
			if err != nil {
				ew.write(w, r, err)
				return
			}
			writeBody(w, r, http.StatusOK, jsonType, completedBody{
				JobID: job.ID, Status: job.State, CreatedAt: job.CreatedAt, CompletedAt: job.CompletedAt,
				ResultURL: u.URL, ResultURLExpiresAt: u.ExpiresAt.UTC().Format(time.RFC3339),
				TokenUsage: job.TokenUsage,
			})
		case Failed:
			msg := job.Error
			if msg == "" {
				msg = "Unknown error"
			}
			writeBody(w, r, http.StatusOK, jsonType, failedBody{
				JobID: job.ID, Status: job.State, CreatedAt: job.CreatedAt, Error: msg,
			})
		default:
			// The value goes to the log, for whoever fixes the item.
			ew.write(w, r, fmt.Errorf("%w %q", errUnknownState, job.State))
		}
	})
}

// ValidJobID reports whether id is a UUID in its canonical 8-4-4-4-12 hex
// form. Anything else cannot name a job, so it never reaches the store.
func ValidJobID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// etag is a strong validator over what a 202 answer shows of the job. Only
// unfinished jobs get one: a 304 must never leave a client holding an expired
// result URL.
//
// It is the 64-bit FNV-1a hash (hash/fnv's New64a) of the fields, each
// followed by a zero byte, computed inline so that the only allocation is
// the quoted hex string.
func etag(j *Job) string {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for _, s := range [...]string{j.ID, string(j.State), j.CreatedAt, j.StartedAt} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime64
		}
		h *= prime64 // the zero byte: h ^= 0 changes nothing
	}
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], h)
	var tag [2 + 2*len(sum)]byte
	tag[0], tag[len(tag)-1] = '"', '"'
	hex.Encode(tag[1:len(tag)-1], sum[:])
	return string(tag[:])
}

// etagMatch implements the weak comparison If-None-Match asks for (RFC 9110
// §13.1.2) against a list of entity tags or "*".
func etagMatch(header, tag string) bool {
	for header != "" {
		var t string
		t, header, _ = strings.Cut(header, ",")
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == tag {
			return true
		}
	}
	return false
}
