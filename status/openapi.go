package status

import _ "embed" // for the OpenAPI document

// openAPIDocument is a string so that nothing can modify it in place.
//
//go:embed openapi.json
var openAPIDocument string

// OpenAPI returns the OpenAPI 3.1 document (JSON) describing the HTTP API
// that New serves: GET and HEAD /api/vpr/status/{job_id} (and OPTIONS, the
// CORS preflight, where CORS is configured), its answers and headers.
// Each call returns a new copy, which the caller may keep or modify.
func OpenAPI() []byte {
	return []byte(openAPIDocument)
}
