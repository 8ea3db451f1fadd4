package main

import (
	"context"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careervp/vprstatus/internal/testkit"
)

const (
	appOrigin  = "http://app.test:5173"
	evilOrigin = "https://evil.example"
)

// send makes one request with headers given as name, value pairs.
func send(t *testing.T, method, u, body string, kv ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// checkProblem checks an error answer is problem+json like the API's.
func checkProblem(t *testing.T, resp *http.Response, b []byte, code int) {
	t.Helper()
	if resp.StatusCode != code {
		t.Fatalf("%d %s, want %d", resp.StatusCode, b, code)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	p := decodeJSON(t, b)
	if p["type"] != "about:blank" || p["title"] != http.StatusText(code) || p["status"] != float64(code) || p["error"] == "" {
		t.Errorf("problem %s", b)
	}
}

// TestDevEndpointsCORSAndCSRF: the endpoints that mint tokens and change jobs
// answer their own origin and the origins listed by name, never because of
// "*"; they take JSON only, which forces a preflight on any cross-origin POST.
func TestDevEndpointsCORSAndCSRF(t *testing.T) {
	base, out := startLocal(t, "-cors-origins", appOrigin+", *", "-pending-for", "0s", "-processing-for", "0s")
	json := "application/json"
	token := `{"sub":"u"}`
	job := `{"user_id":"u"}`

	for _, c := range []struct {
		name, method, path, body string
		header                   []string
		code                     int
		allowOrigin              string // Access-Control-Allow-Origin
	}{
		{"no Origin (curl)", "POST", "/_local/token", token, []string{"Content-Type", json}, 200, ""},
		{"a listed origin", "POST", "/_local/token", token, []string{"Content-Type", json, "Origin", appOrigin}, 200, appOrigin},
		{"a listed origin, spelled otherwise", "POST", "/_local/jobs", job, []string{"Content-Type", json, "Origin", "HTTP://APP.test:5173"}, 201, "HTTP://APP.test:5173"},
		{"its own origin (the demo page)", "POST", "/_local/jobs", job, []string{"Content-Type", json, "Origin", base}, 201, base},
		{"JSON with a charset", "POST", "/_local/token", token, []string{"Content-Type", "application/json; charset=utf-8"}, 200, ""},
		{"an origin only * allows", "POST", "/_local/token", token, []string{"Content-Type", json, "Origin", evilOrigin}, 403, ""},
		{"a sandboxed page", "POST", "/_local/jobs", job, []string{"Content-Type", json, "Origin", "null"}, 403, ""},
		{"another port of its own host", "POST", "/_local/jobs", job, []string{"Content-Type", json, "Origin", "http://127.0.0.1:1"}, 403, ""},
		{"a cross-site simple POST", "POST", "/_local/jobs", job, []string{"Content-Type", "text/plain", "Origin", evilOrigin}, 403, ""},
		{"text/plain without Origin", "POST", "/_local/jobs", job, []string{"Content-Type", "text/plain"}, 415, ""},
		{"a form", "POST", "/_local/token", "sub=u", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, ""},
		{"no Content-Type", "POST", "/_local/token", token, nil, 415, ""},
		{"text/plain from a listed origin", "POST", "/_local/token", token, []string{"Content-Type", "text/plain", "Origin", appOrigin}, 415, appOrigin},
		{"GET", "GET", "/_local/token", "", []string{"Origin", appOrigin}, 405, appOrigin},
		{"PUT", "PUT", "/_local/jobs", job, []string{"Content-Type", json}, 405, ""},
		{"GET of a job's result", "GET", "/_local/jobs/x/result", "", nil, 405, ""},
		{"an unknown development path", "GET", "/_local/nothing", "", nil, 404, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, b := send(t, c.method, base+c.path, c.body, c.header...)
			if c.code >= 400 {
				checkProblem(t, resp, b, c.code)
			} else if resp.StatusCode != c.code {
				t.Fatalf("%d %s, want %d", resp.StatusCode, b, c.code)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != c.allowOrigin {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, c.allowOrigin)
			}
			if strings.HasPrefix(c.path, "/_local/token") || c.path == "/_local/jobs" {
				if !slices.Contains(resp.Header.Values("Vary"), "Origin") {
					t.Errorf("Vary %q, want Origin", resp.Header.Values("Vary"))
				}
			}
			switch c.code {
			case 405:
				want := "POST, OPTIONS"
				if strings.HasSuffix(c.path, "/result") {
					want = "DELETE, OPTIONS"
				}
				if got := resp.Header.Get("Allow"); got != want {
					t.Errorf("Allow %q, want %q", got, want)
				}
			case 415:
				if got := resp.Header.Get("Accept-Post"); got != json {
					t.Errorf("Accept-Post %q", got)
				}
			}
		})
	}

	t.Run("preflights", func(t *testing.T) {
		for _, c := range []struct {
			path, method, origin string
			code                 int
			granted              bool
		}{
			{"/_local/token", "POST", appOrigin, 204, true},
			{"/_local/jobs", "POST", base, 204, true},
			{"/_local/jobs/x/result", "DELETE", appOrigin, 204, true},
			{"/_local/token", "POST", evilOrigin, 403, false},
			{"/_local/jobs", "POST", "null", 403, false},
		} {
			resp, b := send(t, "OPTIONS", base+c.path, "",
				"Origin", c.origin, "Access-Control-Request-Method", c.method, "Access-Control-Request-Headers", "content-type")
			if resp.StatusCode != c.code {
				t.Fatalf("%s from %s: %d %s, want %d", c.path, c.origin, resp.StatusCode, b, c.code)
			}
			want := map[string]string{
				"Access-Control-Allow-Origin": c.origin, "Access-Control-Allow-Methods": c.method,
				"Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600", "Allow": c.method + ", OPTIONS",
			}
			if !c.granted {
				want = map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": "", "Access-Control-Allow-Headers": ""}
			}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s from %s: %s %q, want %q", c.path, c.origin, k, got, v)
				}
			}
		}
	})

	t.Run("a page reads where its job is", func(t *testing.T) {
		resp, b := send(t, "POST", base+"/_local/jobs", job, "Content-Type", json, "Origin", appOrigin)
		if resp.StatusCode != 201 || resp.Header.Get("Access-Control-Expose-Headers") != "Location, Retry-After" {
			t.Fatalf("%d %s %v", resp.StatusCode, b, resp.Header)
		}
	})

	t.Run("deleting a result makes its job 410", func(t *testing.T) {
		tok := tokenFromWelcome(t, out.String())
		_, b := send(t, "POST", base+"/_local/jobs", `{"user_id":"demo-user"}`, "Content-Type", json)
		id, _ := decodeJSON(t, b)["job_id"].(string)
		var u string
		for deadline := time.Now().Add(5 * time.Second); u == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			_, b := call(t, "GET", base+"/api/vpr/status/"+id, tok, "")
			u, _ = decodeJSON(t, b)["result_url"].(string)
		}
		if u == "" {
			t.Fatal("the job never completed")
		}
		if resp, b := send(t, "DELETE", base+"/_local/jobs/"+id+"/result", "", "Origin", appOrigin); resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != appOrigin {
			t.Fatalf("DELETE: %d %s", resp.StatusCode, b)
		}
		resp, b := call(t, "GET", base+"/api/vpr/status/"+id, tok, "")
		checkProblem(t, resp, b, 410)
		if resp, _ := call(t, "GET", u, "", ""); resp.StatusCode != 404 {
			t.Errorf("the deleted result's URL: %d, want 404", resp.StatusCode)
		}
		// Not twice, and not for a job without a result.
		resp, b = send(t, "DELETE", base+"/_local/jobs/"+id+"/result", "")
		if resp.StatusCode != 204 {
			t.Errorf("DELETE again: %d %s (deleting is idempotent, as S3's DeleteObject)", resp.StatusCode, b)
		}
		pending := regexp.MustCompile(`# PENDING\n.*/api/vpr/status/(\S+)`).FindStringSubmatch(out.String())[1]
		resp, b = send(t, "DELETE", base+"/_local/jobs/"+pending+"/result", "")
		checkProblem(t, resp, b, 409)
		resp, b = send(t, "DELETE", base+"/_local/jobs/00000000-0000-4000-8000-000000000000/result", "")
		checkProblem(t, resp, b, 404)
	})
}

