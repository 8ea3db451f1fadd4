package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careervp/vprstatus/client"
)

// exchange is one request of the client and its answer, as the transport
// saw them.
type exchange struct {
	status         bool // a status request, not a result one
	sent, answered time.Time
	code           int
	retryAfter     time.Duration
	etag           string
	ifNoneMatch    string
	authorization  bool
}

// recorder is an http.RoundTripper that records every exchange.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	log  []exchange
}

func (rec *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	x := exchange{
		status:        strings.HasPrefix(r.URL.Path, "/api/vpr/status/"),
		sent:          time.Now(),
		ifNoneMatch:   r.Header.Get("If-None-Match"),
		authorization: r.Header.Get("Authorization") != "",
	}
	resp, err := rec.next.RoundTrip(r)
	x.answered = time.Now()
	if err == nil {
		x.code, x.etag = resp.StatusCode, resp.Header.Get("ETag")
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			x.retryAfter = time.Duration(n) * time.Second
		}
	}
	rec.mu.Lock()
	rec.log = append(rec.log, x)
	rec.mu.Unlock()
	return resp, err
}

func (rec *recorder) exchanges() []exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.log)
}

// devPost posts a JSON body to a development endpoint and decodes the answer.
func devPost(t *testing.T, u, body string, want int) map[string]any {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d %s, want %d", u, resp.StatusCode, &buf, want)
	}
	return decodeJSON(t, buf.Bytes())
}

// TestClientLifecycle waits for jobs of the running server with package
// client: through their states, with 304s, never sooner than each answer
// asked, to the result.
func TestClientLifecycle(t *testing.T) {
	for _, tt := range []struct {
		name                   string
		outcome                string
		pendingFor, processing string
		bounds                 []time.Duration // nil: the client's defaults, 1 s and 30 s
		want304                bool
	}{
		// The server asks for 2 s between polls: a job PENDING for 3 s is
		// polled twice while PENDING, the second time answered 304.
		{"COMPLETED", "COMPLETED", "3s", "1s", nil, true},
		// A maximum below the server's 2 s polls faster, 304 after 304.
		{"COMPLETED, a maximum below the ask", "COMPLETED", "1s", "1s", []time.Duration{100 * time.Millisecond, 300 * time.Millisecond}, true},
		{"FAILED", "FAILED", "1s", "1s", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, _ := startLocal(t)
			tok, _ := devPost(t, base+"/_local/token", `{"sub":"go-client"}`, 200)["token"].(string)
			id, _ := devPost(t, base+"/_local/jobs",
				`{"user_id":"go-client","outcome":"`+tt.outcome+`","pending_for":"`+tt.pendingFor+`","processing_for":"`+tt.processing+`"}`, 201)["job_id"].(string)

			tr := &http.Transport{}
			t.Cleanup(tr.CloseIdleConnections)
			rec := &recorder{next: tr}
			minWait, maxWait := time.Second, 30*time.Second
			opts := []client.Option{
				client.WithHTTPClient(&http.Client{Transport: rec}),
				client.WithToken(func(context.Context) (string, error) { return tok, nil }),
			}
			if tt.bounds != nil {
				minWait, maxWait = tt.bounds[0], tt.bounds[1]
				opts = append(opts, client.WithPollBounds(minWait, maxWait))
			}
			c, err := client.New(base, opts...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			var states []string
			s, err := c.Wait(ctx, id, func(s *client.Status) { states = append(states, s.State) })
			if err != nil {
				t.Fatalf("Wait: %v", err)
			}
			if s.State != tt.outcome || states[0] != "PENDING" || states[len(states)-1] != tt.outcome {
				t.Fatalf("Wait = %+v; states seen %v", s, states)
			}

			polls := slices.DeleteFunc(rec.exchanges(), func(x exchange) bool { return !x.status })
			var notModified int
			shortest := maxWait
			for i, x := range polls {
				if !x.authorization {
					t.Errorf("poll %d without Authorization", i)
				}
				if x.code == http.StatusNotModified {
					notModified++
				}
				if i == len(polls)-1 {
					break
				}
				if x.code != http.StatusAccepted && x.code != http.StatusNotModified {
					t.Fatalf("poll %d answered %d", i, x.code)
				}
				// What this answer asked for, within the bounds; the next
				// request may not go sooner.
				asked := min(max(x.retryAfter, minWait), maxWait)
				shortest = min(shortest, asked)
				if gap := polls[i+1].sent.Sub(x.answered); gap < asked {
					t.Errorf("poll %d went %v after the answer before it, which asked for %v", i+1, gap, asked)
				}
				if next := polls[i+1].ifNoneMatch; next != x.etag {
					t.Errorf("poll %d sent If-None-Match %q, want the last ETag %q", i+1, next, x.etag)
				}
			}
			elapsed := polls[len(polls)-1].sent.Sub(polls[0].sent)
			if limit := 1 + int(elapsed/shortest); len(polls) > limit {
				t.Errorf("%d polls in %v, when waits of at least %v allow %d", len(polls), elapsed, shortest, limit)
			}
			if tt.want304 && notModified == 0 {
				t.Errorf("no 304 among %d polls", len(polls))
			}
			t.Logf("%d polls (%d answered 304) in %v; states %v", len(polls), notModified, elapsed.Round(time.Millisecond), states)

			if tt.outcome == "FAILED" {
				if s.Error == "" {
					t.Error("FAILED without an error")
				}
				return
			}
			b, err := c.FetchResult(ctx, s)
			if err != nil {
				t.Fatalf("FetchResult: %v", err)
			}
			var result struct {
				JobID string `json:"job_id"`
			}
			if err := json.Unmarshal(b, &result); err != nil || result.JobID != id {
				t.Errorf("result %s: %v", b, err)
			}
			fetches := slices.DeleteFunc(rec.exchanges(), func(x exchange) bool { return x.status })
			if len(fetches) != 1 || fetches[0].authorization || fetches[0].code != 200 {
				t.Errorf("result requests %+v, want one 200 without Authorization", fetches)
			}
		})
	}
}

// TestClientErrors: the server's refusals reach the client's callers as
// the package's errors.
func TestClientErrors(t *testing.T) {
	base, out := startLocal(t)
	tok := tokenFromWelcome(t, out.String())
	other, _ := devPost(t, base+"/_local/token", `{"sub":"someone-else"}`, 200)["token"].(string)
	id, _ := devPost(t, base+"/_local/jobs", `{"user_id":"demo-user","outcome":"COMPLETED","pending_for":"0s","processing_for":"0s"}`, 201)["job_id"].(string)
	for _, tt := range []struct {
		name, token, id string
		want            error
	}{
		{"another user's job", other, id, client.ErrForbidden},
		{"an unknown job", tok, "00000000-0000-4000-8000-000000000000", client.ErrNotFound},
		{"a bad token", "not-a-token", id, client.ErrUnauthorized},
	} {
		c, err := client.New(base, client.WithToken(func(context.Context) (string, error) { return tt.token, nil }))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Wait(context.Background(), tt.id, nil); !errors.Is(err, tt.want) {
			t.Errorf("%s: Wait = %v, want %v", tt.name, err, tt.want)
		}
	}
}
