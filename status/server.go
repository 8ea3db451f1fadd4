package status

import (
	"log/slog"
	"net/http"
	"time"
)

// Authenticator identifies the caller of a request.
type Authenticator interface {
	// Authenticate returns the caller's user id, or an error wrapping
	// auth.ErrNoCredentials or auth.ErrInvalidToken.
	Authenticate(r *http.Request) (userID string, err error)
}

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
	ew := errorWriter{logger: cfg.Logger, retryUnavailable: cfg.UnavailableRetry}

	mux := http.NewServeMux()
	addRoutes(mux, cfg, ew)
	var h http.Handler = mux
	h = recoverPanics(ew, h)
	h = commonHeaders(h)
	return h
}
