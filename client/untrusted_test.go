package client_test

// Tests of the package documentation's "Untrusted answers": a status
// server that redirects, sends bodies without end, stalls, or answers
// what the contract does not allow.

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careervp/vprstatus/client"
)

// elsewhere is a listener a redirect points at: it records every request
// it gets, and answers as the API would, so a client that followed would
// succeed.
type elsewhere struct {
	*httptest.Server
	mu   sync.Mutex
	auth []string // the Authorization of each request ("" when none)
}

func newElsewhere(t *testing.T) *elsewhere {
	t.Helper()
	e := &elsewhere{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.auth = append(e.auth, r.Header.Get("Authorization"))
		e.mu.Unlock()
		completed()(w, r)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *elsewhere) authorizations() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.auth...)
}

// mapHosts is a transport that dials every host under domain (and domain
// itself) on loopback, keeping the port: a subdomain without DNS.
func mapHosts(domain string) *http.Transport {
	var d net.Dialer
	return &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if host == domain || strings.HasSuffix(host, "."+domain) {
			host = "127.0.0.1"
		}
		return d.DialContext(ctx, network, net.JoinHostPort(host, port))
	}}
}

// TestRedirectsRefused: a status request is never redirected, so the token
// never reaches another listener, whatever the kind of redirect, with the
// default HTTP client or one given with WithHTTPClient.
func TestRedirectsRefused(t *testing.T) {
	for _, tt := range []struct {
		name string
		// setup returns the API's base URL, the HTTP client to give (nil:
		// the default) and the target of the redirect.
		setup func(t *testing.T, api http.HandlerFunc, target *elsewhere) (base string, hc *http.Client, to string)
	}{
		{"the same host on another port", func(t *testing.T, api http.HandlerFunc, target *elsewhere) (string, *http.Client, string) {
			srv := httptest.NewServer(api)
			t.Cleanup(srv.Close)
			return srv.URL, nil, target.URL + "/api/vpr/status/" + jobID
		}},
		{"from https: to http:", func(t *testing.T, api http.HandlerFunc, target *elsewhere) (string, *http.Client, string) {
			srv := httptest.NewTLSServer(api)
			t.Cleanup(srv.Close)
			return srv.URL, srv.Client(), target.URL + "/api/vpr/status/" + jobID
		}},
		{"to a subdomain", func(t *testing.T, api http.HandlerFunc, target *elsewhere) (string, *http.Client, string) {
			srv := httptest.NewServer(api)
			t.Cleanup(srv.Close)
			_, apiPort, _ := net.SplitHostPort(srv.Listener.Addr().String())
			_, targetPort, _ := net.SplitHostPort(target.Listener.Addr().String())
			hc := &http.Client{Transport: mapHosts("vpr.test"), Timeout: 10 * time.Second}
			return "http://vpr.test:" + apiPort, hc, "http://evil.vpr.test:" + targetPort + "/api/vpr/status/" + jobID
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := newElsewhere(t)
			var to string
			var apiRequests int
			var mu sync.Mutex
			api := func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				apiRequests++
				mu.Unlock()
				http.Redirect(w, r, to, http.StatusFound)
			}
			base, hc, loc := tt.setup(t, api, target)
			to = loc

			// The setup is real: a stock client follows the redirect to the
			// target (and Go's keeps the token for all three kinds).
			stock := &http.Client{}
			if hc != nil {
				stock = hc
			}
			req, _ := http.NewRequest("GET", base+"/api/vpr/status/"+jobID, nil)
			req.Header.Set("Authorization", "Bearer tok")
			resp, err := stock.Do(req)
			if err != nil {
				t.Fatalf("a stock client: %v", err)
			}
			resp.Body.Close()
			if got := target.authorizations(); len(got) != 1 {
				t.Fatalf("a stock client did not reach the target: %q", got)
			}
			t.Logf("a stock client's request reached the target with Authorization %q", target.authorizations()[0])
			target.mu.Lock()
			target.auth = nil
			target.mu.Unlock()
			mu.Lock()
			apiRequests = 0
			mu.Unlock()

			var opts []client.Option
			var transport http.RoundTripper
			if hc != nil {
				opts = append(opts, client.WithHTTPClient(hc))
				transport = hc.Transport
			}
			c := newClient(t, base, newClock(time.Now()), opts...)
			for _, call := range []func() error{
				func() error { _, err := c.Status(context.Background(), jobID); return err },
				func() error { _, err := c.Wait(context.Background(), jobID, nil); return err },
			} {
				err := call()
				var e *client.APIError
				if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), strconv.Quote(loc)) || !strings.Contains(err.Error(), "302") {
					t.Errorf("err = %v, want a redirect error naming the Location %q", err, loc)
				}
			}
			if got := target.authorizations(); len(got) != 0 {
				t.Errorf("the redirect's target got %d requests (Authorization %q), want none", len(got), got)
			}
			mu.Lock()
			if apiRequests != 2 {
				t.Errorf("the API got %d requests, want 2: one each, no retry", apiRequests)
			}
			mu.Unlock()
			if hc != nil && (hc.CheckRedirect != nil || hc.Transport != transport) {
				t.Error("WithHTTPClient changed the caller's client")
			}
		})
	}
}

