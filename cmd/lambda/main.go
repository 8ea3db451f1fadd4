// Command lambda serves the VPR status API on AWS Lambda behind API Gateway
// (HTTP API payload 2.0 and REST API 1.0) or a function URL.
//
// Build the deployable artifact for provided.al2023 on arm64:
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags='-s -w' -o dist/bootstrap ./cmd/lambda
package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/akrylysov/algnhsa"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/careervp/vprstatus/awsenv"
	"github.com/careervp/vprstatus/status"
)

func main() {
	if err := run(context.Background(), os.Getenv, os.Stdout, lambda.StartHandler); err != nil {
		os.Exit(1) // run has logged why, in one line
	}
}

// run builds everything expensive once, here and not per invocation, and
// hands the Lambda handler to start, which in production never returns.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer, start func(lambda.Handler)) error {
	logger, err := newLogger(stdout, getenv("LOG_LEVEL"))
	if err != nil {
		return err
	}
	fail := func(err error) error {
		logger.Error("refusing to start: "+err.Error(), "err", err)
		return err
	}
	authn, mode, err := authenticator(ctx, getenv)
	if err != nil {
		return fail(err)
	}
	backends, err := awsenv.Load(ctx, getenv)
	if err != nil {
		return fail(err)
	}
	logger.Info("starting",
		"identity", mode,
		"jobs_table", backends.Settings.JobsTable,
		"results_bucket", backends.Settings.ResultsBucket,
		"url_ttl", backends.Settings.URLTTL.String(),
	)
	start(newHandler(logger, status.Config{
		Logger:  logger,
		Auth:    authn,
		Jobs:    backends.Jobs,
		Results: backends.Results,
	}))
	return nil
}

// newHandler adapts the service's http.Handler to Lambda events.
func newHandler(logger *slog.Logger, cfg status.Config) lambda.Handler {
	h := stripStage(status.New(cfg))
	return badEventAnswers{next: algnhsa.New(h, &algnhsa.Options{}), logger: logger}
}

// newLogger logs JSON lines to w at level (INFO when empty), each with the
// invocation's request and trace ids.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if level != "" {
		if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
			slog.New(slog.NewJSONHandler(w, nil)).Error("refusing to start: LOG_LEVEL=" + level + " is not DEBUG, INFO, WARN or ERROR")
			return nil, err
		}
	}
	return slog.New(invocationAttrs{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})}), nil
}
