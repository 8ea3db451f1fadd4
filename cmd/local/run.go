package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/careervp/vprstatus/auth"
	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/ratelimit"
	"github.com/careervp/vprstatus/s3result"
	"github.com/careervp/vprstatus/status"
	"github.com/careervp/vprstatus/tracing"
)

// The development tokens' issuer and audience.
const (
	devIssuer   = "vprstatus-local"
	devAudience = "vprstatus-local"
	demoUser    = "demo-user"
	// tokenTTL is how long a development token lives.
	tokenTTL = time.Hour
)

// options are the command line settings.
type options struct {
	addr          string
	backend       string
	pendingFor    time.Duration
	processingFor time.Duration
	urlTTL        time.Duration
	jobTTL        time.Duration
	logLevel      slog.Level
	limits        ratelimit.Settings
	trace         string
	corsOrigins   string
	origins       origins // corsOrigins, parsed
	seed          bool
	allowRemote   bool
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	var err error
	// The environment gives the limits' defaults, as in Lambda; flags win.
	if o.limits, err = ratelimit.FromEnv(getenv); err != nil {
		return o, err
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&o.backend, "backend", "fakes", `job store and result signer: "fakes" (in memory) or "aws" (DynamoDB and S3, configured by the environment)`)
	fs.DurationVar(&o.pendingFor, "pending-for", 3*time.Second, "how long a job created with POST /_local/jobs stays PENDING")
	fs.DurationVar(&o.processingFor, "processing-for", 5*time.Second, "how long such a job then stays PROCESSING")
	fs.DurationVar(&o.urlTTL, "url-ttl", s3result.DefaultTTL, "lifetime of result URLs")
	fs.DurationVar(&o.jobTTL, "job-ttl", 10*time.Minute, "ttl of jobs created with POST /_local/jobs (0: none)")
	fs.TextVar(&o.logLevel, "log-level", slog.LevelInfo, "log level: DEBUG, INFO, WARN, ERROR")
	fs.Float64Var(&o.limits.Users.Rate, "rate-limit-rps", o.limits.Users.Rate, "requests a second each user may make, sustained ("+ratelimit.EnvRate+")")
	fs.IntVar(&o.limits.Users.Burst, "rate-limit-burst", o.limits.Users.Burst, "requests each user may make at once ("+ratelimit.EnvBurst+")")
	fs.StringVar(&o.trace, "trace", "", `export spans: "stdout" (JSON on stdout) or "otlp" (OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318); off when empty`)
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "serve on a non-loopback address too; anyone who can reach it can mint tokens for any user with POST /_local/token")
	fs.BoolVar(&o.seed, "seed", false, "with -backend aws: create the jobs table and the results bucket if missing, and put a demo job in every state in them (for local servers such as dynalite and s3rver)")
	fs.StringVar(&o.corsOrigins, "cors-origins", "*", `comma-separated web origins whose pages may read answers ("*": any; "": no CORS)`)
	if err := fs.Parse(args[1:]); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.backend != "fakes" && o.backend != "aws" {
		return o, fmt.Errorf(`-backend %q: want "fakes" or "aws"`, o.backend)
	}
	if o.seed && o.backend != "aws" {
		return o, errors.New("-seed goes with -backend aws (the in-memory backend always has its demo jobs)")
	}
	if o.pendingFor < 0 || o.processingFor < 0 || o.urlTTL <= 0 || o.jobTTL < 0 {
		return o, errors.New("durations must not be negative, and -url-ttl must be positive")
	}
	if o.origins, err = parseOrigins(o.corsOrigins); err != nil {
		return o, err
	}
	return o, nil
}

// run serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(requestIDs{slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: o.logLevel})})
	ln, base, err := listen(o.addr, o.allowRemote)
	if err != nil {
		return err
	}
	defer ln.Close()
	minter, authn, err := newIdentity()
	if err != nil {
		return err
	}
	users, addrs, err := o.limits.New()
	if err != nil {
		return err
	}
	tr, err := tracing.NewLocal(ctx, o.trace, stdout)
	if err != nil {
		return err
	}
	defer func() {
		// Export what is left, whatever ctx says now.
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tr.Shutdown(shutCtx); err != nil {
			logger.Warn("exporting the last spans", "err", err)
		}
	}()

	var b *backend
	if o.backend == "aws" {
		b, err = awsBackend(ctx, logger, o, getenv)
	} else {
		b, err = fakesBackend(ctx, logger, o, base)
	}
	if err != nil {
		return err
	}
	defer b.close()

	g := guard{origins: o.origins, anyHost: o.allowRemote, logger: logger}
	mux := http.NewServeMux()
	if err := (devAPI{logger: logger, minter: minter, guard: g}).addRoutes(mux); err != nil {
		return err
	}
	b.addRoutes(mux, g)
	api := status.New(status.Config{
		Logger:         logger,
		Auth:           authn,
		Jobs:           b.jobs,
		Results:        b.results,
		Limiter:        users,
		AddrLimiter:    addrs,
		TracerProvider: tr.TracerProvider,
		Propagator:     tr.Propagator,
		CORSOrigins:    o.origins.list,
	})

	token, err := minter.Token("HS256", demoUser, tokenTTL)
	if err != nil {
		return err
	}
	printWelcome(stdout, o.backend, base, token, b.demo)
	return serve(ctx, ln, withRequestID(status.LogRequests(logger, devOrAPI(mux, api))), logger)
}

