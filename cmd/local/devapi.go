package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/status"
	"github.com/careervp/vprstatus/web"
)

// devAPI is what the local binary serves beside the API whatever the
// backend: tokens on demand under /_local/, health, the API description, and
// at the root the demo page and the polling module.
type devAPI struct {
	logger *slog.Logger
	minter *fakes.Issuer
	guard  guard
}

// webFiles are the embedded files served at the root, by path.
var webFiles = map[string]string{
	"/":           "index.html",
	"/demo.js":    "demo.js",
	"/demo.css":   "demo.css",
	"/vprpoll.js": "vprpoll.js",
}

// addRoutes adds the endpoints every backend has. devOrAPI must send their
// paths here.
func (d devAPI) addRoutes(mux *http.ServeMux) error {
	mux.Handle("/_local/token", d.guard.devEndpoint(http.MethodPost, d.handleToken()))
	mux.Handle("/_local/", handleNotFound())
	mux.Handle("/healthz", getOnly(handleHealth()))
	mux.Handle("/openapi.json", getOnly(handleOpenAPI()))
	for path, file := range webFiles {
		h, err := handleWebFile(file)
		if err != nil {
			return err
		}
		if path == "/" {
			path = "/{$}"
		}
		if file == "vprpoll.js" {
			// A frontend dev server on another origin imports it directly.
			mux.Handle(path, d.guard.readableBy(h))
		} else {
			mux.Handle(path, getOnly(h))
		}
	}
	return nil
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

// noStore sets what every development answer but the web files carries.
func noStore(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	noStore(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v) // #nosec G104 -- writes the answer: v is one of this file's answer types, which always encode, and a failed write means the client is gone
}

// writeProblem answers with a problem+json error, as the API's errors are.
func writeProblem(w http.ResponseWriter, r *http.Request, code int, errText, message string) {
	noStore(w)
	status.WriteProblem(w, r, code, errText, message)
}

func badRequest(w http.ResponseWriter, r *http.Request, msg string) {
	writeProblem(w, r, http.StatusBadRequest, "Bad request", msg)
}

// getOnly answers other methods than GET and HEAD with a 405.
func getOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeProblem(w, r, http.StatusMethodNotAllowed, "Method not allowed", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusNotFound, "Not found", "")
	})
}

func (d devAPI) handleToken() http.Handler {
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
			badRequest(w, r, err.Error())
			return
		}
		if req.Sub == "" || len(req.Sub) > 256 {
			badRequest(w, r, "sub must be 1 to 256 characters")
			return
		}
		tok, err := d.minter.Token("HS256", req.Sub, tokenTTL)
		if err != nil {
			d.logger.ErrorContext(r.Context(), "minting token", "err", err)
			writeProblem(w, r, http.StatusInternalServerError, "Internal server error", "")
			return
		}
		writeJSON(w, http.StatusOK, response{Token: tok, ExpiresAt: time.Now().Add(tokenTTL).UTC().Format(time.RFC3339)})
	})
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
