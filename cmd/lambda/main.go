// Command lambda serves the VPR status API on AWS Lambda behind API Gateway
// (HTTP API payload 2.0 and REST API 1.0) or a function URL.
//
// Build the deployable artifact for provided.al2023 on arm64:
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc,grpcnotrace -trimpath -ldflags='-s -w' -o dist/bootstrap ./cmd/lambda
//
// lambda.norpc drops aws-lambda-go's RPC mode (the go1.x runtime's).
// grpcnotrace drops gRPC's request tracing (golang.org/x/net/trace), which
// the OTLP exporter would otherwise link, and html/template with it:
// text/template's reflective method calls stop the linker from dropping
// unused methods, which costs about 9 MB of binary and some of every cold
// start. TestLeanDependencies holds the build to that, and to leaving out
// the other packages that only cost a cold start.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/akrylysov/algnhsa"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/careervp/vprstatus/awsenv"
	"github.com/careervp/vprstatus/ratelimit"
	"github.com/careervp/vprstatus/status"
	"github.com/careervp/vprstatus/tracing"
)

func main() {
	start := func(h lambda.Handler) { lambda.Start(h) }
	if err := run(context.Background(), os.Getenv, os.Stdout, start); err != nil {
		os.Exit(1) // run has logged why, in one line
	}
}

// errNotInLambda stops a bootstrap started by hand: it is the function, and
// serves only the Runtime API Lambda gives it.
var errNotInLambda = errors.New("not running in AWS Lambda: AWS_LAMBDA_RUNTIME_API is unset")

// run builds everything expensive once, here and not per invocation, and
// hands the Lambda handler to start, which in production never returns.
//
// It reads and checks every setting before it does anything that takes time
// or the network, so that a refusal to start names all that is wrong in one
// line, not one per restart.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer, start func(lambda.Handler)) error {
	logger, levelErr := newLogger(stdout, getenv("LOG_LEVEL"))
	if getenv("AWS_LAMBDA_RUNTIME_API") == "" {
		logger.Error("refusing to start: "+errNotInLambda.Error()+". This is the Lambda function; "+
			"to run the service locally, use go run ./cmd/local (in memory, no AWS account) "+
			"or go run ./cmd/local -backend aws (DynamoDB and S3); to run this binary as Lambda does, "+
			"start it under the Lambda Runtime Interface Emulator (see docs/testing.md)",
			"err", errNotInLambda)
		return errNotInLambda
	}
	gc := awsenv.TuneGC(getenv)
	id, idErr := readIdentity(getenv)
	backends, awsErr := awsenv.Load(getenv)
	limits, limitsErr := ratelimit.FromEnv(getenv)
	origins, corsErr := status.ParseOrigins(getenv("CORS_ORIGINS"))
	if corsErr != nil {
		corsErr = fmt.Errorf("CORS_ORIGINS: %w", corsErr)
	}
	if err := errors.Join(levelErr, idErr, awsErr, limitsErr, corsErr); err != nil {
		return refuse(logger, err)
	}

	began := time.Now()
	authn, err := id.authenticator(ctx, logger)
	if err != nil {
		return refuse(logger, err)
	}
	identitySetup := time.Since(began)
	users, addrs, err := limits.New()
	if err != nil {
		return refuse(logger, err)
	}
	tr, err := tracing.NewLambda(ctx, getenv)
	if err != nil {
		return refuse(logger, err)
	}
	presigner, why := backends.Results.Presigner()
	if why != "" {
		// Correct, but per URL through the SDK's whole middleware stack.
		logger.Warn("presigning result URLs through s3.PresignClient", "reason", why)
	}
	attrs := []any{
		"identity", id.mode,
		"jobs_table", backends.Settings.JobsTable,
		"results_bucket", backends.Settings.ResultsBucket,
		"url_ttl", backends.Settings.URLTTL.String(),
		"presigner", presigner,
		"rate_limit", fmt.Sprintf("%g/s burst %d", limits.Users.Rate, limits.Users.Burst),
		"addr_rate_limit", fmt.Sprintf("%g/s burst %d", limits.AddrOptions().Rate, limits.AddrOptions().Burst),
		"cors_origins", origins,
		"tracing", tr.Exports(),
		"gc_percent", gc.Percent,
		"memory_limit", gc.MemoryLimit,
	}
	if id.mode == "jwt" {
		// Nearly all of the identity's set-up in this mode is the JWKS
		// fetch (the verifier takes microseconds); it is part of every cold
		// start, and the one part another service decides.
		attrs = append(attrs, "jwks_fetch", identitySetup.Round(time.Microsecond).String())
	}
	logger.Info("starting", attrs...)
	start(newHandler(logger, tr, status.Config{
		Logger:         logger,
		Auth:           authn,
		Jobs:           backends.Jobs,
		Results:        backends.Results,
		Limiter:        users,
		AddrLimiter:    addrs,
		TracerProvider: tr.TracerProvider,
		Propagator:     tr.Propagator,
		CORSOrigins:    origins,
	}))
	return nil
}

// refuse logs why the function will not start, every reason in one line,
// and returns err.
func refuse(logger *slog.Logger, err error) error {
	why := strings.ReplaceAll(err.Error(), "\n", "; ")
	logger.Error("refusing to start: "+why, "err", why)
	return err
}

// newHandler adapts the service's http.Handler to Lambda events.
func newHandler(logger *slog.Logger, tr *tracing.Setup, cfg status.Config) lambda.Handler {
	h := status.LogRequests(logger, stripStage(lambdaTraceParent(status.New(cfg))))
	var lh lambda.Handler = newBadEventAnswers(algnhsa.New(h, &algnhsa.Options{}), logger)
	if tr != nil && tr.Exports() {
		lh = flushSpans{next: lh, tracing: tr, logger: logger}
	}
	return lh
}

// flushSpans exports each invocation's spans before it returns: Lambda
// freezes the process in between, and a batching exporter with it.
type flushSpans struct {
	next    lambda.Handler
	tracing *tracing.Setup
	logger  *slog.Logger
}

func (f flushSpans) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := f.next.Invoke(ctx, payload)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if ferr := f.tracing.Flush(fctx); ferr != nil {
		f.logger.WarnContext(ctx, "flushing spans", "err", ferr)
	}
	return out, err
}

// lambdaTraceParent makes the invocation's own X-Ray trace header (Lambda's
// segment) the parent of the request's spans when the event carried none.
func lambdaTraceParent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amzn-Trace-Id") == "" {
			if hdr, _ := r.Context().Value("x-amzn-trace-id").(string); hdr != "" {
				r.Header.Set("X-Amzn-Trace-Id", hdr)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// newLogger logs JSON lines to w at level (INFO when empty), each with the
// invocation's request and trace ids. A level it cannot read is an error,
// with a logger at INFO to say so.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	var err error
	if level != "" {
		if uerr := l.UnmarshalText([]byte(strings.ToUpper(level))); uerr != nil {
			l, err = slog.LevelInfo, fmt.Errorf("LOG_LEVEL=%q is not DEBUG, INFO, WARN or ERROR", level)
		}
	}
	return slog.New(invocationAttrs{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})}), err
}
