package status

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// writeJSON encodes v as the body of a code answer. HEAD answers carry the
// headers only: net/http drops HEAD bodies itself, but Lambda adapters relay
// whatever the handler writes.
func writeJSON(w http.ResponseWriter, r *http.Request, code int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only plain structs and strings are encoded here; this cannot fail
		// short of a bug, and a bug is what the recover middleware is for.
		panic(err)
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
