package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// RoutePath is the one path this stack exposes.
const RoutePath = "/api/vpr/status/{job_id}"

// FunctionTimeoutSeconds is the function's timeout; the p99 duration alarm
// is set relative to it.
const FunctionTimeoutSeconds = 10

// FunctionMemoryMB is the function's memory size.
const FunctionMemoryMB = 256

// AliasName is the alias every integration invokes and CodeDeploy shifts.
const AliasName = "live"

// Token uses the service can be told to require (JWT_TOKEN_USE): Cognito's
// token_use claim, or "" for no check.
const (
	TokenUseAccess    = "access"
	TokenUseID        = "id"
	TokenUseUnchecked = ""
)

// StatusStackProps configures NewStatusStack. The jobs table, results bucket
// and user pool belong to other stacks and are only referenced here.
type StatusStackProps struct {
	StackProps awscdk.StackProps

	// EnvName is the deployment environment (dev, prod…), part of resource names.
	EnvName string
	// AssetPath is a directory holding the linux/arm64 `bootstrap` binary.
	AssetPath string

	// JobsTableArn wins over JobsTableName when both are set.
	JobsTableArn      string
	JobsTableName     string
	ResultsBucketName string

	UserPoolID        string
	UserPoolClientIDs []string
	// TokenUse is the token_use claim the service requires of the
	// authorizer's claims (JWT_TOKEN_USE): TokenUseAccess, TokenUseID, or
	// TokenUseUnchecked for no check. The JWT authorizer itself checks iss and
	// aud/client_id, not token_use.
	TokenUse string

	// FrontendOrigin is the single origin allowed by CORS, e.g. https://app.example.com.
	FrontendOrigin string
	LogLevel       string

	// Stage-wide limits (requests per second, bucket size); they apply to all
	// callers together, not per client.
	ThrottleRateLimit  float64
	ThrottleBurstLimit float64

	// LogRetentionDays is how long the function's log group keeps events:
	// one of the periods CloudWatch Logs allows (1, 3, 5, 7, 14, 30, …).
	LogRetentionDays int
	// AlarmTopicArn, when set, is the SNS topic the alarms notify when they
	// go into ALARM and back to OK.
	AlarmTopicArn string
	// WithoutListBucket leaves s3:ListBucket on the results bucket out of
	// the role, for deployments that cannot grant it. S3 then answers a
	// missing result with 403, so the function gets
	// S3_FORBIDDEN_MEANS_GONE=true: every HeadObject 403 reads as 410.
	WithoutListBucket bool

	// HTTPAPIID, when set, is an existing HTTP API (same account and
	// region) that the routes join ("attach mode"): the stack then creates
	// no API and no stage, and CORS, stage throttling and access logs are
	// its owner's. Empty: the stack creates its own API ("standalone").
	HTTPAPIID string
	// HTTPAPIAuthorizerID, when set (attach mode only), is a JWT
	// authorizer of that API that GET and HEAD use; the stack then creates
	// none. Its issuer must match JWT_ISSUER, which the CDK cannot check.
	HTTPAPIAuthorizerID string

	// Deployment names the CodeDeploy predefined Lambda deployment
	// configuration that shifts the live alias to a new version (see
	// DeploymentConfigNames).
	Deployment string
	// ReservedConcurrency, when above 0, is the function's reserved
	// concurrency: at most that many execution environments at once.
	ReservedConcurrency int
	// The ANY route's own throttle in standalone mode (requests per
	// second, bucket size), below the stage's: requests without a token
	// then cannot spend the polls' budget.
	AnyRouteThrottleRateLimit  float64
	AnyRouteThrottleBurstLimit float64
}

// The patterns of API Gateway ids: an API's is 10 lower-case letters and
// digits; an authorizer's is shorter.
var (
	httpAPIIDPattern    = regexp.MustCompile(`^[a-z0-9]{10}$`)
	authorizerIDPattern = regexp.MustCompile(`^[a-z0-9]{1,10}$`)
)