// TestRedirectCodes: every redirect code, and a 3xx without a Location.
func TestRedirectCodes(t *testing.T) {
	target := newElsewhere(t)
	for _, code := range []int{301, 302, 303, 307, 308, 300} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			loc := target.URL + "/x"
			srv := newServer(t, reply(code, "", "Location", loc))
			_, err := newClient(t, srv.URL, newClock(time.Now())).Wait(context.Background(), jobID, nil)
			if err == nil || !strings.Contains(err.Error(), strconv.Quote(loc)) {
				t.Errorf("Wait = %v, want an error naming %q", err, loc)
			}
			checkRequests(t, srv, 1)
		})
	}
	t.Run("no Location", func(t *testing.T) {
		srv := newServer(t, reply(302, ""))
		_, err := newClient(t, srv.URL, newClock(time.Now())).Status(context.Background(), jobID)
		if err == nil || !strings.Contains(err.Error(), "without a Location") {
			t.Errorf("Status = %v, want a redirect error", err)
		}
	})
	t.Run("a Location's query and credentials are left out", func(t *testing.T) {
		u := strings.Replace(target.URL, "//", "//user:pass@", 1)
		srv := newServer(t, reply(302, "", "Location", u+"/x?sig=secret#frag"))
		_, err := newClient(t, srv.URL, newClock(time.Now())).Status(context.Background(), jobID)
		if err == nil || !strings.Contains(err.Error(), strconv.Quote(target.URL+"/x")) || strings.ContainsAny(err.Error(), "?#") ||
			strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "pass") {
			t.Errorf("Status = %v, want a redirect error naming %q", err, target.URL+"/x")
		}
	})
	t.Run("a Location that is no URL", func(t *testing.T) {
		srv := newServer(t, reply(302, "", "Location", target.URL+"/%zz?sig=secret"))
		_, err := newClient(t, srv.URL, newClock(time.Now())).Wait(context.Background(), jobID, nil)
		if err == nil || !strings.Contains(err.Error(), "%zz") || strings.Contains(err.Error(), "secret") {
			t.Errorf("Wait = %v, want a redirect error naming the Location, without its query", err)
		}
		checkRequests(t, srv, 1) // not retried as a network error
	})
	t.Run("a long Location is cut", func(t *testing.T) {
		loc := target.URL + "/" + strings.Repeat("a", 10<<10)
		srv := newServer(t, reply(302, "", "Location", loc))
		_, err := newClient(t, srv.URL, newClock(time.Now())).Status(context.Background(), jobID)
		if err == nil || len(err.Error()) > 1024 || !strings.Contains(err.Error(), target.URL) {
			t.Errorf("Status = %.2000v, want a short error naming the start of the Location", err)
		}
	})
	if got := target.authorizations(); len(got) != 0 {
		t.Errorf("the redirects' target got %d requests", len(got))
	}
}

// TestResultRedirectsFollowed: a result fetch may follow a redirect: it
// carries no token.
func TestResultRedirectsFollowed(t *testing.T) {
	moved := newServer(t, reply(200, report))
	store := newServer(t, reply(302, "", "Location", moved.URL+"/r.json?sig=s2"))
	b, err := newClient(t, newServer(t).URL, newClock(time.Now())).FetchResult(context.Background(), completedAt(store.URL+"/r.json?sig=s1", time.Now().Add(time.Hour)))
	if err != nil || string(b) != report {
		t.Fatalf("FetchResult = %q, %v", b, err)
	}
	if r := moved.requests()[0]; r.Header.Get("Authorization") != "" || r.URL.Query().Get("sig") != "s2" {
		t.Errorf("the redirected result request: %s, Authorization %q", r.URL, r.Header.Get("Authorization"))
	}
}