// TestStarDoesNotOpenTheDevEndpoints: with the default -cors-origins "*",
// only the server's own pages may mint tokens.
func TestStarDoesNotOpenTheDevEndpoints(t *testing.T) {
	base, _ := startLocal(t)
	resp, b := send(t, "POST", base+"/_local/token", `{"sub":"u"}`, "Content-Type", "application/json", "Origin", appOrigin)
	checkProblem(t, resp, b, 403)
	if resp, b := send(t, "POST", base+"/_local/token", `{"sub":"u"}`, "Content-Type", "application/json", "Origin", base); resp.StatusCode != 200 {
		t.Fatalf("own origin: %d %s", resp.StatusCode, b)
	}
	// Pages of any origin may still read the API, and import the module.
	if resp, _ := send(t, "GET", base+"/vprpoll.js", "", "Origin", appOrigin); resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("/vprpoll.js with *: Access-Control-Allow-Origin %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

// TestReadableByAllowedOrigins: result URLs and the module follow
// -cors-origins, like the API.
func TestReadableByAllowedOrigins(t *testing.T) {
	base, out := startLocal(t, "-cors-origins", appOrigin)
	tok := tokenFromWelcome(t, out.String())
	id := regexp.MustCompile(`# COMPLETED\n.*/api/vpr/status/(\S+)`).FindStringSubmatch(out.String())[1]
	_, b := call(t, "GET", base+"/api/vpr/status/"+id, tok, "")
	result, _ := decodeJSON(t, b)["result_url"].(string)

	for name, u := range map[string]string{"a result URL": result, "/vprpoll.js": base + "/vprpoll.js"} {
		for origin, want := range map[string]string{appOrigin: appOrigin, evilOrigin: "", "": ""} {
			resp, b := send(t, "GET", u, "", "Origin", origin)
			if resp.StatusCode != 200 {
				t.Fatalf("%s from %q: %d %s", name, origin, resp.StatusCode, b)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
				t.Errorf("%s from %q: Access-Control-Allow-Origin %q, want %q", name, origin, got, want)
			}
			if !slices.Contains(resp.Header.Values("Vary"), "Origin") {
				t.Errorf("%s: Vary %q", name, resp.Header.Values("Vary"))
			}
		}
		resp, _ := send(t, "OPTIONS", u, "", "Origin", appOrigin, "Access-Control-Request-Method", "GET")
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Methods") != "GET, HEAD" {
			t.Errorf("%s preflight: %d %v", name, resp.StatusCode, resp.Header)
		}
		resp, b := send(t, "DELETE", u, "")
		checkProblem(t, resp, b, 405)
		if resp.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Errorf("%s 405: Allow %q", name, resp.Header.Get("Allow"))
		}
	}
}

