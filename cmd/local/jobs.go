package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/status"
)

// jobRunner plays the pipeline over the in-memory backend: the submit
// endpoint (POST /_local/jobs), the worker that moves a job through its
// states and writes its result, and DynamoDB's TTL with the bucket's
// lifecycle rule, which delete expired jobs and their results.
type jobRunner struct {
	logger  *slog.Logger
	jobs    *fakes.JobStore
	results *fakes.Results

	pendingFor, processingFor, jobTTL time.Duration

	// ctx ends the workers and the sweep; wg lets close wait for them, and
	// live counts the workers against maxWorkers.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	live   atomic.Int64
}

// maxWorkers bounds the jobs moving through their states at once: each holds
// a goroutine for up to two hours.
const maxWorkers = 1000

// maxSweepEvery bounds how long an expired job outlives its ttl.
const maxSweepEvery = 30 * time.Second

func newJobRunner(ctx context.Context, logger *slog.Logger, jobs *fakes.JobStore, results *fakes.Results, o options) *jobRunner {
	ctx, cancel := context.WithCancel(ctx)
	r := &jobRunner{
		logger: logger, jobs: jobs, results: results,
		pendingFor: o.pendingFor, processingFor: o.processingFor, jobTTL: o.jobTTL,
		ctx: ctx, cancel: cancel,
	}
	if o.jobTTL > 0 {
		r.wg.Go(func() { r.sweep(min(o.jobTTL, maxSweepEvery)) })
	}
	return r
}

// close stops the workers and the sweep, and waits for them.
func (r *jobRunner) close() {
	r.cancel()
	r.wg.Wait()
}

// addRoutes adds the endpoints of the in-memory backend: jobs that run by
// themselves, and the bucket their result URLs point at.
func (r *jobRunner) addRoutes(mux *http.ServeMux, g guard) {
	mux.Handle("/_local/jobs", g.devEndpoint(http.MethodPost, r.handleCreateJob()))
	mux.Handle("/_local/jobs/{job_id}/result", g.devEndpoint(http.MethodDelete, r.handleDeleteResult()))
	mux.Handle("/_local/results/", g.readableBy(r.results))
}

