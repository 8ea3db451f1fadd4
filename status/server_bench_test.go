package status_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/careervp/vprstatus/auth"
	"github.com/careervp/vprstatus/status"
)

// BenchmarkHandler is one poll through the whole production stack (a cached
// token, both limiters, the no-op tracer) on the fakes, against a floor: a
// bare ServeMux route encoding a similar body with encoding/json.
func BenchmarkHandler(b *testing.B) {
	f := newFixture(b)
	now := func() time.Time { return testNow }
	h := f.configured(b, status.Config{
		Auth:           auth.NewCache(hmacVerifier(b), auth.CacheOptions{Now: now}),
		Limiter:        newLimiter(b, 1e9, 1e9),
		AddrLimiter:    newLimiter(b, 1e9, 1e9),
		TracerProvider: noop.NewTracerProvider(),
		CORSOrigins:    []string{appOrigin},
		Now:            now,
	})
	tok := f.token(b, alice)
	for _, id := range []string{idCompleted, idPending} {
		b.Run(map[string]string{idCompleted: "completed", idPending: "pending"}[id], func(b *testing.B) {
			r := get("/api/vpr/status/"+id, tok, "")
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code >= 300 {
					b.Fatalf("code %d", w.Code)
				}
			}
		})
	}
	b.Run("floor", func(b *testing.B) {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /api/vpr/status/{job_id}", func(w http.ResponseWriter, r *http.Request) {
			job, _ := f.jobs.Job(r.Context(), r.PathValue("job_id"))
			body, _ := json.Marshal(map[string]any{"job_id": job.ID, "status": job.State, "created_at": job.CreatedAt})
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		})
		r := get("/api/vpr/status/"+idCompleted, tok, "")
		b.ReportAllocs()
		for b.Loop() {
			mux.ServeHTTP(httptest.NewRecorder(), r)
		}
	})
}
