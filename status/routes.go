package status

import (
	"log/slog"
	"net/http"
)

// routeDeps is what the routes are made of.
type routeDeps struct {
	ew     errorWriter
	admit  admission
	cors   *corsPolicy
	tr     *tracing
	status http.Handler
}

// addRoutes lists the whole API surface.
func addRoutes(mux *http.ServeMux, d routeDeps) {
	const statusPath = "/api/vpr/status/{job_id}"
	mux.Handle("GET "+statusPath, d.tr.route(statusPath, d.admit.authenticated(d.status)))
	if d.cors != nil {
		mux.Handle("OPTIONS "+statusPath, d.tr.route(statusPath, handlePreflight(d.cors)))
	}
	// Explicit fallbacks, so 405 and 404 answers carry JSON bodies too
	// (ServeMux's own are plain text).
	mux.Handle(statusPath, d.tr.route(statusPath, d.admit.anonymous(handleError(d.ew, errMethodNotAllowed))))
	mux.Handle("/", handleNotFound(d))
}

// handleNotFound answers paths outside the API.
func handleNotFound(d routeDeps) http.Handler {
	return d.admit.anonymous(handleError(d.ew, errNoRoute))
}

// Refuse returns a handler that answers every request with the HTTP form of
// err, as New's handler would: the same problem body, headers and logging.
// It is for entry points that must answer a request they cannot hand to New's
// handler (ErrBadRequest), so that the contract keeps one author.
func Refuse(logger *slog.Logger, err error) http.Handler {
	return commonHeaders(handleError(errorWriter{logger: logger}, err))
}

func handleError(ew errorWriter, err error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ew.write(w, r, err)
	})
}
