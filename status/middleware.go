package status

import (
	"fmt"
	"net/http"
	"path"
	"strings"
)

// commonHeaders sets what every answer carries: bodies may hold a presigned
// URL, and 404/410 are heuristically cacheable unless told otherwise.
func commonHeaders(next http.Handler) http.Handler {
	noStore, nosniff := shared("no-store"), shared("nosniff")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Cache-Control"] = noStore
		h["X-Content-Type-Options"] = nosniff
		next.ServeHTTP(w, r)
	})
}

// shared returns a header value that every answer can hold without a copy
// of its own, saving an allocation per header per answer. Setting a header
// replaces its slice, and Header.Add copies a full slice before appending
// (this one's capacity is 1); only writing into h[key][0] would reach other
// answers, and nothing does.
func shared(v string) []string { return []string{v}[:1:1] }

// cleanPaths answers paths ServeMux would redirect to their clean form
// ("//", "/./", "/../") as unknown ones: its 307 has an HTML body, and
// behind a named API Gateway stage its Location would drop the stage.
func cleanPaths(notFound, mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "" || strings.Contains(p, "//") || strings.Contains(p, "/.") {
			// Only such paths can be unclean; most are, "/.well-known" is not.
			clean := path.Clean(p)
			if strings.HasSuffix(p, "/") && clean != "/" {
				clean += "/" // a trailing slash is the mux's business, not a redirect
			}
			if clean != p {
				notFound.ServeHTTP(w, r)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a logged 500 instead of a dropped connection.
func recoverPanics(ew errorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := recordOf(w)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // the handler asked for the connection to be dropped
			}
			err, ok := v.(error)
			if !ok {
				err = fmt.Errorf("%v", v)
			}
			err = fmt.Errorf("panic: %w", err)
			if rw.wroteHeader {
				// Too late for a 500: the status line is out.
				ew.logger.ErrorContext(r.Context(), "panic after response started", "path", r.URL.Path, "err", err)
				return
			}
			ew.write(rw, r, err)
		}()
		next.ServeHTTP(rw, r)
	})
}

// responseRecord remembers what an answer was, for the middleware that
// reports it (the request log, the server span, the panic handler): the
// status code, the body's size, the route pattern and the caller. One is
// made per request, by the outermost of them, and shared by the rest.
type responseRecord struct {
	http.ResponseWriter
	wroteHeader bool
	code        int
	bytes       int64
	route       string // the ServeMux pattern that matched, method included
	user        string // the authenticated caller, if any
}

// recordOf returns w's record if w is one, or a new record around w.
func recordOf(w http.ResponseWriter) *responseRecord {
	if rec, ok := w.(*responseRecord); ok {
		return rec
	}
	return &responseRecord{ResponseWriter: w}
}

func (t *responseRecord) WriteHeader(code int) {
	if !t.wroteHeader && code >= 200 {
		t.wroteHeader, t.code = true, code
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *responseRecord) Write(b []byte) (int, error) {
	if !t.wroteHeader {
		t.wroteHeader, t.code = true, http.StatusOK
	}
	n, err := t.ResponseWriter.Write(b)
	t.bytes += int64(n)
	return n, err
}

// status is the code the answer was sent with.
func (t *responseRecord) status() int {
	if !t.wroteHeader {
		return http.StatusOK // what net/http sends for a handler that wrote nothing
	}
	return t.code
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (t *responseRecord) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// recordRoute notes in the request's record which of mux's patterns
// answered it.
func recordRoute(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if rec, ok := w.(*responseRecord); ok && rec.route == "" {
			rec.route = r.Pattern
		}
	})
}
