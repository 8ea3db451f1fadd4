// Package bench measures the status handler: benchmarks of the complete
// handler (go test -bench . ./bench/), read against a floor; bench/ratios,
// which prints the targets' ratios from their output; and bench/load, a
// load generator for cmd/local. The README's Benchmarks section says how to
// run them.
//
// The package's one export is the floor, shared by the benchmarks and the
// load command so that both measure against the same thing.
package bench

import (
	"encoding/json"
	"net/http"

	"github.com/careervp/vprstatus/status"
)

// Completed is the 200 body of a COMPLETED job, member for member as the
// status handler writes it.
type Completed struct {
	JobID              string             `json:"job_id"`
	Status             status.State       `json:"status"`
	CreatedAt          string             `json:"created_at"`
	CompletedAt        string             `json:"completed_at,omitempty"`
	ResultURL          string             `json:"result_url"`
	ResultURLExpiresAt string             `json:"result_url_expires_at"`
	TokenUsage         *status.TokenUsage `json:"token_usage,omitempty"`
}

// StatusRoute is the route pattern of the status endpoint.
const StatusRoute = "GET /api/vpr/status/{job_id}"

// Floor is what every ratio is taken against: the status route on a bare
// ServeMux, answering any job id with body (its job_id set to the path's)
// encoded with encoding/json. No authentication, limiter, store or signer:
// the cost of routing a request and writing the answer, which no handler of
// this API can go below.
func Floor(body Completed) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(StatusRoute, func(w http.ResponseWriter, r *http.Request) {
		b := body
		b.JobID = r.PathValue("job_id")
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // as the handler does: result URLs are full of '&'
		if err := enc.Encode(&b); err != nil {
			panic(err) // a struct of strings and ints always encodes
		}
	})
	return mux
}
