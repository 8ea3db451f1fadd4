// Command infra synthesizes the CloudFormation stack of the VPR status
// service: `go run .` (or `cdk synth`/`cdk deploy`, which run it via cdk.json).
// Settings come from CDK context values; see README.md.
package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Context defaults, documented in README.md.
const (
	defaultEnv                = "dev"
	defaultAssetPath          = "../dist" // the repository root's dist/, relative to infra/
	defaultRegion             = "us-east-1"
	defaultFrontendOrigin     = "http://localhost:3000"
	defaultLogLevel           = "info"
	defaultTokenUse           = TokenUseAccess // frontends send Cognito access tokens to APIs
	defaultThrottleRateLimit  = 50             // 100 users waiting at once, one poll per 2 s (README, Capacity)
	defaultThrottleBurstLimit = 100            // 2 s of the rate
	// The ANY route's own budget: preflights (one per job and browser, the
	// preflight cache being per URL) and 405s, never polls.
	defaultAnyRouteThrottleRateLimit  = 10
	defaultAnyRouteThrottleBurstLimit = 20
	defaultLogRetentionDays           = 30
	// defaultOutdir is where `go run .` writes the cloud assembly when
	// CDK_OUTDIR is unset (the cdk CLI always sets it). The CDK's own
	// default is a temporary directory that is gone when the run ends.
	defaultOutdir             = "cdk.out"
	placeholderUserPoolClient = "placeholder-client-id"
)

// buildCommand makes the asset; run from the repository root.
const buildCommand = "CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc,grpcnotrace -trimpath -ldflags='-s -w' -o dist/bootstrap ./cmd/lambda"

var envNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,19}$`)

func main() {
	defer jsii.Close()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
}

func run() error {
	appProps := &awscdk.AppProps{}
	if os.Getenv("CDK_OUTDIR") == "" {
		// Absolute: jsii's Node process resolves paths against its own
		// working directory.
		dir, err := filepath.Abs(defaultOutdir)
		if err != nil {
			return err
		}
		appProps.Outdir = &dir
	}
	app := awscdk.NewApp(appProps)
	_, cleanup, err := newStackFromContext(app)
	if err != nil {
		return err
	}
	defer cleanup()
	app.Synth(nil)
	if appProps.Outdir != nil {
		fmt.Fprintln(os.Stderr, "infra: wrote the cloud assembly to", *appProps.Outdir)
	}
	return nil
}

// newStackFromContext reads the context of app and adds the status stack to it.
// Missing pieces that only a deploy needs (the built binary, the user pool)
// are replaced by placeholders so that synth works in a fresh clone, and an
// error annotation is added: the cdk CLI then refuses to deploy ("Found errors").
// cleanup removes the placeholder asset directory after synth.
func newStackFromContext(app awscdk.App) (stack awscdk.Stack, cleanup func(), err error) {
	node := app.Node()
	props, err := propsFromContext(node)
	if err != nil {
		return nil, nil, err
	}

	var problems []string
	cleanup = func() {}
	if _, err := os.Stat(filepath.Join(props.AssetPath, "bootstrap")); err != nil {
		dir, err := placeholderAsset()
		if err != nil {
			return nil, nil, err
		}
		// Best effort: a temporary directory left behind does no harm.
		cleanup = func() { _ = os.RemoveAll(dir) }
		problems = append(problems, fmt.Sprintf("no bootstrap in asset directory %s: synthesized with a placeholder that fails every invocation; build it from the repository root with `%s`", props.AssetPath, buildCommand))
		props.AssetPath = dir
	}
	if props.UserPoolID == "" {
		props.UserPoolID = *props.StackProps.Env.Region + "_placeholder"
		problems = append(problems, "context value userPoolId is not set: the JWT authorizer uses a placeholder issuer")
	}
	if len(props.UserPoolClientIDs) == 0 {
		props.UserPoolClientIDs = []string{placeholderUserPoolClient}
		problems = append(problems, "context value userPoolClientIds is not set: the JWT authorizer uses a placeholder audience")
	}

	stack = NewStatusStack(app, "careervp-vpr-status-"+props.EnvName, props)
	if props.HTTPAPIID != "" {
		// The cdk CLI prints the stack's warnings; `go run .` does not.
		fmt.Fprintln(os.Stderr, "infra: warning:", attachModeWarning(props))
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, "infra: error (blocks cdk deploy):", p)
		awscdk.Annotations_Of(stack).AddError(jsii.String(p))
	}
	return stack, cleanup, nil
}

// placeholderAsset writes a directory with a bootstrap that fails loudly.
func placeholderAsset() (string, error) {
	dir, err := os.MkdirTemp("", "vprstatus-placeholder-asset-")
	if err != nil {
		return "", err
	}
	script := "#!/bin/sh\necho 'placeholder asset: build dist/bootstrap before deploying' >&2\nexit 1\n"
	// #nosec G306 -- Lambda runs bootstrap as a program: it must be executable, as the real one is; it only prints an error and exits.
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte(script), 0o755); err != nil {
		_ = os.RemoveAll(dir) // best effort, as above
		return "", err
	}
	return dir, nil
}

// propsFromContext turns context values into stack props, applying defaults.
// UserPoolID and UserPoolClientIDs stay empty when not set.
func propsFromContext(node constructs.Node) (*StatusStackProps, error) {
	str := func(key, def string) string {
		v := node.TryGetContext(&key)
		if v == nil {
			return def
		}
		s := strings.TrimSpace(fmt.Sprint(v))
		if s == "" {
			return def
		}
		return s
	}
	num := func(key string, def float64) (float64, error) {
		s := str(key, "")
		if s == "" {
			return def, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f <= 0 {
			return 0, fmt.Errorf("context value %s=%q: want a positive number", key, s)
		}
		return f, nil
	}

	env := str("env", defaultEnv)
	if !envNamePattern.MatchString(env) {
		return nil, fmt.Errorf("context value env=%q: want lower-case letters, digits and dashes, at most 20", env)
	}
	origin := str("frontendOrigin", defaultFrontendOrigin)
	if err := checkOrigin(origin); err != nil {
		return nil, fmt.Errorf("context value frontendOrigin=%q: %w", origin, err)
	}
	rate, err := num("throttleRateLimit", defaultThrottleRateLimit)
	if err != nil {
		return nil, err
	}
	burst, err := num("throttleBurstLimit", defaultThrottleBurstLimit)
	if err != nil {
		return nil, err
	}
	if burst != float64(int64(burst)) {
		return nil, fmt.Errorf("context value throttleBurstLimit=%v: want a whole number", burst)
	}

	anyRate, err := num("anyRouteThrottleRateLimit", defaultAnyRouteThrottleRateLimit)
	if err != nil {
		return nil, err
	}
	anyBurst, err := num("anyRouteThrottleBurstLimit", defaultAnyRouteThrottleBurstLimit)
	if err != nil {
		return nil, err
	}
	if anyBurst != float64(int64(anyBurst)) {
		return nil, fmt.Errorf("context value anyRouteThrottleBurstLimit=%v: want a whole number", anyBurst)
	}
	// Defaults above a lowered stage budget follow it down; a value set
	// above it is an error: the point of the route's throttle is to be the
	// lower one.
	if node.TryGetContext(jsii.String("anyRouteThrottleRateLimit")) == nil {
		anyRate = min(anyRate, rate)
	}
	if node.TryGetContext(jsii.String("anyRouteThrottleBurstLimit")) == nil {
		anyBurst = min(anyBurst, burst)
	}
	if anyRate > rate {
		return nil, fmt.Errorf("context value anyRouteThrottleRateLimit=%v: want at most throttleRateLimit (%v)", anyRate, rate)
	}
	if anyBurst > burst {
		return nil, fmt.Errorf("context value anyRouteThrottleBurstLimit=%v: want at most throttleBurstLimit (%v)", anyBurst, burst)
	}

	apiID := str("httpApiId", "")
	if apiID != "" && !httpAPIIDPattern.MatchString(apiID) {
		return nil, fmt.Errorf("context value httpApiId=%q: want the id of an HTTP API, 10 lower-case letters and digits (the a1b2c3d4e5 of https://a1b2c3d4e5.execute-api.<region>.amazonaws.com)", apiID)
	}
	authorizerID := str("httpApiAuthorizerId", "")
	if authorizerID != "" {
		if apiID == "" {
			return nil, fmt.Errorf("context value httpApiAuthorizerId=%q: only used with httpApiId, the API the authorizer belongs to; httpApiId is not set", authorizerID)
		}
		if !authorizerIDPattern.MatchString(authorizerID) {
			return nil, fmt.Errorf("context value httpApiAuthorizerId=%q: want the id of a JWT authorizer of that API, lower-case letters and digits", authorizerID)
		}
	}
	deployment := str("deployment", DefaultDeployment)
	if _, ok := lambdaDeploymentConfig(deployment); !ok {
		return nil, fmt.Errorf("context value deployment=%q: want one of CodeDeploy's predefined Lambda configurations: %s", deployment, strings.Join(DeploymentConfigNames(), ", "))
	}
	reserved := 0
	if s := str("reservedConcurrency", ""); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("context value reservedConcurrency=%q: want a whole number of at least 1 (0 would stop every invocation; leave it unset for none)", s)
		}
		reserved = n
	}

	days, err := num("logRetentionDays", defaultLogRetentionDays)
	if err != nil {
		return nil, err
	}
	if _, ok := logRetention(int(days)); !ok || days != float64(int(days)) {
		return nil, fmt.Errorf("context value logRetentionDays=%v: want one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653", days)
	}
	withoutListBucket, err := strconv.ParseBool(str("withoutListBucket", "false"))
	if err != nil {
		return nil, fmt.Errorf("context value withoutListBucket=%q: want true or false", str("withoutListBucket", ""))
	}

	topicArn := str("alarmTopicArn", "")
	if topicArn != "" && !snsTopicArnPattern.MatchString(topicArn) {
		return nil, fmt.Errorf("context value alarmTopicArn=%q: want an SNS topic ARN, arn:<partition>:sns:<region>:<account>:<name>", topicArn)
	}
	logLevel := str("logLevel", defaultLogLevel)
	if _, err := logsRequests(logLevel); err != nil {
		return nil, fmt.Errorf("context value logLevel=%q: want debug, info, warn or error (the function refuses to start on anything else)", logLevel)
	}

	// tokenUse set to "" means no check, so an empty value does not fall
	// back to the default as with the other keys.
	tokenUse := defaultTokenUse
	if v := node.TryGetContext(jsii.String("tokenUse")); v != nil {
		tokenUse = strings.TrimSpace(fmt.Sprint(v))
	}
	switch tokenUse {
	case TokenUseAccess, TokenUseID, TokenUseUnchecked:
	default:
		return nil, fmt.Errorf("context value tokenUse=%q: want %q, %q, or empty for no check", tokenUse, TokenUseAccess, TokenUseID)
	}

	var clientIDs []string
	for _, id := range strings.Split(str("userPoolClientIds", ""), ",") {
		if id = strings.TrimSpace(id); id != "" {
			clientIDs = append(clientIDs, id)
		}
	}

	// The cdk CLI sets CDK_DEFAULT_REGION/ACCOUNT from the AWS profile.
	region := str("region", os.Getenv("CDK_DEFAULT_REGION"))
	if region == "" {
		region = defaultRegion
	}
	var account *string
	if a := os.Getenv("CDK_DEFAULT_ACCOUNT"); a != "" {
		account = &a
	}

	return &StatusStackProps{
		StackProps: awscdk.StackProps{
			Env:         &awscdk.Environment{Region: &region, Account: account},
			Description: jsii.String("VPR status polling API (" + env + ")"),
		},
		EnvName:            env,
		AssetPath:          str("assetPath", defaultAssetPath),
		JobsTableArn:       str("jobsTableArn", ""),
		JobsTableName:      str("jobsTableName", "careervp-jobs-"+env),
		ResultsBucketName:  str("resultsBucketName", "careervp-vpr-results-"+env),
		UserPoolID:         str("userPoolId", ""),
		UserPoolClientIDs:  clientIDs,
		TokenUse:           tokenUse,
		FrontendOrigin:     origin,
		LogLevel:           logLevel,
		ThrottleRateLimit:  rate,
		ThrottleBurstLimit: burst,
		LogRetentionDays:   int(days),
		AlarmTopicArn:      topicArn,
		WithoutListBucket:  withoutListBucket,

		HTTPAPIID:                  apiID,
		HTTPAPIAuthorizerID:        authorizerID,
		Deployment:                 deployment,
		ReservedConcurrency:        reserved,
		AnyRouteThrottleRateLimit:  anyRate,
		AnyRouteThrottleBurstLimit: anyBurst,
	}, nil
}

// checkOrigin rejects values a browser's Origin header can never equal,
// such as a trailing slash or a path.
func checkOrigin(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("want scheme://host[:port] with nothing after it")
	}
	return nil
}
