package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"time"

	"github.com/careervp/vprstatus/dynamo"
	"github.com/careervp/vprstatus/status"
)

// verdict is how the service answers a job's owner, and why.
type verdict struct {
	code    int
	why     string   // the rest of the first line
	details []string // the lines after it
	bad     bool     // the item is bad data: exit 1
}

// errRead: jobcheck could not read the job or its result, so it cannot
// tell what the service would answer.
var errRead = errors.New("read error")

// errNotFound: there is no item with the id.
var errNotFound = errors.New("no such job")

// check asks the service's own handler, status.New over store and signer,
// what it answers the owner of job id at now. store is a dynamo.JobStore
// (the decoder is the service's); signer checks the result object, or is
// nil when jobcheck cannot.
//
// It reads the job through store first, to know its owner (the handler
// authenticates before it reads) and what the store made of it, then polls
// the handler as that owner and reports its answer. The rules are the
// handler's and the decoder's: this only names what they decided.
func check(ctx context.Context, store status.JobStore, signer status.URLSigner, bucket, id string, now time.Time) (verdict, error) {
	job, readErr := store.Job(ctx, id)
	switch {
	case errors.Is(readErr, status.ErrNotFound):
		return verdict{}, errNotFound
	case readErr != nil && !errors.Is(readErr, status.ErrBadRecord):
		return verdict{}, fmt.Errorf("%w: %w", errRead, readErr)
	}
	owner := "jobcheck" // a record without a readable owner is a 500 before ownership counts
	if job != nil {
		owner = job.UserID
	}
	checked := signer != nil
	if !checked {
		signer = uncheckedSigner{}
	}
	logs := &errorLog{}
	rec := &recorder{jobs: store, results: signer}
	h := status.New(status.Config{
		Logger:  slog.New(logs),
		Auth:    ownerAuth(owner),
		Jobs:    jobsFunc(rec.job),
		Results: signerFunc(rec.signResult),
		Now:     func() time.Time { return now },
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/vpr/status/"+url.PathEscape(id), nil))
	if err := rec.readError(); err != nil {
		return verdict{}, fmt.Errorf("%w: %w", errRead, err)
	}

	v := verdict{code: w.Code}
	// Of the answer's body, what the verdict names: a poll answer's status
	// is the job's; a problem's is a number, and its error a message.
	var body struct {
		Status any    `json:"status"`
		Error  string `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		return verdict{}, fmt.Errorf("the service's %d answer is not JSON: %w", w.Code, err)
	}
	state, _ := body.Status.(string)
	switch w.Code {
	case http.StatusAccepted:
		v.why = fmt.Sprintf("%s (Retry-After %ss)", state, w.Header().Get("Retry-After"))
	case http.StatusOK:
		v.why = state
		if job != nil && state == string(status.Completed) {
			v.why += " (result_key " + job.ResultKey + ")"
		}
	case http.StatusNotFound:
		switch {
		case !status.ValidJobID(id): // the handler answers before it reads the job
			v.why = fmt.Sprintf("job_id %q is not a canonical UUID: the service answers every poll for it 404", id)
			v.bad = true
		case job != nil && job.Expired(now):
			exp := job.ExpiresAt.UTC()
			v.why = fmt.Sprintf("expired: ttl %s passed %s ago", exp.Format(time.RFC3339), span(now.Sub(exp)))
		default:
			v.why = "not found"
		}
	case http.StatusGone:
		v.why = "COMPLETED, but the result object is gone"
		if job != nil {
			v.why += fmt.Sprintf(": s3://%s/%s", bucket, job.ResultKey)
		}
	case http.StatusInternalServerError:
		v.bad = true
		cause := logs.cause()
		if faults := dynamo.AttributeErrors(cause); len(faults) > 0 {
			v.why = faults[0].Error()
			for _, f := range faults[1:] {
				v.details = append(v.details, fmt.Sprintf("%-13s %s", "also", f.Error()))
			}
		} else if cause != nil {
			v.why = cause.Error()
		} else {
			v.why = body.Error
		}
		if cause != nil && cause.Error() != v.why {
			v.details = append(v.details, fmt.Sprintf("%-13s %s", "logged", cause.Error()))
		}
	default:
		v.why = body.Error
	}
	if job != nil {
		v.details = append(v.details, describeJob(job, now)...)
	}
	if w.Code == http.StatusOK && state == string(status.Completed) && job != nil {
		if checked {
			v.details = append(v.details, fmt.Sprintf("%-13s s3://%s/%s exists", "result object", bucket, job.ResultKey))
		} else {
			v.details = append(v.details, fmt.Sprintf("%-13s not checked: -bucket NAME checks that it exists (the service answers 410 when it does not)", "result object"))
		}
	}
	return v, nil
}

// describeJob lists what the store read of job.
func describeJob(job *status.Job, now time.Time) []string {
	var out []string
	add := func(name, value string) {
		if value != "" {
			out = append(out, fmt.Sprintf("%-13s %s", name, value))
		}
	}
	add("user_id", fmt.Sprintf("%q", job.UserID))
	add("status", fmt.Sprintf("%q", job.State))
	add("created_at", job.CreatedAt)
	add("started_at", job.StartedAt)
	add("completed_at", job.CompletedAt)
	add("result_key", job.ResultKey)
	if u := job.TokenUsage; u != nil {
		add("token_usage", fmt.Sprintf("input_tokens %d, output_tokens %d", u.InputTokens, u.OutputTokens))
	}
	if job.Error != "" {
		add("error", fmt.Sprintf("%q", job.Error))
	}
	switch exp := job.ExpiresAt; {
	case exp.IsZero():
		add("ttl", "none: the job never expires")
	case now.Before(exp):
		add("ttl", fmt.Sprintf("%s (in %s)", exp.UTC().Format(time.RFC3339), span(exp.Sub(now))))
	default:
		add("ttl", fmt.Sprintf("%s (%s ago; DynamoDB deletes expired items within a few days)", exp.UTC().Format(time.RFC3339), span(now.Sub(exp))))
	}
	return out
}

// span is d for a person: 42s, 3m, 5h12m, 12d, 73y.
func span(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 2*day:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	case d < 730*day:
		return fmt.Sprintf("%dd", int(d/day))
	}
	return fmt.Sprintf("%dy", int(d/(365*day+day/4)))
}

// ownerAuth authenticates every request as the job's owner.
type ownerAuth string

func (a ownerAuth) Authenticate(*http.Request) (string, error) { return string(a), nil }

// uncheckedSigner signs any key without looking for its object: without a
// bucket, jobcheck cannot tell whether it exists.
type uncheckedSigner struct{}

func (uncheckedSigner) SignResult(_ context.Context, key string) (status.SignedURL, error) {
	return status.SignedURL{URL: "https://unchecked.invalid/" + url.PathEscape(key), ExpiresAt: time.Now().Add(time.Hour)}, nil
}

// recorder passes the handler's calls on to the store and the signer, and
// keeps the errors they return: one that is not an answer about the job
// (a bad record, no such job, no result object) means jobcheck could not
// read what it checks.
type recorder struct {
	jobs    status.JobStore
	results status.URLSigner

	mu   sync.Mutex
	errs []error
}

func (r *recorder) job(ctx context.Context, id string) (*status.Job, error) {
	job, err := r.jobs.Job(ctx, id)
	r.keep(err)
	return job, err
}

func (r *recorder) signResult(ctx context.Context, key string) (status.SignedURL, error) {
	u, err := r.results.SignResult(ctx, key)
	r.keep(err)
	return u, err
}

func (r *recorder) keep(err error) {
	if err == nil || errors.Is(err, status.ErrBadRecord) || errors.Is(err, status.ErrNotFound) || errors.Is(err, status.ErrResultGone) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *recorder) readError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.errs...)
}

type jobsFunc func(ctx context.Context, id string) (*status.Job, error)

func (f jobsFunc) Job(ctx context.Context, id string) (*status.Job, error) { return f(ctx, id) }

type signerFunc func(ctx context.Context, key string) (status.SignedURL, error)

func (f signerFunc) SignResult(ctx context.Context, key string) (status.SignedURL, error) {
	return f(ctx, key)
}

// errorLog is the service's log, kept: the errors it logged with its
// answers are the causes the verdict names.
type errorLog struct {
	mu      sync.Mutex
	records []logged
}

type logged struct {
	level slog.Level
	err   error
}

func (l *errorLog) Enabled(context.Context, slog.Level) bool { return true }

func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	var err error
	r.Attrs(func(a slog.Attr) bool {
		if e, ok := a.Value.Any().(error); ok && a.Key == "err" {
			err = e
		}
		return true
	})
	if err != nil {
		l.mu.Lock()
		l.records = append(l.records, logged{level: r.Level, err: err})
		l.mu.Unlock()
	}
	return nil
}

func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *errorLog) WithGroup(string) slog.Handler      { return l }

// cause is the error the service logged with a 500.
func (l *errorLog) cause() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.records {
		if r.level >= slog.LevelError {
			return r.err
		}
	}
	return nil
}
