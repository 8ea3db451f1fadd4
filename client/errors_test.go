package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careervp/vprstatus/client"
)

// TestUnauthorized: after a 401 the token source is asked once more and the
// request repeated at once; a second 401 is ErrUnauthorized.
func TestUnauthorized(t *testing.T) {
	invalid := problem(401, "Unauthorized", "The bearer token is invalid or expired", "WWW-Authenticate", `Bearer realm="vprstatus", error="invalid_token"`)
	// byToken answers 401 to every token but the one it accepts.
	byToken := func(accept string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+accept {
				invalid(w, r)
				return
			}
			completed()(w, r)
		}
	}
	for _, tt := range []struct {
		name   string
		steps  []http.HandlerFunc
		tokens []string // what the source gives, call after call
		ok     bool
	}{
		{"refreshed", []http.HandlerFunc{byToken("fresh"), byToken("fresh")}, []string{"stale", "fresh"}, true},
		{"twice", []http.HandlerFunc{byToken("fresh"), byToken("fresh")}, []string{"stale", "still stale"}, false},
	} {
		for _, method := range []string{"Status", "Wait"} {
			t.Run(tt.name+"/"+method, func(t *testing.T) {
				srv := newServer(t, tt.steps...)
				clk := newClock(time.Now())
				var calls atomic.Int32
				c := newClient(t, srv.URL, clk, client.WithToken(func(context.Context) (string, error) {
					n := calls.Add(1)
					return tt.tokens[min(int(n), len(tt.tokens))-1], nil
				}))
				var err error
				if method == "Status" {
					_, err = c.Status(context.Background(), jobID)
				} else {
					_, err = c.Wait(context.Background(), jobID, nil)
				}
				if tt.ok && err != nil {
					t.Fatalf("%s: %v", method, err)
				}
				if !tt.ok {
					var e *client.APIError
					if !errors.Is(err, client.ErrUnauthorized) || !errors.As(err, &e) || e.Detail != "The bearer token is invalid or expired" {
						t.Fatalf("%s = %v, want ErrUnauthorized with the service's message", method, err)
					}
				}
				if n := calls.Load(); n != 2 {
					t.Errorf("token source called %d times, want 2", n)
				}
				checkRequests(t, srv, 2)
				if w := clk.Waits(); len(w) != 0 {
					t.Errorf("waited %v before repeating the request", w)
				}
			})
		}
	}

	t.Run("no token source", func(t *testing.T) {
		srv := newServer(t, problem(401, "Unauthorized", "A bearer token is required"))
		c, err := client.New(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Wait(context.Background(), jobID, nil); !errors.Is(err, client.ErrUnauthorized) {
			t.Fatalf("Wait = %v, want ErrUnauthorized", err)
		}
		checkRequests(t, srv, 1)
	})
	t.Run("the token source fails", func(t *testing.T) {
		srv := newServer(t)
		boom := errors.New("identity provider down")
		c := newClient(t, srv.URL, newClock(time.Now()), client.WithToken(func(context.Context) (string, error) { return "", boom }))
		if _, err := c.Wait(context.Background(), jobID, nil); !errors.Is(err, boom) {
			t.Fatalf("Wait = %v, want the token source's error", err)
		}
		checkRequests(t, srv, 0)
	})
}