// endless answers code and then writes body chunks until the client hangs
// up (bounded, so a client that never does fails the test instead of
// filling the disk).
func endless(t *testing.T, code int, chunk []byte, fields ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(fields); i += 2 {
			w.Header().Set(fields[i], fields[i+1])
		}
		w.WriteHeader(code)
		for sent := 0; sent < 1<<30; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		t.Errorf("the client read a GiB of an endless body")
	}
}

// gzipBomb is one gzip member of 1 MiB of zeros (about 1 KiB): repeated,
// a stream that inflates without end.
func gzipBomb(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBoundedBodies: bodies are read up to their bound, after
// decompression, and the status code counts before the size.
func TestBoundedBodies(t *testing.T) {
	filler := []byte(strings.Repeat("x", 32<<10))
	bomb := gzipBomb(t)
	big := func(code int) http.HandlerFunc {
		return reply(code, `{"title":"`+strings.Repeat("x", 100<<10)+`"}`)
	}
	for _, tt := range []struct {
		name   string
		steps  []http.HandlerFunc
		check  func(error) bool
		want   string
		status bool // one Status call, not Wait
	}{
		{"a 401 over the bound is unauthorized", []http.HandlerFunc{big(401), big(401)},
			func(err error) bool { return errors.Is(err, client.ErrUnauthorized) }, "ErrUnauthorized", false},
		{"an endless 401 is unauthorized", []http.HandlerFunc{endless(t, 401, filler), endless(t, 401, filler)},
			func(err error) bool { return errors.Is(err, client.ErrUnauthorized) }, "ErrUnauthorized", false},
		{"a 503 over the bound is retried", []http.HandlerFunc{big(503), endless(t, 503, filler, "Retry-After", "1"), completed()},
			func(err error) bool { return err == nil }, "success", false},
		{"a 404 over the bound is not found", []http.HandlerFunc{endless(t, 404, filler)},
			func(err error) bool { return errors.Is(err, client.ErrNotFound) }, "ErrNotFound", true},
		{"an endless 202", []http.HandlerFunc{endless(t, 202, filler)}, isMalformed, "malformed", true},
		{"a gzip bomb 202", []http.HandlerFunc{endless(t, 202, bomb, "Content-Encoding", "gzip")}, isMalformed, "malformed", true},
		{"a gzip bomb 401", []http.HandlerFunc{endless(t, 401, bomb, "Content-Encoding", "gzip"), endless(t, 401, bomb, "Content-Encoding", "gzip")},
			func(err error) bool { return errors.Is(err, client.ErrUnauthorized) }, "ErrUnauthorized", false},
		{"a Content-Length over the bound", []http.HandlerFunc{reply(200, "{}", "Content-Length", strconv.Itoa(1<<30))}, isMalformed, "malformed", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.steps...)
			c := newClient(t, srv.URL, newClock(time.Now()))
			var err error
			if tt.status {
				_, err = c.Status(context.Background(), jobID)
			} else {
				_, err = c.Wait(context.Background(), jobID, nil)
			}
			if !tt.check(err) {
				t.Errorf("err = %.300v, want %s", err, tt.want)
			}
			checkRequests(t, srv, len(tt.steps))
		})
	}

	t.Run("results", func(t *testing.T) {
		for name, h := range map[string]http.HandlerFunc{
			"endless":          endless(t, 200, filler),
			"a gzip bomb":      endless(t, 200, bomb, "Content-Encoding", "gzip"),
			"a Content-Length": reply(200, "{}", "Content-Length", strconv.Itoa(1<<40)),
		} {
			t.Run(name, func(t *testing.T) {
				store := newServer(t, h)
				_, err := newClient(t, newServer(t).URL, newClock(time.Now())).FetchResult(context.Background(), completedAt(store.URL+"/r.json?sig=secret", time.Now().Add(time.Hour)))
				if err == nil || !strings.Contains(err.Error(), "too large") || strings.Contains(err.Error(), "secret") {
					t.Errorf("FetchResult = %v, want a too-large error without the signature", err)
				}
			})
		}
	})
}

func isMalformed(err error) bool {
	var e *client.APIError
	return err != nil && !errors.As(err, &e) && strings.Contains(err.Error(), "malformed")
}

