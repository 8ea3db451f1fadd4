package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/careervp/vprstatus/awsenv"
)

// loadAWS builds the AWS backends for -backend aws: awsenv's settings
// through getenv, and the credentials and region from the SDK's default
// chain, as a developer's machine has them (environment, shared config and
// credentials files, profiles, SSO, ...). cmd/lambda's awsenv.Load reads
// only the environment Lambda sets, and does without linking this chain.
//
// getenv supplies the service's variables, AWS_REGION and the
// AWS_ENDPOINT_URL* endpoints (applied explicitly, so a test's getenv is
// honoured); the chain reads the process environment and files itself.
func loadAWS(ctx context.Context, getenv func(string) string) (*awsenv.Backends, error) {
	s, err := awsenv.ReadSettings(getenv)
	if err != nil {
		return nil, err
	}
	var opts []func(*config.LoadOptions) error
	if s.Region != "" {
		opts = append(opts, config.WithRegion(s.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("AWS_REGION is required")
	}
	return awsenv.New(cfg, s), nil
}
