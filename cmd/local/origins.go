package main

import (
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/careervp/vprstatus/status"
)

// origins is -cors-origins as the development server applies it beyond the
// status API (which gets the list itself):
//
//   - the endpoints that mint tokens or change jobs (/_local/token,
//     /_local/jobs...) answer pages of their own origin and of the origins
//     listed by name, never because of "*": any page the developer has open
//     could otherwise mint tokens and create jobs;
//   - what is readable by nature (result URLs, bearer capabilities like
//     presigned S3 URLs, and the module /vprpoll.js) follows the list, "*"
//     included, as the status API does.
type origins struct {
	list   []string // as given, for the status API
	any    bool
	listed map[string]bool // lowercased, without a trailing slash
}

// parseOrigins reads a -cors-origins value (see status.ParseOrigins).
func parseOrigins(list string) (origins, error) {
	parsed, err := status.ParseOrigins(list)
	if err != nil {
		return origins{}, fmt.Errorf("-cors-origins: %w", err)
	}
	o := origins{list: parsed, listed: make(map[string]bool)}
	for _, s := range parsed {
		if s == "*" {
			o.any = true
		} else {
			o.listed[strings.ToLower(s)] = true
		}
	}
	return o, nil
}

// trusted reports whether a page of origin may use the development endpoints
// that r reaches: r's own origin (the demo page), or one listed by name.
func (o origins) trusted(r *http.Request, origin string) bool {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return o.listed[strings.ToLower(origin)] || strings.EqualFold(origin, scheme+"://"+r.Host)
}

// readable returns the Access-Control-Allow-Origin value for a page of
// origin reading something public to the allowed origins, if it may.
func (o origins) readable(origin string) (string, bool) {
	switch {
	case origin == "":
		return "", false
	case o.any:
		return "*", true
	case o.listed[strings.ToLower(origin)]:
		return origin, true
	}
	return "", false
}

// guard applies the development server's rules on who may use what: the
// origins, and (unless -allow-remote) loopback Hosts only.
type guard struct {
	origins origins
	anyHost bool // -allow-remote: serve /_local/ whatever the Host says
	logger  *slog.Logger
}

// loopbackHost refuses requests whose Host is not a loopback name: a page on
// another site could otherwise reach the token endpoint through DNS
// rebinding, with the browser's Host still naming that site.
func (g guard) loopbackHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		ip, _ := netip.ParseAddr(strings.Trim(host, "[]"))
		if !g.anyHost && !strings.EqualFold(host, "localhost") && !ip.IsLoopback() {
			writeProblem(w, r, http.StatusForbidden, "Forbidden", "Development endpoints answer loopback hosts only")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Development endpoints' grants: a page sends a JSON body, and reads where a
// created job is (Location) and when to come back (a 503's Retry-After).
const (
	devAllowedHeaders = "Content-Type"
	devExposedHeaders = "Location, Retry-After"
	preflightMaxAge   = "600"
)

// devEndpoint guards an endpoint that mints tokens or changes jobs, which
// answers method only:
//
//   - a Host that is not a loopback name is refused (DNS rebinding);
//   - an Origin that is neither the server's own nor listed by name is
//     refused with 403, preflights included;
//   - a POST must carry Content-Type: application/json (else 415): no
//     HTML form or "simple" cross-site fetch can send that, so every
//     cross-origin POST has to pass a preflight, and the check above;
//   - OPTIONS answers preflights; other methods get a 405 with Allow.
//
// Every refusal is problem+json, as the API's are.
func (g guard) devEndpoint(method string, next http.Handler) http.Handler {
	allow := method + ", OPTIONS"
	return g.loopbackHost(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin != "" {
			if !g.origins.trusted(r, origin) {
				g.logger.DebugContext(r.Context(), "cors origin refused", "origin", origin, "path", r.URL.Path)
				writeProblem(w, r, http.StatusForbidden, "Forbidden",
					"Development endpoints answer pages of their own origin, and of origins listed by name in -cors-origins")
				return
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", devExposedHeaders)
		}
		switch {
		case r.Method == http.MethodOptions:
			h.Set("Allow", allow)
			if origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Add("Vary", "Access-Control-Request-Method")
				h.Add("Vary", "Access-Control-Request-Headers")
				h.Set("Access-Control-Allow-Methods", method)
				h.Set("Access-Control-Allow-Headers", devAllowedHeaders)
				h.Set("Access-Control-Max-Age", preflightMaxAge)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		case r.Method != method:
			h.Set("Allow", allow)
			writeProblem(w, r, http.StatusMethodNotAllowed, "Method not allowed", "")
			return
		case method == http.MethodPost && !isJSON(r.Header.Get("Content-Type")):
			h.Set("Accept-Post", "application/json")
			writeProblem(w, r, http.StatusUnsupportedMediaType, "Unsupported media type",
				"Send the body as JSON, with Content-Type: application/json")
			return
		}
		next.ServeHTTP(w, r)
	}))
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// readableBy lets pages of the allowed origins ("*" included) read what next
// serves with methods (GET and HEAD, say): things that are public to them
// anyway. OPTIONS answers preflights; other methods get a 405.
func (g guard) readableBy(next http.Handler) http.Handler {
	const allow = "GET, HEAD, OPTIONS"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		grant, ok := g.origins.readable(origin)
		switch {
		case ok:
			h.Set("Access-Control-Allow-Origin", grant)
		case origin != "":
			g.logger.DebugContext(r.Context(), "cors origin refused", "origin", origin, "path", r.URL.Path)
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			next.ServeHTTP(w, r)
		case http.MethodOptions:
			h.Set("Allow", allow)
			if ok && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Add("Vary", "Access-Control-Request-Method")
				h.Set("Access-Control-Allow-Methods", "GET, HEAD")
				h.Set("Access-Control-Max-Age", preflightMaxAge)
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			h.Set("Allow", allow)
			writeProblem(w, r, http.StatusMethodNotAllowed, "Method not allowed", "")
		}
	})
}