// TestStalledServer: the HTTP client's Timeout bounds each request,
// headers and body alike; expiry is a network error, retried like one.
func TestStalledServer(t *testing.T) {
	const timeout = 200 * time.Millisecond
	silent := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	drip := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(202)
		rc := http.NewResponseController(w)
		for {
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			rc.Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	for name, h := range map[string]http.HandlerFunc{"a silent server": silent, "a dripping body": drip} {
		t.Run(name, func(t *testing.T) {
			srv := newServer(t, h, h, h, h, h, h)
			hc := &http.Client{Timeout: timeout}
			clk := newClock(time.Now())
			c := newClient(t, srv.URL, clk, client.WithHTTPClient(hc))

			began := time.Now()
			_, err := c.Status(context.Background(), jobID)
			took := time.Since(began)
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("Status = %v, want a timeout", err)
			}
			if took < timeout || took > timeout+5*time.Second {
				t.Errorf("Status took %v, want about %v", took, timeout)
			}

			// Wait retries it as a network error: five attempts.
			_, err = c.Wait(context.Background(), jobID, nil)
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("Wait = %v, want a timeout", err)
			}
			checkWaits(t, clk.Waits(), time.Second, 2*time.Second, 4*time.Second, 8*time.Second)
			checkRequests(t, srv, 6)
		})
	}
}

// TestResultURLs: a COMPLETED body's result_url must be an absolute
// https: URL (http: under an http: base), without credentials, with a good
// port; an error never repeats it.
func TestResultURLs(t *testing.T) {
	const sig = "X-Amz-Signature=secret"
	for _, tt := range []struct {
		name, url string
		tls       bool // the API is https:
		ok        bool
	}{
		{"https:", "https://results.example/r.json?" + sig, true, true},
		{"https: under an http: base", "https://results.example/r.json?" + sig, false, true},
		{"http: under an http: base", "http://127.0.0.1:9/r.json?" + sig, false, true},
		{"http: under an https: base", "http://results.example/r.json?" + sig, true, false},
		{"data:", `data:application/json,{"headline":"forged"}`, false, false},
		{"javascript:", "javascript:alert(1)//?" + sig, false, false},
		{"a bad port", "https://results.example:99999/r.json?" + sig, false, false},
		{"port 0", "https://results.example:0/r.json?" + sig, false, false},
		{"a port that is no number", "https://results.example:x/r.json?" + sig, false, false},
		{"user:pass@", "https://user:pass@results.example/r.json?" + sig, false, false},
		{"relative", "/r.json?" + sig, false, false},
		{"no host", "https:///r.json?" + sig, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := reply(200, completedBody(tt.url, time.Now().Add(time.Hour)))
			var base string
			var opts []client.Option
			if tt.tls {
				srv := httptest.NewTLSServer(h)
				t.Cleanup(srv.Close)
				base = srv.URL
				opts = append(opts, client.WithHTTPClient(srv.Client()))
			} else {
				base = newServer(t, h).URL
			}
			c := newClient(t, base, newClock(time.Now()), opts...)
			s, err := c.Status(context.Background(), jobID)
			if tt.ok {
				if err != nil || s.ResultURL != tt.url {
					t.Fatalf("Status = %+v, %v", s, err)
				}
				return
			}
			if !isMalformed(err) || !strings.Contains(err.Error(), "result_url") || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "forged") {
				t.Errorf("Status = %v, want a malformed answer, without the URL", err)
			}
			// A Status built by hand is refused the same way, without a request.
			_, err = c.FetchResult(context.Background(), completedAt(tt.url, time.Now().Add(time.Hour)))
			if err == nil || !strings.Contains(err.Error(), "result_url") || strings.Contains(err.Error(), "secret") {
				t.Errorf("FetchResult = %v, want it refused without the URL", err)
			}
		})
	}
}

// TestRequestTimeoutBounded: every request has a bound, with a client
// given without a Timeout too, and the caller's client is not changed.
func TestRequestTimeoutBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		hc   *http.Client // nil: the default
		want time.Duration
	}{
		{"the default client", nil, 30 * time.Second},
		{"a client without a Timeout", &http.Client{}, 30 * time.Second},
		{"a client with its own Timeout", &http.Client{Timeout: 5 * time.Minute}, 5 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []client.Option
			if tc.hc != nil {
				opts = append(opts, client.WithHTTPClient(tc.hc))
			}
			c, err := client.New("https://api.example.com", opts...)
			if err != nil {
				t.Fatal(err)
			}
			status, result := c.Timeouts()
			if status != tc.want || result != tc.want {
				t.Errorf("timeouts: status %v, result %v; want %v", status, result, tc.want)
			}
			if tc.hc != nil && tc.name == "a client without a Timeout" && tc.hc.Timeout != 0 {
				t.Errorf("the caller's client was changed: Timeout %v", tc.hc.Timeout)
			}
		})
	}
}
