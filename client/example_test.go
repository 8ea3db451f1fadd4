package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/careervp/vprstatus/client"
)

func Example() {
	// A stand-in for the service, whose job is done already.
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mux.HandleFunc("GET /api/vpr/status/{job_id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"job_id":%q,"status":"COMPLETED","created_at":"2026-01-02T03:04:05Z","result_url":%q,"result_url_expires_at":"2099-01-01T00:00:00Z"}`,
			r.PathValue("job_id"), srv.URL+"/results/r.json?signature=abc")
	})
	mux.HandleFunc("GET /results/r.json", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"headline":"Platform engineer"}`)
	})

	c, err := client.New(srv.URL, client.WithToken(func(ctx context.Context) (string, error) {
		return "a token from your identity provider", nil
	}))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s, err := c.Wait(ctx, "0b7c5a39-5d8f-4bd4-9d6c-3e7c4a2f5e10", func(s *client.Status) {
		fmt.Println("state:", s.State)
	})
	switch {
	case errors.Is(err, client.ErrNotFound):
		log.Fatal("no such job, or it expired")
	case err != nil:
		log.Fatal(err)
	case s.State == "FAILED":
		log.Fatal("the job failed: ", s.Error)
	}
	report, err := c.FetchResult(ctx, s)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(report))
	// Output:
	// state: COMPLETED
	// {"headline":"Platform engineer"}
}
