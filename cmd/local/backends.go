package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/careervp/vprstatus/awsenv/defaultchain"
	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/status"
)

// backend is what the API reads jobs and results from, with what goes with
// it in development: its own endpoints, demo jobs to print, and goroutines
// to stop at shutdown.
type backend struct {
	jobs      status.JobStore
	results   status.URLSigner
	demo      map[status.State]string // a demo job per state; nil: none
	addRoutes func(*http.ServeMux, guard)
	close     func()
}

// fakesBackend keeps jobs and results in memory, where POST /_local/jobs
// makes jobs that run by themselves and expire.
func fakesBackend(ctx context.Context, logger *slog.Logger, o options, base string) (*backend, error) {
	jobs := fakes.NewJobStore(nil)
	results, err := fakes.NewResults(base+"/_local/results/", o.urlTTL, nil)
	if err != nil {
		return nil, err
	}
	r := newJobRunner(ctx, logger, jobs, results, o)
	return &backend{jobs: jobs, results: results, demo: r.seed(demoUser), addRoutes: r.addRoutes, close: r.close}, nil
}

// awsBackend reads the DynamoDB table and the S3 bucket the environment
// names (see awsenv). With -seed it first creates them, if missing, and puts
// a demo job in every state in them.
func awsBackend(ctx context.Context, logger *slog.Logger, o options, getenv func(string) string) (*backend, error) {
	b, err := defaultchain.Load(ctx, getenv)
	if err != nil {
		return nil, err
	}
	var demo map[status.State]string
	if o.seed {
		if demo, err = seedAWS(ctx, b, demoUser); err != nil {
			return nil, err
		}
	}
	presigner, why := b.Results.Presigner()
	logger.Info("serving from AWS backends",
		"jobs_table", b.Settings.JobsTable, "results_bucket", b.Settings.ResultsBucket,
		"dynamodb", orDefault(b.Settings.DynamoDBEndpoint), "s3", orDefault(b.Settings.S3Endpoint),
		"presigner", presigner)
	if why != "" {
		logger.Warn("presigning result URLs through s3.PresignClient", "reason", why)
	}
	return &backend{
		jobs: b.Jobs, results: b.Results, demo: demo,
		addRoutes: func(*http.ServeMux, guard) {}, // jobs come from the table: no job endpoints
		close:     func() {},
	}, nil
}

func orDefault(endpoint string) string {
	if endpoint == "" {
		return "AWS"
	}
	return endpoint
}
