package status

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Headers a browser may read from an answer: what a polling client needs to
// poll conditionally, to pace itself, and to tell an expired token from a
// missing one.
const corsExposed = "ETag, Retry-After, RateLimit, RateLimit-Policy, WWW-Authenticate"

// Request headers a page may send: the token, the ETag it holds, and what
// fetch wrappers and browser tracing add (a JSON Content-Type, W3C trace
// context), each of which would otherwise fail the preflight.
const corsAllowedHeaders = "Authorization, If-None-Match, Content-Type, traceparent, tracestate"

// corsPolicy says which web origins may read this API's answers.
type corsPolicy struct {
	any     bool
	origins map[string][]string // origin → its Access-Control-Allow-Origin value
	star    []string
	vary    []string
	exposed []string
	// varyPreflight is the Vary of a preflight's answer: Origin, then
	// what the grant depends on besides.
	varyPreflight []string
}

// preflightVaries is what a preflight's grant depends on besides Origin.
var preflightVaries = []string{"Access-Control-Request-Method", "Access-Control-Request-Headers"}

// ParseOrigins reads a comma-separated list of web origins, as CORS_ORIGINS
// and cmd/local's -cors-origins give it: each scheme://host[:port] (http or
// https, no path, query or user), or "*" for any. Blanks and a trailing
// slash are dropped. The error names every entry that is not an origin.
func ParseOrigins(list string) ([]string, error) {
	var (
		origins []string
		errs    []error
	)
	for raw := range strings.SplitSeq(list, ",") {
		raw = strings.TrimSpace(raw)
		o := strings.TrimSuffix(raw, "/")
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" ||
				u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(o, "?#") {
				errs = append(errs, fmt.Errorf("%q is not a web origin (scheme://host[:port]) or *", raw))
				continue
			}
		}
		origins = append(origins, o)
	}
	return origins, errors.Join(errs...)
}

// newCORS returns the policy for origins ("https://app.example.com", or "*"
// for any), or nil when there are none.
func newCORS(origins []string) *corsPolicy {
	if len(origins) == 0 {
		return nil
	}
	c := &corsPolicy{
		origins:       make(map[string][]string, len(origins)),
		star:          shared("*"),
		vary:          shared("Origin"),
		exposed:       shared(corsExposed),
		varyPreflight: shared(strings.Join(append([]string{"Origin"}, preflightVaries...), ", ")),
	}
	for _, o := range origins {
		o = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o), "/"))
		switch o {
		case "":
		case "*":
			c.any = true
		default:
			c.origins[o] = shared(o)
		}
	}
	if !c.any && len(c.origins) == 0 {
		return nil
	}
	return c
}

// allowOrigin returns the Access-Control-Allow-Origin value for origin, if it
// is allowed.
func (c *corsPolicy) allowOrigin(origin string) ([]string, bool) {
	if origin == "" {
		return nil, false
	}
	if c.any {
		return c.star, true
	}
	if v, ok := c.origins[origin]; ok {
		return v, true
	}
	v, ok := c.origins[strings.ToLower(origin)]
	if ok {
		v = shared(origin) // answer in the request's spelling
	}
	return v, ok
}

// withCORS lets pages of the allowed origins read every answer, errors
// included (a 429's Retry-After matters most), with the headers in
// corsExposed. Credentials are bearer tokens, not cookies, so
// Access-Control-Allow-Credentials is not needed.
// A refused origin is logged at DEBUG: a frontend whose page cannot read the
// answers shows only an opaque CORS failure.
func withCORS(c *corsPolicy, logger *slog.Logger, next http.Handler) http.Handler {
	if c == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if len(h["Vary"]) == 0 {
			h["Vary"] = c.vary
		} else {
			h.Add("Vary", "Origin")
		}
		origin := r.Header.Get("Origin")
		if v, ok := c.allowOrigin(origin); ok {
			h["Access-Control-Allow-Origin"] = v
			h["Access-Control-Expose-Headers"] = c.exposed
		} else if origin != "" {
			logger.DebugContext(r.Context(), "cors origin refused", "origin", origin)
		}
		next.ServeHTTP(w, r)
	})
}

// handlePreflight answers OPTIONS on the status route: 204, with the CORS
// preflight grants when it is a preflight from an allowed origin. Preflights
// are not rate-limited: they carry no credentials, cost nothing to answer,
// and a refused one would reach the page as an opaque CORS failure rather
// than a readable 429.
func handlePreflight(c *corsPolicy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Allow", allowedMethods(c))
		if r.Header.Get("Access-Control-Request-Method") != "" {
			// One field line, not three: validators that read a field's first
			// line and caches that join its lines then see the same list.
			if v := h["Vary"]; len(v) == 1 && v[0] == "Origin" {
				h["Vary"] = c.varyPreflight
			} else {
				h["Vary"] = []string{strings.Join(append(slices.Clip(v), preflightVaries...), ", ")}
			}
			if _, ok := c.allowOrigin(r.Header.Get("Origin")); ok {
				h.Set("Access-Control-Allow-Methods", "GET, HEAD")
				h.Set("Access-Control-Allow-Headers", corsAllowedHeaders)
				// Browsers cap this (Chromium at 2 hours).
				h.Set("Access-Control-Max-Age", "7200")
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// allowedMethods is the Allow header of the status route.
func allowedMethods(c *corsPolicy) string {
	if c != nil {
		return "GET, HEAD, OPTIONS"
	}
	return "GET, HEAD"
}
