// Package defaultchain builds the service's AWS backends with the SDK's
// default configuration chain, as a developer's machine or a CI job has it
// (the environment, shared config and credentials files, profiles, SSO,
// ...): for cmd/local -backend aws and cmd/jobcheck. cmd/lambda uses
// awsenv.Load instead, which reads only the environment Lambda sets and does
// without linking this chain, whose package initialisation would cost every
// cold start (TestLeanDependencies).
package defaultchain

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/careervp/vprstatus/awsenv"
)

// Load builds the backends: the service's settings through getenv
// (awsenv.ReadSettings: the table, the bucket, AWS_REGION, the
// AWS_ENDPOINT_URL* endpoints, applied explicitly so that a test's getenv is
// honoured), and the credentials and, when AWS_REGION is unset, the region
// from the default chain, which reads the process environment and files
// itself.
func Load(ctx context.Context, getenv func(string) string) (*awsenv.Backends, error) {
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
		return nil, errors.New("no AWS region: set AWS_REGION, or a region in the shared config profile")
	}
	return awsenv.New(cfg, s), nil
}
