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
		rw, ok := w.(*headerTracker) // the tracing middleware's, if on
		if !ok {
			rw = &headerTracker{ResponseWriter: w}
		}
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

// headerTracker remembers whether the status line has been written, and
// with which code.
type headerTracker struct {
	http.ResponseWriter
	wroteHeader bool
	code        int
}

func (t *headerTracker) WriteHeader(code int) {
	if !t.wroteHeader && code >= 200 {
		t.wroteHeader, t.code = true, code
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *headerTracker) Write(b []byte) (int, error) {
	if !t.wroteHeader {
		t.wroteHeader, t.code = true, http.StatusOK
	}
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (t *headerTracker) Unwrap() http.ResponseWriter { return t.ResponseWriter }
