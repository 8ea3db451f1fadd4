// Command floor is the cold-start floor TestColdStart measures the function
// against: algnhsa and a ServeMux answering a fixed body, and nothing else.
// The test builds it with the function's own flags; it is never deployed.
package main

import (
	"net/http"

	"github.com/akrylysov/algnhsa"
)

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/vpr/status/{job_id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted) // what the function answers the test: a pending job
		w.Write([]byte(`{"status":"PENDING"}`))
	})
	algnhsa.ListenAndServe(mux, nil)
}