// listen binds addr first, so that with -addr 127.0.0.1:0 the real port is
// known before anything is printed, and returns the base URL.
func listen(addr string, allowRemote bool) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	// POST /_local/token mints a token for any user: on a reachable address
	// it would hand out everyone's jobs.
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() && !allowRemote {
		ln.Close() // #nosec G104 -- the listener is refused and dropped: the error returned says why
		return nil, "", fmt.Errorf("-addr %s is not a loopback address: the development token endpoint would let anyone who can reach it read any user's jobs (add -allow-remote to do it anyway)", addr)
	}
	return ln, "http://" + ln.Addr().String(), nil
}

// newIdentity returns the development tokens' minter, with a secret of this
// run's, and what the API checks them with: a verifier behind the token
// cache, as in Lambda.
func newIdentity() (*fakes.Issuer, status.Authenticator, error) {
	secret := make([]byte, 32)
	rand.Read(secret)
	keys, err := auth.HMACSecret(secret)
	if err != nil {
		return nil, nil, err
	}
	verifier, err := auth.NewVerifier(keys, auth.Options{Issuer: devIssuer, Audiences: []string{devAudience}})
	if err != nil {
		return nil, nil, err
	}
	minter := &fakes.Issuer{Issuer: devIssuer, Audience: devAudience, Secret: secret}
	return minter, auth.NewCache(verifier, auth.CacheOptions{}), nil
}

// serve answers on ln with h until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// devOrAPI sends the development paths (devAPI's routes) to dev and
// everything else to the API, which answers unknown and unclean paths ("//",
// "/./") itself: a ServeMux in front of it would redirect those with an HTML
// 307.
func devOrAPI(dev, api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if _, web := webFiles[p]; web || strings.HasPrefix(p, "/_local/") || p == "/healthz" || p == "/openapi.json" {
			dev.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

func printWelcome(w io.Writer, backend, base, token string, demo map[status.State]string) {
	where := "in-memory"
	if backend == "aws" {
		where = "DynamoDB and S3"
	}
	fmt.Fprintf(w, "vprstatus (local, %s) listening on %s\n\n", where, base)
	if backend != "aws" {
		fmt.Fprintf(w, "The demo page, which creates jobs and polls them with %s/vprpoll.js:\n\n  %s/\n\n", base, base)
	}
	fmt.Fprintf(w, "A token for %q, valid 1 hour:\n\n  export TOKEN=%s\n\n", demoUser, token)
	if demo != nil {
		fmt.Fprintln(w, "Demo jobs, one per state:")
		for _, s := range []status.State{status.Pending, status.Processing, status.Completed, status.Failed} {
			fmt.Fprintf(w, "\n  # %s\n  curl -i -H \"Authorization: Bearer $TOKEN\" %s/api/vpr/status/%s\n", s, base, demo[s])
		}
		if backend != "aws" {
			fmt.Fprintf(w, `
A job that runs for real (PENDING, PROCESSING, then COMPLETED or FAILED):

  curl -s -X POST %[1]s/_local/jobs -H 'Content-Type: application/json' -d '{"user_id":"%[2]s","outcome":"COMPLETED"}'
`, base, demoUser)
		}
	} else {
		fmt.Fprintf(w, "Poll a job of the jobs table whose user_id is %q:\n\n  curl -i -H \"Authorization: Bearer $TOKEN\" %s/api/vpr/status/<job_id>\n", demoUser, base)
	}
	fmt.Fprintf(w, `
A token for another user:

  curl -s -X POST %[1]s/_local/token -H 'Content-Type: application/json' -d '{"sub":"someone-else"}'

API description (OpenAPI 3.1): %[1]s/openapi.json
Health: %[1]s/healthz
`, base)
}
