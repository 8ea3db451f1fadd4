package status

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
)

// bufs recycles encoding buffers: every answer is encoded whole before the
// status line is written, so an encoding failure can still become a 500.
var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Header names in canonical form and values every answer can share (see
// shared): setting them directly spares the canonicalisation and an
// allocation per header per answer. Never written to.
const (
	hdrContentType   = "Content-Type"
	hdrContentLength = "Content-Length"
	hdrETag          = "Etag"
	hdrRetryAfter    = "Retry-After"
)

var (
	jsonType    = shared("application/json")
	problemType = shared("application/problem+json")
)

// writeJSON encodes v as the body of a code answer. HEAD answers carry the
// headers only: net/http drops HEAD bodies itself, but Lambda adapters relay
// whatever the handler writes.
func writeJSON(w http.ResponseWriter, r *http.Request, code int, contentType []string, v any) {
	buf := bufs.Get().(*bytes.Buffer)
	defer func() {
		buf.Reset()
		bufs.Put(buf)
	}()
	enc := json.NewEncoder(buf)
	// Presigned URLs are full of '&': keep them readable, not \u0026.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only plain structs and strings are encoded here; this cannot fail
		// short of a bug, and a bug is what the recover middleware is for.
		panic(err)
	}
	h := w.Header()
	h[hdrContentType] = contentType
	h[hdrContentLength] = []string{strconv.Itoa(buf.Len())}
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}