// TestWebFiles: the demo page at / and the module at /vprpoll.js, embedded,
// each with its type.
func TestWebFiles(t *testing.T) {
	base, _ := startLocal(t)
	for path, want := range map[string]string{
		"/":           "text/html",
		"/demo.js":    "text/javascript",
		"/demo.css":   "text/css",
		"/vprpoll.js": "text/javascript",
	} {
		resp, b := send(t, "GET", base+path, "")
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if resp.StatusCode != 200 || mt != want || len(b) == 0 {
			t.Errorf("%s: %d %q, %d bytes; want 200 %s", path, resp.StatusCode, mt, len(b), want)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
		// The browser revalidates, and gets a 304.
		etag := resp.Header.Get("ETag")
		if resp, _ := send(t, "GET", base+path, "", "If-None-Match", etag); etag == "" || resp.StatusCode != 304 {
			t.Errorf("%s: ETag %q, revalidated with %d", path, etag, resp.StatusCode)
		}
		if path != "/vprpoll.js" {
			resp, b := send(t, "POST", base+path, "")
			checkProblem(t, resp, b, 405)
		}
	}
	resp, b := send(t, "GET", base+"/", "")
	if !strings.Contains(string(b), `src="/demo.js"`) {
		t.Errorf("/ is not the demo page: %d %.200s", resp.StatusCode, b)
	}
	// Other paths are still the API's JSON 404.
	resp, b = send(t, "GET", base+"/index.html", "")
	checkProblem(t, resp, b, 404)
}

// TestWelcomePostCommandsWork sends the printed curl POSTs, headers and all.
func TestWelcomePostCommandsWork(t *testing.T) {
	base, out := startLocal(t)
	re := regexp.MustCompile(`curl -s -X POST (\S+) -H '([^:]+): ([^']+)' -d '([^']+)'`)
	found := 0
	for _, m := range re.FindAllStringSubmatch(out.String(), -1) {
		found++
		resp, b := send(t, "POST", m[1], m[4], m[2], m[3])
		if resp.StatusCode/100 != 2 {
			t.Errorf("%s: %d %s", m[0], resp.StatusCode, b)
		}
	}
	if found != 2 {
		t.Fatalf("found %d POST commands, want 2:\n%s", found, out)
	}
	if !strings.Contains(out.String(), "\n  "+base+"/\n") {
		t.Errorf("the welcome text does not name the demo page")
	}
}

func TestCORSOriginsFlag(t *testing.T) {
	for _, v := range []string{"app.test", "http://", "ftp://app.test", "http://app.test/path", "http://app.test?x", "http://user@app.test"} {
		var out testkit.Buffer
		err := run(context.Background(), []string{"local", "-addr", "127.0.0.1:0", "-cors-origins", v}, func(string) string { return "" }, &out, &out)
		if err == nil || !strings.Contains(err.Error(), "-cors-origins") {
			t.Errorf("-cors-origins %q: %v, want an error naming the flag", v, err)
		}
	}
	o, err := parseOrigins(" http://a.test:1/ , ,*,HTTPS://B.test")
	if err != nil || !o.any || !o.listed["http://a.test:1"] || !o.listed["https://b.test"] || len(o.listed) != 2 {
		t.Errorf("parseOrigins = %+v, %v", o, err)
	}
}