func (r *jobRunner) handleCreateJob() http.Handler {
	type request struct {
		UserID        string `json:"user_id"`
		Outcome       string `json:"outcome"`
		PendingFor    string `json:"pending_for"`
		ProcessingFor string `json:"processing_for"`
		Error         string `json:"error"`
	}
	type response struct {
		JobID string `json:"job_id"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var in request
		if err := decode(w, req, &in); err != nil {
			badRequest(w, req, err.Error())
			return
		}
		if in.UserID == "" || len(in.UserID) > 256 {
			badRequest(w, req, "user_id must be 1 to 256 characters")
			return
		}
		outcome := status.State(strings.ToUpper(in.Outcome))
		if outcome == "" {
			outcome = status.Completed
		}
		if outcome != status.Completed && outcome != status.Failed {
			badRequest(w, req, `outcome must be "COMPLETED" or "FAILED"`)
			return
		}
		pending, err := durationOr(in.PendingFor, r.pendingFor)
		if err != nil {
			badRequest(w, req, "pending_for: "+err.Error())
			return
		}
		processing, err := durationOr(in.ProcessingFor, r.processingFor)
		if err != nil {
			badRequest(w, req, "processing_for: "+err.Error())
			return
		}
		if r.live.Load() >= maxWorkers {
			w.Header().Set("Retry-After", "5")
			writeProblem(w, req, http.StatusServiceUnavailable, "Service unavailable", "Too many jobs in progress")
			return
		}
		id := r.start(in.UserID, outcome, in.Error, pending, processing)
		w.Header().Set("Location", "/api/vpr/status/"+id)
		writeJSON(w, http.StatusCreated, response{JobID: id})
	})
}

// handleDeleteResult deletes a completed job's result object, as the
// bucket's lifecycle rule does to old results: its next poll answers 410.
func (r *jobRunner) handleDeleteResult() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		j, err := r.jobs.Job(req.Context(), req.PathValue("job_id"))
		if err != nil {
			writeProblem(w, req, http.StatusNotFound, "Job not found", "")
			return
		}
		if j.State != status.Completed || j.ResultKey == "" {
			writeProblem(w, req, http.StatusConflict, "The job has no result", "Only a COMPLETED job has a result to delete; this one is "+string(j.State))
			return
		}
		r.results.Delete(j.ResultKey)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
	})
}

func durationOr(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 || d > time.Hour {
		return 0, errors.New("must be between 0s and 1h")
	}
	return d, nil
}

// start creates a PENDING job and a worker that moves it on, as the real
// pipeline's worker would.
func (r *jobRunner) start(user string, outcome status.State, errMsg string, pending, processing time.Duration) string {
	id := uuid.NewString()
	now := time.Now().UTC()
	j := status.Job{ID: id, UserID: user, State: status.Pending, CreatedAt: now.Format(time.RFC3339)}
	if r.jobTTL > 0 {
		j.ExpiresAt = now.Add(r.jobTTL)
	}
	r.jobs.Put(j)
	r.live.Add(1)
	r.wg.Go(func() {
		defer r.live.Add(-1)
		if !sleep(r.ctx, pending) {
			return
		}
		r.jobs.Update(id, func(j *status.Job) {
			j.State, j.StartedAt = status.Processing, time.Now().UTC().Format(time.RFC3339)
		})
		if !sleep(r.ctx, processing) {
			return
		}
		r.finish(id, outcome, errMsg)
	})
	return id
}

// finish records the outcome of job id, writing its result first as the
// worker does, so a COMPLETED job always has its object.
func (r *jobRunner) finish(id string, outcome status.State, errMsg string) {
	done := time.Now().UTC().Format(time.RFC3339)
	if outcome == status.Failed {
		if errMsg == "" {
			errMsg = "The model could not produce a report for this job description"
		}
		r.jobs.Update(id, func(j *status.Job) { j.State, j.CompletedAt, j.Error = status.Failed, done, errMsg })
		return
	}
	key := "results/" + id + ".json"
	r.results.Put(key, sampleReport(id))
	found := r.jobs.Update(id, func(j *status.Job) {
		j.State, j.CompletedAt, j.ResultKey = status.Completed, done, key
		j.TokenUsage = &status.TokenUsage{InputTokens: 5120, OutputTokens: 2048}
	})
	if !found {
		r.results.Delete(key) // the job expired while it ran: nothing will ever point here
	}
}

// sweep deletes expired jobs and their results every interval, as DynamoDB's
// TTL and the bucket's lifecycle rule would, so that the server's memory
// stays bounded however many jobs it is asked for.
func (r *jobRunner) sweep(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		gone := r.jobs.DeleteExpired()
		for _, j := range gone {
			if j.ResultKey != "" {
				r.results.Delete(j.ResultKey)
			}
		}
		if len(gone) > 0 {
			r.logger.DebugContext(r.ctx, "expired jobs deleted", "jobs", len(gone))
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// seed stores one job per state for user and returns their ids. They have
// no ttl: the demo outlives a working session.
func (r *jobRunner) seed(user string) map[status.State]string {
	ids := make(map[status.State]string)
	now := time.Now().UTC()
	at := func(ago time.Duration) string { return now.Add(-ago).Format(time.RFC3339) }
	for _, s := range []status.State{status.Pending, status.Processing, status.Completed, status.Failed} {
		id := uuid.NewString()
		ids[s] = id
		j := status.Job{ID: id, UserID: user, State: s, CreatedAt: at(time.Minute)}
		switch s {
		case status.Processing:
			j.StartedAt = at(50 * time.Second)
		case status.Completed:
			j.StartedAt, j.CompletedAt = at(50*time.Second), at(10*time.Second)
			j.ResultKey = "results/" + id + ".json"
			j.TokenUsage = &status.TokenUsage{InputTokens: 5120, OutputTokens: 2048}
			r.results.Put(j.ResultKey, sampleReport(id))
		case status.Failed:
			j.StartedAt, j.CompletedAt = at(50*time.Second), at(10*time.Second)
			j.Error = "The model could not produce a report for this job description"
		}
		r.jobs.Put(j)
	}
	return ids
}

// sampleReport is a small VPR in the shape the worker writes.
func sampleReport(id string) []byte {
	b, _ := json.Marshal(map[string]any{
		"job_id":    id,
		"headline":  "Platform engineer who cut deploy times by 70%",
		"strengths": []string{"Go services at scale", "AWS serverless", "Observability"},
		"evidence":  []map[string]string{{"claim": "Cut deploy times by 70%", "source": "CV, 2024 role"}},
	})
	return b
}
