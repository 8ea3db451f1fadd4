package status

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/careervp/vprstatus/auth"
)

// commonHeaders sets what every answer carries: bodies may hold a presigned
// URL, and 404/410 are heuristically cacheable unless told otherwise.
func commonHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// authenticate puts the caller's user id in the request context, or answers 401.
func authenticate(ew errorWriter, a Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := a.Authenticate(r)
		if err != nil {
			ew.write(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), user)))
	})
}

// recoverPanics turns a panic into a logged 500 instead of a dropped connection.
func recoverPanics(ew errorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &headerTracker{ResponseWriter: w}
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
			ew.write(rw, r, errors.Join(err))
		}()
		next.ServeHTTP(rw, r)
	})
}

// headerTracker remembers whether the status line has been written.
type headerTracker struct {
	http.ResponseWriter
	wroteHeader bool
}

func (t *headerTracker) WriteHeader(code int) {
	t.wroteHeader = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *headerTracker) Write(b []byte) (int, error) {
	t.wroteHeader = true
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (t *headerTracker) Unwrap() http.ResponseWriter { return t.ResponseWriter }