// TestErrorAnswers: 403, 404, 410 and other error answers end the poll at
// once, as *APIError matching their sentinel.
func TestErrorAnswers(t *testing.T) {
	for _, tt := range []struct {
		name     string
		answer   http.HandlerFunc
		code     int
		sentinel error
		title    string
		detail   string
	}{
		{"403", problem(403, "Forbidden", ""), 403, client.ErrForbidden, "Forbidden", ""},
		{"404", problem(404, "Job not found (may have expired after 10 minutes)", ""), 404, client.ErrNotFound,
			"Not Found", "Job not found (may have expired after 10 minutes)"},
		{"410", problem(410, "Result expired or deleted", "Please regenerate the VPR"), 410, client.ErrResultGone,
			"Gone", "Result expired or deleted: Please regenerate the VPR"},
		{"500", problem(500, "Internal server error", "Failed to retrieve job status"), 500, nil,
			"Internal Server Error", "Failed to retrieve job status"},
		{"405", problem(405, "Method not allowed", ""), 405, nil, "Method Not Allowed", ""},
		{"a problem with detail", reply(400, `{"title":"Bad Request","status":400,"detail":"why","error":"e","message":"m"}`), 400, nil, "Bad Request", "why"},
		{"a proxy's HTML", reply(502, "<html>bad gateway</html>"), 502, nil, "Bad Gateway", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.answer, tt.answer)
			clk := newClock(time.Now())
			c := newClient(t, srv.URL, clk)
			for _, call := range []func() error{
				func() error { _, err := c.Status(context.Background(), jobID); return err },
				func() error { _, err := c.Wait(context.Background(), jobID, nil); return err },
			} {
				err := call()
				if !isAPIError(tt.code, 0, tt.sentinel)(err) {
					t.Fatalf("err = %v, want an *APIError %d matching %v", err, tt.code, tt.sentinel)
				}
				var e *client.APIError
				errors.As(err, &e)
				if e.Title != tt.title || e.Detail != tt.detail || len(e.Body) == 0 {
					t.Errorf("APIError{Title: %q, Detail: %q, Body: %q}, want title %q, detail %q and the body", e.Title, e.Detail, e.Body, tt.title, tt.detail)
				}
			}
			checkRequests(t, srv, 2) // one each: no retry
			if w := clk.Waits(); len(w) != 0 {
				t.Errorf("waited %v", w)
			}
		})
	}
}

func TestAPIErrorMessage(t *testing.T) {
	e := &client.APIError{StatusCode: 429, Title: "Too Many Requests", Detail: "Polling too fast", RetryAfter: 3 * time.Second}
	if got, want := e.Error(), "vprstatus client: 429 Too Many Requests: Polling too fast (retry after 3s)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestMalformedBodies: an answer that is not the expected JSON ends the
// poll at once with an error that is not an *APIError.
func TestMalformedBodies(t *testing.T) {
	other := "11111111-2222-4333-8444-555555555555"
	for _, tt := range []struct {
		name   string
		answer http.HandlerFunc
	}{
		{"not JSON", reply(200, "<html>ok</html>")},
		{"truncated JSON", reply(202, `{"job_id":"`+jobID+`","status":"PEND`)},
		{"another job", reply(202, `{"job_id":"`+other+`","status":"PENDING","created_at":"2026-01-02T03:04:05Z"}`)},
		{"an unknown state", reply(200, `{"job_id":"`+jobID+`","status":"DONE","created_at":"2026-01-02T03:04:05Z"}`)},
		{"no state", reply(200, `{"job_id":"`+jobID+`"}`)},
		{"a bad time", reply(202, `{"job_id":"`+jobID+`","status":"PENDING","created_at":"yesterday"}`)},
		{"COMPLETED without a URL", reply(200, `{"job_id":"`+jobID+`","status":"COMPLETED","created_at":"2026-01-02T03:04:05Z"}`)},
		{"COMPLETED with a relative URL", reply(200, `{"job_id":"`+jobID+`","status":"COMPLETED","result_url":"/r.json"}`)},
		{"a 304 to no If-None-Match", reply(304, "")},
		// The state must agree with the code.
		{"COMPLETED on a 202", reply(202, completedBody("https://results.example/r.json?sig=x", time.Now().Add(time.Hour)))},
		{"FAILED on a 202", reply(202, `{"job_id":"`+jobID+`","status":"FAILED","created_at":"2026-01-02T03:04:05Z","error":"no report"}`)},
		{"PENDING on a 200", reply(200, `{"job_id":"`+jobID+`","status":"PENDING","created_at":"2026-01-02T03:04:05Z"}`)},
		{"PROCESSING on a 200", reply(200, `{"job_id":"`+jobID+`","status":"PROCESSING","created_at":"2026-01-02T03:04:05Z"}`)},
		{"FAILED without an error", reply(200, `{"job_id":"`+jobID+`","status":"FAILED","created_at":"2026-01-02T03:04:05Z"}`)},
		{"FAILED with a null error", reply(200, `{"job_id":"`+jobID+`","status":"FAILED","error":null}`)},
		{"FAILED with an error that is no string", reply(200, `{"job_id":"`+jobID+`","status":"FAILED","error":{"why":"x"}}`)},
		{"a body too large", reply(200, `{"job_id":"`+jobID+`","status":"FAILED","error":"`+strings.Repeat("x", 70<<10)+`"}`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.answer, tt.answer)
			clk := newClock(time.Now())
			c := newClient(t, srv.URL, clk)
			_, errStatus := c.Status(context.Background(), jobID)
			_, errWait := c.Wait(context.Background(), jobID, nil)
			for _, err := range []error{errStatus, errWait} {
				var e *client.APIError
				if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "malformed") {
					t.Errorf("err = %v, want a malformed-answer error", err)
				}
			}
			checkRequests(t, srv, 2)
			if w := clk.Waits(); len(w) != 0 {
				t.Errorf("waited %v", w)
			}
		})
	}
}

