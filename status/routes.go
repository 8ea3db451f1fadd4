package status

import "net/http"

// addRoutes lists the whole API surface.
func addRoutes(mux *http.ServeMux, cfg Config, ew errorWriter) {
	status := handleStatus(ew, cfg.Jobs, cfg.Results, cfg.Now, cfg.PollInterval)
	mux.Handle("GET /api/vpr/status/{job_id}", authenticate(ew, cfg.Auth, status))
	// Explicit fallbacks, so 405 and 404 answers carry JSON bodies too
	// (ServeMux's own are plain text).
	mux.Handle("/api/vpr/status/{job_id}", handleError(ew, errMethodNotAllowed))
	mux.Handle("/", handleError(ew, errNoRoute))
}

func handleError(ew errorWriter, err error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ew.write(w, r, err)
	})
}
