package client_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/careervp/vprstatus/client"
)

const report = `{"headline":"Platform engineer"}`

// completedAt is a COMPLETED status whose result is at u, expiring then.
func completedAt(u string, expires time.Time) *client.Status {
	return &client.Status{JobID: jobID, State: "COMPLETED", ResultURL: u, ResultURLExpiresAt: expires}
}

func TestFetchResult(t *testing.T) {
	now := time.Now()
	later := now.Add(time.Hour)
	deny := reply(403, "<Error><Code>AccessDenied</Code><SignatureProvided>secret</SignatureProvided></Error>")

	t.Run("fetched without the bearer token", func(t *testing.T) {
		store := newServer(t, reply(200, report))
		api := newServer(t)
		b, err := newClient(t, api.URL, newClock(now)).FetchResult(context.Background(), completedAt(store.URL+"/r.json?X-Amz-Signature=s1", later))
		if err != nil || string(b) != report {
			t.Fatalf("FetchResult = %q, %v", b, err)
		}
		r := store.requests()[0]
		if _, sent := r.Header["Authorization"]; sent {
			t.Error("the result request carried Authorization")
		}
		if r.URL.Query().Get("X-Amz-Signature") != "s1" || r.Header.Get("User-Agent") != "vprstatus-client/1" {
			t.Errorf("result request %s, User-Agent %q", r.URL, r.Header.Get("User-Agent"))
		}
		checkRequests(t, api, 0)
	})

	t.Run("expired: one status request first", func(t *testing.T) {
		store := newServer(t, reply(200, report))
		api := newServer(t, reply(200, completedBody(store.URL+"/r.json?sig=fresh", later)))
		old := completedAt(store.URL+"/r.json?sig=old", now.Add(-time.Second))
		b, err := newClient(t, api.URL, newClock(now)).FetchResult(context.Background(), old)
		if err != nil || string(b) != report {
			t.Fatalf("FetchResult = %q, %v", b, err)
		}
		if got := store.requests()[0].URL.Query().Get("sig"); got != "fresh" {
			t.Errorf("fetched the URL signed %q, want the fresh one", got)
		}
		if old.ResultURL != store.URL+"/r.json?sig=old" {
			t.Error("FetchResult modified the status it was given")
		}
		checkRequests(t, api, 1)
	})

	t.Run("403: a fresh URL, once", func(t *testing.T) {
		store := newServer(t, deny, reply(200, report))
		api := newServer(t, reply(200, completedBody(store.URL+"/r.json?sig=fresh", later)))
		b, err := newClient(t, api.URL, newClock(now)).FetchResult(context.Background(), completedAt(store.URL+"/r.json?sig=old", later))
		if err != nil || string(b) != report {
			t.Fatalf("FetchResult = %q, %v", b, err)
		}
		reqs := store.requests()
		if reqs[0].URL.Query().Get("sig") != "old" || reqs[1].URL.Query().Get("sig") != "fresh" {
			t.Errorf("fetched %s then %s", reqs[0].URL, reqs[1].URL)
		}
		checkRequests(t, api, 1)
	})

	t.Run("403 twice", func(t *testing.T) {
		store := newServer(t, deny, deny)
		api := newServer(t, reply(200, completedBody(store.URL+"/r.json?sig=fresh", later)))
		_, err := newClient(t, api.URL, newClock(now)).FetchResult(context.Background(), completedAt(store.URL+"/r.json?sig=old", later))
		var e *client.APIError
		if !errors.Is(err, client.ErrForbidden) || !errors.As(err, &e) || e.StatusCode != 403 {
			t.Fatalf("FetchResult = %v, want the storage's 403", err)
		}
		if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "sig=") {
			t.Errorf("the error holds the signature: %v", err)
		}
		checkRequests(t, api, 1)
		checkRequests(t, store, 2)
	})

	t.Run("410 to the refresh", func(t *testing.T) {
		store := newServer(t, deny)
		api := newServer(t, problem(410, "Result expired or deleted", "Please regenerate the VPR"))
		_, err := newClient(t, api.URL, newClock(now)).FetchResult(context.Background(), completedAt(store.URL+"/r.json?sig=old", later))
		if !errors.Is(err, client.ErrResultGone) {
			t.Fatalf("FetchResult = %v, want ErrResultGone", err)
		}
	})

	t.Run("not JSON", func(t *testing.T) {
		store := newServer(t, reply(200, "<html>"))
		_, err := newClient(t, newServer(t).URL, newClock(now)).FetchResult(context.Background(), completedAt(store.URL+"/r.json", later))
		if err == nil || !strings.Contains(err.Error(), "not JSON") {
			t.Fatalf("FetchResult = %v, want a not-JSON error", err)
		}
	})

	t.Run("a network error names no signature", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		u := "http://" + ln.Addr().String() + "/r.json?X-Amz-Signature=secret"
		ln.Close()
		_, err = newClient(t, newServer(t).URL, newClock(now)).FetchResult(context.Background(), completedAt(u, later))
		var opErr *net.OpError
		if !errors.As(err, &opErr) || strings.Contains(err.Error(), "secret") {
			t.Fatalf("FetchResult = %v, want the transport's error without the signature", err)
		}
	})

	t.Run("not a completed status", func(t *testing.T) {
		c := newClient(t, newServer(t).URL, newClock(now))
		for _, s := range []*client.Status{nil, {JobID: jobID, State: "FAILED", Error: "x"}, {JobID: jobID, State: "COMPLETED"}} {
			if _, err := c.FetchResult(context.Background(), s); err == nil {
				t.Errorf("FetchResult(%+v) succeeded", s)
			}
		}
	})
}