// TestNetworkErrors: no answer at all is retried with backoff; after the
// budget the transport's error comes back, wrapped.
func TestNetworkErrors(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := "http://" + ln.Addr().String()
		ln.Close() // nothing listens there now
		clk := newClock(time.Now())
		_, err = newClient(t, base, clk).Wait(context.Background(), jobID, nil)
		var opErr *net.OpError
		var urlErr *url.Error
		if !errors.As(err, &opErr) || !errors.As(err, &urlErr) {
			t.Fatalf("Wait = %v, want the transport's error", err)
		}
		checkWaits(t, clk.Waits(), time.Second, 2*time.Second, 4*time.Second, 8*time.Second)
	})
	t.Run("recovers", func(t *testing.T) {
		hangUp := func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close()
		}
		// An answer cut short: the promised body never arrives.
		cutShort := func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "500")
			w.WriteHeader(202)
			w.Write([]byte(`{"job_id":`))
			panic(http.ErrAbortHandler)
		}
		srv := newServer(t, hangUp, cutShort, hangUp, completed())
		clk := newClock(time.Now())
		s, err := newClient(t, srv.URL, clk).Wait(context.Background(), jobID, nil)
		if err != nil || s.State != "COMPLETED" {
			t.Fatalf("Wait = %+v, %v", s, err)
		}
		checkWaits(t, clk.Waits(), time.Second, 2*time.Second, 4*time.Second)
		checkRequests(t, srv, 4)
	})
}

// TestContext: Wait ends with ctx, and does not start a wait that ctx's
// deadline would cut short.
func TestContext(t *testing.T) {
	t.Run("cancelled while waiting", func(t *testing.T) {
		srv := newServer(t, inProgress("PENDING", `"p"`, "20"))
		c, err := client.New(srv.URL) // the real clock: the cancel must end a real wait
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		_, err = c.Wait(ctx, jobID, func(*client.Status) { time.AfterFunc(50*time.Millisecond, cancel) })
		if err != context.Canceled {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Wait returned %v after the cancel", d)
		}
	})
	t.Run("cancelled during a request", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			cancel()
			<-r.Context().Done()
		})
		_, err := newClient(t, srv.URL, newClock(time.Now())).Wait(ctx, jobID, nil)
		if err != context.Canceled {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
	})
	t.Run("already ended", func(t *testing.T) {
		srv := newServer(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c := newClient(t, srv.URL, newClock(time.Now()))
		if _, err := c.Wait(ctx, jobID, nil); err != context.Canceled {
			t.Errorf("Wait = %v, want context.Canceled", err)
		}
		if _, err := c.Status(ctx, jobID); err != context.Canceled {
			t.Errorf("Status = %v, want context.Canceled", err)
		}
		checkRequests(t, srv, 0)
	})
	t.Run("a wait beyond the deadline", func(t *testing.T) {
		srv := newServer(t, inProgress("PENDING", `"p"`, "2"), notModified(`"p"`, "2"), notModified(`"p"`, "2"))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		clk := newClock(time.Now())
		_, err := newClient(t, srv.URL, clk).Wait(ctx, jobID, nil)
		if err != context.DeadlineExceeded {
			t.Fatalf("Wait = %v, want context.DeadlineExceeded", err)
		}
		// Two waits of 2–2.2 s fit in 5 s; the third would not.
		checkWaits(t, clk.Waits(), 2*time.Second, 2*time.Second)
		if ctx.Err() != nil {
			t.Error("Wait returned when ctx ended, not before the wait it could not finish")
		}
	})
	t.Run("the real clock", func(t *testing.T) {
		srv := newServer(t, inProgress("PENDING", `"p"`, "20"))
		c, err := client.New(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.Wait(ctx, jobID, nil); err != context.DeadlineExceeded {
			t.Fatalf("Wait = %v, want context.DeadlineExceeded", err)
		}
		if ctx.Err() != nil {
			t.Error("Wait waited for the deadline instead of failing at once")
		}
	})
}
