package status

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"
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

// writeJSON encodes v as the body of a code answer with encoding/json.
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
	write(w, r, code, contentType, buf.Bytes())
}

// A jsonBody is an answer body that appends its own encoding: byte for byte
// what writeJSON's encoder writes for it, final newline included, without
// reflection or an encoder per answer. The answers every poll gets are
// jsonBodies (see handler.go); the tests hold each to encoding/json.
type jsonBody interface {
	appendJSON(b []byte) []byte
}

// writeBody writes body as the body of a code answer, as writeJSON would.
func writeBody[B jsonBody](w http.ResponseWriter, r *http.Request, code int, contentType []string, body B) {
	buf := bufs.Get().(*bytes.Buffer)
	defer func() {
		buf.Reset()
		bufs.Put(buf)
	}()
	buf.Write(body.appendJSON(buf.AvailableBuffer()))
	write(w, r, code, contentType, buf.Bytes())
}

// write sends body as a code answer. HEAD answers carry the headers only:
// net/http drops HEAD bodies itself, but Lambda adapters relay whatever the
// handler writes.
func write(w http.ResponseWriter, r *http.Request, code int, contentType []string, body []byte) {
	h := w.Header()
	h[hdrContentType] = contentType
	h[hdrContentLength] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// appendString appends s as a JSON string, escaped as encoding/json escapes
// strings with SetEscapeHTML(false): '"', '\\' and the control characters,
// \b \f \n \r \t by name and the others as \u00XX; each byte of invalid
// UTF-8 as \ufffd; U+2028 and U+2029 as \u2028 and \u2029 (JSONP).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0 // s[start:i] is yet to be appended
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
