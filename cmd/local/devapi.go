package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/status"
	"github.com/careervp/vprstatus/web"
)

// devAPI is what only the local binary serves: under /_local/, tokens on
// demand, jobs that move through their states, and the result bucket; at
// the root, the demo page and the polling module.
type devAPI struct {
	logger  *slog.Logger
	minter  *fakes.Issuer
	jobs    *fakes.JobStore
	results *fakes.Results
	origins origins // -cors-origins

	pendingFor, processingFor, jobTTL time.Duration

	// ctx ends the job workers at shutdown; workers lets run wait for them,
	// and live counts them against maxWorkers.
	ctx     context.Context
	workers *sync.WaitGroup
	live    atomic.Int64

	// anyHost serves /_local/ whatever the Host header says (-allow-remote).
	anyHost bool
}

// maxWorkers bounds the jobs moving through their states at once: each holds
// a goroutine for up to two hours.
const maxWorkers = 1000

// addRoutes adds the endpoints every backend has. devOrAPI must send their
// paths here.
func (d *devAPI) addRoutes(mux *http.ServeMux) error {
	mux.Handle("/_local/token", d.devEndpoint(http.MethodPost, d.handleToken()))
	mux.Handle("/_local/", handleNotFound())
	mux.Handle("GET /healthz", handleHealth())
	mux.Handle("GET /openapi.json", handleOpenAPI())
	for path, file := range map[string]string{
		"/{$}":        "index.html",
		"/demo.js":    "demo.js",
		"/demo.css":   "demo.css",
		"/vprpoll.js": "vprpoll.js",
	} {
		h, err := handleWebFile(file)
		if err != nil {
			return err
		}
		if file == "vprpoll.js" {
			// A frontend dev server on another origin imports it directly.
			mux.Handle(path, d.readableBy(h))
		} else {
			mux.Handle(path, getOnly(h))
		}
	}
	return nil
}

// addFakeRoutes adds the endpoints of the in-memory backend: jobs that run
// by themselves, and the bucket their result URLs point at.
func (d *devAPI) addFakeRoutes(mux *http.ServeMux) {
	mux.Handle("/_local/jobs", d.devEndpoint(http.MethodPost, d.handleCreateJob()))
	mux.Handle("/_local/jobs/{job_id}/result", d.devEndpoint(http.MethodDelete, d.handleDeleteResult()))
	mux.Handle("/_local/results/", d.readableBy(d.results))
}

// loopbackHost refuses requests whose Host is not a loopback name: a page on
// another site could otherwise reach the token endpoint through DNS
// rebinding, with the browser's Host still naming that site.
func (d *devAPI) loopbackHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		ip, _ := netip.ParseAddr(strings.Trim(host, "[]"))
		if !d.anyHost && !strings.EqualFold(host, "localhost") && !ip.IsLoopback() {
			writeProblem(w, http.StatusForbidden, "Forbidden", "Development endpoints answer loopback hosts only")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// maxBody bounds development request bodies.
const maxBody = 4 << 10

func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	writeBody(w, code, "application/json", v)
}

func writeBody(w http.ResponseWriter, code int, contentType string, v any) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// problem is the body of the development endpoints' errors, in the API's
// shape: RFC 9457 problem details beside the error and message members.
type problem struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Status  int    `json:"status"`
	Error   string `json:"error"`
	Message string `json:"message,omitempty"`
}

func writeProblem(w http.ResponseWriter, code int, errMsg, message string) {
	writeBody(w, code, "application/problem+json", problem{
		Type: "about:blank", Title: http.StatusText(code), Status: code, Error: errMsg, Message: message,
	})
}

func badRequest(w http.ResponseWriter, msg string) {
	writeProblem(w, http.StatusBadRequest, "Bad request", msg)
}

// getOnly answers other methods than GET and HEAD with a 405.
func getOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeProblem(w, http.StatusMethodNotAllowed, "Method not allowed", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, "Not found", "")
	})
}

func (d *devAPI) handleToken() http.Handler {
	type request struct {
		Sub string `json:"sub"`
	}
	type response struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(w, r, &req); err != nil {
			badRequest(w, err.Error())
			return
		}
		if req.Sub == "" || len(req.Sub) > 256 {
			badRequest(w, "sub must be 1 to 256 characters")
			return
		}
		tok, err := d.minter.Token("HS256", req.Sub, time.Hour)
		if err != nil {
			d.logger.Error("minting token", "err", err)
			writeProblem(w, http.StatusInternalServerError, "Internal server error", "")
			return
		}
		writeJSON(w, http.StatusOK, response{Token: tok, ExpiresAt: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	})
}

