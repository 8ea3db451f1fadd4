package status

import (
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Config holds every dependency of the handler. Logger, Auth, Jobs and
// Results are required.
type Config struct {
	Logger  *slog.Logger
	Auth    Authenticator
	Jobs    JobStore
	Results URLSigner
	// Now is the clock that decides ttl expiry; time.Now when nil.
	Now func() time.Time
	// PollInterval is the Retry-After of a 202: when a client should poll
	// again. Default 2s.
	PollInterval time.Duration
	// UnavailableRetry is the Retry-After of a 503. Default 1s.
	UnavailableRetry time.Duration

	// Limiter, when set, rations each authenticated user's requests (keyed
	// by user id). Every answer then carries the RateLimit and
	// RateLimit-Policy header fields, and one over the limit is a 429 with
	// Retry-After. Nil: no per-user limit.
	Limiter Limiter
	// AddrLimiter, when set, rations per client address (RemoteAddr; IPv6 by
	// /64) every request that Auth cannot recognise without checking a
	// signature (see FastAuthenticator), and requests to unknown routes or
	// methods. Use a separate Limiter from the per-user one: a flood of
	// addresses then cannot push users' buckets out. Nil: no such limit.
	AddrLimiter Limiter
	// TracerProvider makes a server span per request, with child spans for
	// the job store and the URL signer. Nil, or the no-op provider, turns
	// tracing off at no cost.
	TracerProvider trace.TracerProvider
	// Propagator extracts the parent trace from request headers. Default W3C
	// Trace Context.
	Propagator propagation.TextMapPropagator
	// CORSOrigins are the web origins ("https://app.example.com", or "*")
	// whose pages may read answers. None: no CORS headers, and OPTIONS is a
	// 405 like any other method.
	CORSOrigins []string
}

// New returns the service's http.Handler. It panics if a required dependency
// is missing: that is a wiring bug, found at start-up.
func New(cfg Config) http.Handler {
	switch {
	case cfg.Logger == nil:
		panic("status.New: nil Logger")
	case cfg.Auth == nil:
		panic("status.New: nil Auth")
	case cfg.Jobs == nil:
		panic("status.New: nil Jobs")
	case cfg.Results == nil:
		panic("status.New: nil Results")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.UnavailableRetry <= 0 {
		cfg.UnavailableRetry = time.Second
	}
	cors := newCORS(cfg.CORSOrigins)
	ew := errorWriter{logger: cfg.Logger, retryUnavailable: cfg.UnavailableRetry, allow: allowedMethods(cors)}
	tr := newTracing(cfg.TracerProvider, cfg.Propagator)
	deps := routeDeps{
		ew: ew,
		admit: newAdmission(ew, cfg.Auth,
			newLimits(cfg.Limiter, userPolicy, cfg.Now),
			newLimits(cfg.AddrLimiter, addrPolicy, cfg.Now)),
		cors: cors,
		tr:   tr,
		status: handleStatus(ew, tr.jobStore(cfg.Jobs), tr.urlSigner(cfg.Results),
			cfg.Now, cfg.PollInterval),
	}

	mux := http.NewServeMux()
	addRoutes(mux, deps)
	var h http.Handler = cleanPaths(handleNotFound(deps), recordRoute(mux))
	h = recoverPanics(ew, h)
	h = withCORS(cors, cfg.Logger, h)
	h = commonHeaders(h)
	h = tr.serve(h)
	return h
}
