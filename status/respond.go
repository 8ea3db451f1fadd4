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

// writeJSON encodes v as the body of a code answer. HEAD answers carry the
// headers only: net/http drops HEAD bodies itself, but Lambda adapters relay
// whatever the handler writes.
func writeJSON(w http.ResponseWriter, r *http.Request, code int, contentType string, v any) {
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
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}