// Validate reports props that would synthesize a broken or unsafe stack.
func (p *StatusStackProps) Validate() error {
	var errs []error
	if p.EnvName == "" {
		errs = append(errs, errors.New("env name is empty"))
	}
	if _, err := os.Stat(filepath.Join(p.AssetPath, "bootstrap")); err != nil {
		// Checked here because Code_FromAsset would otherwise fail deep in jsii.
		errs = append(errs, fmt.Errorf("asset: %w", err))
	}
	if p.JobsTableArn == "" && p.JobsTableName == "" {
		errs = append(errs, errors.New("jobs table: neither ARN nor name set"))
	}
	if p.ResultsBucketName == "" {
		errs = append(errs, errors.New("results bucket name is empty"))
	}
	if p.UserPoolID == "" {
		errs = append(errs, errors.New("user pool id is empty"))
	}
	if len(p.UserPoolClientIDs) == 0 {
		errs = append(errs, errors.New("no user pool client ids"))
	}
	switch p.TokenUse {
	case TokenUseAccess, TokenUseID, TokenUseUnchecked:
	default:
		errs = append(errs, fmt.Errorf("token use %q: want %q, %q or empty", p.TokenUse, TokenUseAccess, TokenUseID))
	}
	if p.FrontendOrigin == "" {
		errs = append(errs, errors.New("frontend origin is empty"))
	}
	if p.ThrottleRateLimit <= 0 || p.ThrottleBurstLimit <= 0 {
		errs = append(errs, errors.New("throttle limits must be positive"))
	}
	if p.AnyRouteThrottleRateLimit <= 0 || p.AnyRouteThrottleBurstLimit <= 0 {
		errs = append(errs, errors.New("ANY route throttle limits must be positive"))
	}
	if p.AnyRouteThrottleRateLimit > p.ThrottleRateLimit || p.AnyRouteThrottleBurstLimit > p.ThrottleBurstLimit {
		errs = append(errs, fmt.Errorf("ANY route throttle %v/s, burst %v: want at most the stage's %v/s, burst %v", p.AnyRouteThrottleRateLimit, p.AnyRouteThrottleBurstLimit, p.ThrottleRateLimit, p.ThrottleBurstLimit))
	}
	if p.HTTPAPIID != "" && !httpAPIIDPattern.MatchString(p.HTTPAPIID) {
		errs = append(errs, fmt.Errorf("HTTP API id %q: want 10 lower-case letters and digits", p.HTTPAPIID))
	}
	if p.HTTPAPIAuthorizerID != "" {
		if p.HTTPAPIID == "" {
			errs = append(errs, errors.New("an authorizer id is only used with an HTTP API id"))
		} else if !authorizerIDPattern.MatchString(p.HTTPAPIAuthorizerID) {
			errs = append(errs, fmt.Errorf("authorizer id %q: want lower-case letters and digits, at most 10", p.HTTPAPIAuthorizerID))
		}
	}
	if _, ok := lambdaDeploymentConfig(p.Deployment); !ok {
		errs = append(errs, fmt.Errorf("deployment %q: want one of %s", p.Deployment, strings.Join(DeploymentConfigNames(), ", ")))
	}
	if p.ReservedConcurrency < 0 {
		errs = append(errs, fmt.Errorf("reserved concurrency %d: want a positive number, or 0 for none", p.ReservedConcurrency))
	}
	if _, ok := logRetention(p.LogRetentionDays); !ok {
		errs = append(errs, fmt.Errorf("log retention %d days: want one of CloudWatch Logs' periods (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)", p.LogRetentionDays))
	}
	if _, err := logsRequests(p.LogLevel); err != nil {
		// The service refuses to start on a level it cannot parse.
		errs = append(errs, fmt.Errorf("log level %q: want DEBUG, INFO, WARN or ERROR", p.LogLevel))
	}
	if p.AlarmTopicArn != "" && !snsTopicArnPattern.MatchString(p.AlarmTopicArn) {
		errs = append(errs, fmt.Errorf("alarm topic %q: want an SNS topic ARN, arn:<partition>:sns:<region>:<account>:<name>", p.AlarmTopicArn))
	}
	return errors.Join(errs...)
}

var snsTopicArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$`)

// NewStatusStack builds the VPR status Lambda, its live alias shifted by
// CodeDeploy, and its routes behind a Cognito JWT authorizer: on an HTTP API
// of its own, or on an existing one (props.HTTPAPIID). It panics on invalid
// props, as CDK constructs do.
func NewStatusStack(scope constructs.Construct, id string, props *StatusStackProps) awscdk.Stack {
	if err := props.Validate(); err != nil {
		panic(fmt.Sprintf("NewStatusStack: %v", err))
	}
	stack := awscdk.NewStack(scope, &id, &props.StackProps)

	var table awsdynamodb.ITable
	if props.JobsTableArn != "" {
		table = awsdynamodb.Table_FromTableArn(stack, jsii.String("JobsTable"), &props.JobsTableArn)
	} else {
		table = awsdynamodb.Table_FromTableName(stack, jsii.String("JobsTable"), &props.JobsTableName)
	}
	bucket := awss3.Bucket_FromBucketName(stack, jsii.String("ResultsBucket"), &props.ResultsBucketName)

	// stack.Region() is a token when the stack is region-agnostic; CDK then
	// renders the issuer as an Fn::Join with AWS::Region.
	issuer := fmt.Sprintf("https://cognito-idp.%s.amazonaws.com/%s", *stack.Region(), props.UserPoolID)

	env := map[string]*string{
		"JOBS_TABLE_NAME":         table.TableName(),
		"VPR_RESULTS_BUCKET_NAME": bucket.BucketName(),
		"LOG_LEVEL":               &props.LogLevel,
		// The HTTP API's JWT authorizer verifies the token (signature, exp,
		// iss, aud or client_id) before GET and HEAD reach the function. In
		// gateway mode the service reads the authorizer's claims and checks
		// their iss against JWT_ISSUER when set, and their token_use against
		// JWT_TOKEN_USE when set (the authorizer does not check token_use).
		"AUTH_TRUST_GATEWAY": jsii.String("true"),
		"JWT_ISSUER":         &issuer,
		// The authorizer checks the audience; the service uses JWT_AUDIENCE
		// only when it verifies tokens itself (AUTH_TRUST_GATEWAY=false).
		"JWT_AUDIENCE": jsii.String(strings.Join(props.UserPoolClientIDs, ",")),
		// The one origin of the API's CORS configuration. The function's own
		// CORS handling answers the OPTIONS requests that reach it through
		// the ANY route (see the routes below).
		"CORS_ORIGINS": &props.FrontendOrigin,
	}
	if props.TokenUse != TokenUseUnchecked {
		env["JWT_TOKEN_USE"] = &props.TokenUse
	}
	if props.WithoutListBucket {
		// Without s3:ListBucket, S3 answers 403 for a missing key: the
		// service's documented opt-in to read a HeadObject 403 as 410.
		env["S3_FORBIDDEN_MEANS_GONE"] = jsii.String("true")
	}

	// An explicit log group, not the deprecated logRetention custom
	// resource. Unnamed: a deployment made before this one may already have
	// Lambda's own /aws/lambda/<function> group, and CloudFormation cannot
	// create a group whose name exists. Kept when the stack is deleted:
	// logs may be needed after the function is gone, and retention bounds
	// them anyway.
	retention, _ := logRetention(props.LogRetentionDays)
	logGroup := awslogs.NewLogGroup(stack, jsii.String("StatusFunctionLogs"), &awslogs.LogGroupProps{
		Retention:     retention,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})

	// A role of our own: the one awslambda.Function makes gets the managed
	// AWSLambdaBasicExecutionRole, which may create log groups and write
	// to every log group of the account.
	role := awsiam.NewRole(stack, jsii.String("StatusFunctionRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("VPR status function (" + props.EnvName + "): reads the jobs table and results bucket, writes its own log group"),
	})

	timeout := awscdk.Duration_Seconds(jsii.Number(FunctionTimeoutSeconds))
	fnProps := &awslambda.FunctionProps{
		FunctionName: jsii.String("careervp-vpr-status-lambda-" + props.EnvName),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(&props.AssetPath, nil),
		Timeout:      timeout,
		MemorySize:   jsii.Number(FunctionMemoryMB),
		Tracing:      awslambda.Tracing_ACTIVE,
		Environment:  &env,
		LogGroup:     logGroup,
		Role:         role,
		// Keep the versions a deploy replaces (the CDK's default deletes
		// them): rolling back by hand points live at one of them.
		CurrentVersionOptions: &awslambda.VersionOptions{RemovalPolicy: awscdk.RemovalPolicy_RETAIN},
	}
	if props.ReservedConcurrency > 0 {
		fnProps.ReservedConcurrentExecutions = jsii.Number(float64(props.ReservedConcurrency))
	}
	fn := awslambda.NewFunction(stack, jsii.String("StatusFunction"), fnProps)

	// Only its own log group: the group exists (above), so no
	// logs:CreateLogGroup. The group's ARN ends in ":*", which covers its
	// log streams.
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:    awsiam.Effect_ALLOW,
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: &[]*string{logGroup.LogGroupArn()},
	}))
	// Explicit statements instead of grantRead*, which would add Query, Scan,
	// BatchGetItem, s3:List*, s3:GetBucket* and more.
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:    awsiam.Effect_ALLOW,
		Actions:   jsii.Strings("dynamodb:GetItem"),
		Resources: &[]*string{table.TableArn()},
	}))
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:    awsiam.Effect_ALLOW,
		Actions:   jsii.Strings("s3:GetObject"),
		Resources: &[]*string{bucket.ArnForObjects(jsii.String("*"))},
	}))
	if !props.WithoutListBucket {
		// Still read-only (it lists keys). With it, S3 answers a missing
		// key with 404, so the service reads only a 404 as a gone result
		// (410) and a 403 as the error it is (bucket, KMS key, endpoint or
		// organisation policy, expired session, clock skew).
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Effect:    awsiam.Effect_ALLOW,
			Actions:   jsii.Strings("s3:ListBucket"),
			Resources: &[]*string{bucket.BucketArn()},
		}))
	}
	nag := newNagSuppressions()
	// The statements CDK adds for active tracing, on the role's policy.
	if policy, ok := role.Node().TryFindChild(jsii.String("DefaultPolicy")).(awsiam.Policy); ok {
		nag.add(policy, "AwsSolutions-IAM5",
			"xray:PutTraceSegments and xray:PutTelemetryRecords have no resource-level permissions: X-Ray accepts only \"*\" for them. They write trace data and read nothing.",
			"Resource::*")
		nag.add(policy, "AwsSolutions-IAM5",
			"s3:GetObject on the results bucket's objects only (read-only, one bucket): the key of each job's result is read from the job item at run time, so no narrower pattern holds every result. The service presigns GETs for the job's owner only after checking ownership.",
			"Resource::arn:<AWS::Partition>:s3:::"+props.ResultsBucketName+"/*")
	}

	// Every integration invokes the live alias, never $LATEST: CodeDeploy
	// shifts the alias from version to version (see rollout.go).
	alias := awslambda.NewAlias(stack, jsii.String("LiveAlias"), &awslambda.AliasProps{
		AliasName:   jsii.String(AliasName),
		Version:     fn.CurrentVersion(),
		Description: jsii.String("what API Gateway invokes; CodeDeploy shifts it to each new version"),
	})

	// One integration for every route: the function implements the whole
	// HTTP contract of the path (HEAD is GET without a body; other methods
	// get 405 with Allow as problem+json).
	integration := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("StatusIntegration"), alias,
		&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
			PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
		})

	var stage awsapigatewayv2.HttpStage
	var anyRoute awsapigatewayv2.HttpRoute
	var accessLogs awslogs.LogGroup
	if props.HTTPAPIID == "" {
		stage, anyRoute, accessLogs = addStandaloneAPI(stack, props, issuer, integration, retention)
	} else {
		anyRoute = attachRoutes(stack, props, issuer, integration)
	}
	nag.add(anyRoute, "AwsSolutions-APIG4",
		"The ANY route has no authorizer on purpose: it reads no job and only answers 405 (problem+json with Allow) to other methods and the CORS preflights that may reach it, which carry no token. The function rate-limits these requests per client address, and in standalone mode the route has its own throttle below the stage's.")

	var topic awssns.ITopic
	if props.AlarmTopicArn != "" {
		topic = awssns.Topic_FromTopicArn(stack, jsii.String("AlarmTopic"), &props.AlarmTopicArn)
	}
	prefix := "careervp-vpr-status-" + props.EnvName
	namespace := MetricNamespacePrefix + "/" + props.EnvName
	metrics := addRequestMetrics(stack, logGroup, namespace)
	addAlarms(stack, prefix, fn, timeout, metrics, topic)
	if accessLogs != nil {
		addGatewayAlarms(stack, prefix, addGatewayMetrics(stack, accessLogs, namespace), topic)
	}
	if ok, _ := logsRequests(props.LogLevel); !ok {
		awscdk.Annotations_Of(stack).AddWarningV2(jsii.String("vprstatus:logLevel"), jsii.String(fmt.Sprintf(
			"LOG_LEVEL=%s turns the request log lines off: the metric filters see no requests, and the 5xx share and 410 alarms cannot fire", props.LogLevel)), nil)
	}
	group := addRollout(stack, props, prefix, fn, alias, metrics)
	nag.add(group.Role(), "AwsSolutions-IAM4",
		"AWSCodeDeployRoleForLambdaLimited is AWS's documented minimal policy for CodeDeploy Lambda deployments (get and update aliases, read alarms, invoke CodeDeployHook_* functions); LambdaDeploymentGroup attaches it to any role it is given.",
		"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited")
	nag.write()

	if stage != nil {
		awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{Value: stage.Url()})
	}
	awscdk.NewCfnOutput(stack, jsii.String("FunctionName"), &awscdk.CfnOutputProps{Value: fn.FunctionName()})
	awscdk.NewCfnOutput(stack, jsii.String("LogGroupName"), &awscdk.CfnOutputProps{Value: logGroup.LogGroupName()})
	awscdk.NewCfnOutput(stack, jsii.String("DeploymentApplicationName"), &awscdk.CfnOutputProps{Value: group.Application().ApplicationName()})
	awscdk.NewCfnOutput(stack, jsii.String("DeploymentGroupName"), &awscdk.CfnOutputProps{Value: group.DeploymentGroupName()})
	if accessLogs != nil {
		awscdk.NewCfnOutput(stack, jsii.String("AccessLogGroupName"), &awscdk.CfnOutputProps{Value: accessLogs.LogGroupName()})
	}
	return stack
}

// jwtAuthorizer is the stack's own Cognito JWT authorizer. The JWT
// authorizer checks the signature, exp, iss and aud or client_id; not
// token_use, which the service checks (JWT_TOKEN_USE).
func jwtAuthorizer(props *StatusStackProps, issuer, name string) awsapigatewayv2.IHttpRouteAuthorizer {
	audience := make([]*string, len(props.UserPoolClientIDs))
	for i := range props.UserPoolClientIDs {
		audience[i] = &props.UserPoolClientIDs[i]
	}
	return awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("CognitoAuthorizer"), &issuer,
		&awsapigatewayv2authorizers.HttpJwtAuthorizerProps{
			AuthorizerName: jsii.String(name),
			JwtAudience:    &audience,
		})
}