func (d *devAPI) handleCreateJob() http.Handler {
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := decode(w, r, &req); err != nil {
			badRequest(w, err.Error())
			return
		}
		if req.UserID == "" || len(req.UserID) > 256 {
			badRequest(w, "user_id must be 1 to 256 characters")
			return
		}
		outcome := status.State(strings.ToUpper(req.Outcome))
		if outcome == "" {
			outcome = status.Completed
		}
		if outcome != status.Completed && outcome != status.Failed {
			badRequest(w, `outcome must be "COMPLETED" or "FAILED"`)
			return
		}
		pending, err := durationOr(req.PendingFor, d.pendingFor)
		if err != nil {
			badRequest(w, "pending_for: "+err.Error())
			return
		}
		processing, err := durationOr(req.ProcessingFor, d.processingFor)
		if err != nil {
			badRequest(w, "processing_for: "+err.Error())
			return
		}
		if d.live.Load() >= maxWorkers {
			w.Header().Set("Retry-After", "5")
			writeProblem(w, http.StatusServiceUnavailable, "Service unavailable", "Too many jobs in progress")
			return
		}
		id := d.start(req.UserID, outcome, req.Error, pending, processing)
		w.Header().Set("Location", "/api/vpr/status/"+id)
		writeJSON(w, http.StatusCreated, response{JobID: id})
	})
}

// handleDeleteResult deletes a completed job's result object, as the
// bucket's lifecycle rule does to old results: its next poll answers 410.
func (d *devAPI) handleDeleteResult() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j, err := d.jobs.Job(r.Context(), r.PathValue("job_id"))
		if err != nil {
			writeProblem(w, http.StatusNotFound, "Job not found", "")
			return
		}
		if j.State != status.Completed || j.ResultKey == "" {
			writeProblem(w, http.StatusConflict, "The job has no result", "Only a COMPLETED job has a result to delete; this one is "+string(j.State))
			return
		}
		d.results.Delete(j.ResultKey)
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
func (d *devAPI) start(user string, outcome status.State, errMsg string, pending, processing time.Duration) string {
	id := uuid.NewString()
	now := time.Now().UTC()
	j := status.Job{ID: id, UserID: user, State: status.Pending, CreatedAt: now.Format(time.RFC3339)}
	if d.jobTTL > 0 {
		j.ExpiresAt = now.Add(d.jobTTL)
	}
	d.jobs.Put(j)
	d.workers.Add(1)
	d.live.Add(1)
	go func() {
		defer d.workers.Done()
		defer d.live.Add(-1)
		if !sleep(d.ctx, pending) {
			return
		}
		d.jobs.Update(id, func(j *status.Job) {
			j.State, j.StartedAt = status.Processing, time.Now().UTC().Format(time.RFC3339)
		})
		if !sleep(d.ctx, processing) {
			return
		}
		d.finish(id, outcome, errMsg)
	}()
	return id
}

// finish records the outcome of job id, writing its result first as the
// worker does, so a COMPLETED job always has its object.
func (d *devAPI) finish(id string, outcome status.State, errMsg string) {
	done := time.Now().UTC().Format(time.RFC3339)
	if outcome == status.Failed {
		if errMsg == "" {
			errMsg = "The model could not produce a report for this job description"
		}
		d.jobs.Update(id, func(j *status.Job) { j.State, j.CompletedAt, j.Error = status.Failed, done, errMsg })
		return
	}
	key := "results/" + id + ".json"
	d.results.Put(key, sampleReport(id))
	d.jobs.Update(id, func(j *status.Job) {
		j.State, j.CompletedAt, j.ResultKey = status.Completed, done, key
		j.TokenUsage = &status.TokenUsage{InputTokens: 5120, OutputTokens: 2048}
	})
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

// seed stores one job per state for user and returns their ids.
func (d *devAPI) seed(user string) map[status.State]string {
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
			d.results.Put(j.ResultKey, sampleReport(id))
		case status.Failed:
			j.StartedAt, j.CompletedAt = at(50*time.Second), at(10*time.Second)
			j.Error = "The model could not produce a report for this job description"
		}
		d.jobs.Put(j)
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

func handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleWebFile serves one of the embedded web files, with its type set
// here rather than guessed from the system's MIME tables, and an ETag so
// that a browser revalidates (no-cache) instead of re-downloading.
func handleWebFile(name string) (http.Handler, error) {
	b, err := fs.ReadFile(web.FS(), name)
	if err != nil {
		return nil, err
	}
	types := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	ctype, ok := types[name[strings.LastIndexByte(name, '.'):]]
	if !ok {
		return nil, fmt.Errorf("web file %s: no content type for it", name)
	}
	sum := sha256.Sum256(b)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", etag)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	}), nil
}

// handleOpenAPI serves the API description the contract tests hold the
// handler to.
func handleOpenAPI() http.Handler {
	doc := status.OpenAPI()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	})
}
