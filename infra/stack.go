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
}

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

// NewStatusStack builds the VPR status Lambda behind an HTTP API with a
// Cognito JWT authorizer. It panics on invalid props, as CDK constructs do.
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

	timeout := awscdk.Duration_Seconds(jsii.Number(FunctionTimeoutSeconds))
	fn := awslambda.NewFunction(stack, jsii.String("StatusFunction"), &awslambda.FunctionProps{
		FunctionName: jsii.String("careervp-vpr-status-lambda-" + props.EnvName),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(&props.AssetPath, nil),
		Timeout:      timeout,
		MemorySize:   jsii.Number(256),
		Tracing:      awslambda.Tracing_ACTIVE,
		Environment:  &env,
		LogGroup:     logGroup,
	})

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

	audience := make([]*string, len(props.UserPoolClientIDs))
	for i := range props.UserPoolClientIDs {
		audience[i] = &props.UserPoolClientIDs[i]
	}
	authorizer := awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("CognitoAuthorizer"), &issuer,
		&awsapigatewayv2authorizers.HttpJwtAuthorizerProps{
			AuthorizerName: jsii.String("cognito-" + props.EnvName),
			JwtAudience:    &audience,
		})

	// CORS: with a CORS configuration, API Gateway answers OPTIONS
	// preflights itself, without a route or an authorizer, and puts the
	// configured Access-Control-Allow-Origin and -Expose-Headers on
	// integration responses, ignoring CORS headers the integration returns
	// (AWS, "Configure CORS for HTTP APIs"). That is what happens for the
	// GET and HEAD routes. An ANY route (like $default) is reported to
	// receive OPTIONS requests even so (AWS's note on $default routes with
	// an authorizer; SAM issue 1603: "Lambda receives the OPTIONS request"):
	// the ANY route below therefore has no authorizer, so a preflight is
	// never refused with 401, and the function answers it with its own CORS
	// handling, set by CORS_ORIGINS to the same single origin, methods and
	// request headers as this configuration. Whether API Gateway then
	// keeps the function's Access-Control-Allow-* headers or puts its own
	// on that answer is not documented (nor verified on a deployed API);
	// both grant the same, so either way the browser gets a 2xx preflight
	// allowing GET and HEAD with the request headers listed below.
	api := awsapigatewayv2.NewHttpApi(stack, jsii.String("StatusApi"), &awsapigatewayv2.HttpApiProps{
		ApiName: jsii.String("careervp-vpr-status-api-" + props.EnvName),
		CorsPreflight: &awsapigatewayv2.CorsPreflightOptions{
			AllowOrigins: jsii.Strings(props.FrontendOrigin),
			// HEAD is CORS-safelisted, so browsers never need it granted; it
			// is listed to match the function's own preflight answer.
			AllowMethods: &[]awsapigatewayv2.CorsHttpMethod{awsapigatewayv2.CorsHttpMethod_GET, awsapigatewayv2.CorsHttpMethod_HEAD},
			// The same lists as the service's own preflight answer: what a
			// poll may send (traceparent and tracestate carry a W3C trace
			// context; Content-Type is harmless on a GET and some fetch
			// wrappers set it)...
			AllowHeaders: jsii.Strings("Authorization", "If-None-Match", "Content-Type", "traceparent", "tracestate"),
			// ...and what scripts may read (browsers hide other headers):
			// what a client needs to poll conditionally, back off, and tell
			// why a token was refused.
			ExposeHeaders: jsii.Strings("ETag", "Retry-After", "RateLimit", "RateLimit-Policy", "WWW-Authenticate"),
			MaxAge:        awscdk.Duration_Hours(jsii.Number(1)),
		},
		// The default stage is added below so that it can carry throttling.
		CreateDefaultStage: jsii.Bool(false),
	})
	stage := api.AddStage(jsii.String("DefaultStage"), &awsapigatewayv2.HttpStageOptions{
		// $default: no stage prefix in rawPath, which the Lambda adapter needs.
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  &props.ThrottleRateLimit,
			BurstLimit: &props.ThrottleBurstLimit,
		},
	})

	// One integration for every route: the function implements the whole
	// HTTP contract of the path (HEAD is GET without a body; other methods
	// get 405 with Allow as problem+json).
	integration := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("StatusIntegration"), fn,
		&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
			PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
		})
	// GET and HEAD read a job: the JWT authorizer must pass them. A missing
	// or invalid token gets API Gateway's own 401 ({"message":"Unauthorized"}),
	// and the function is not invoked.
	api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
		Path:        jsii.String(RoutePath),
		Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_GET, awsapigatewayv2.HttpMethod_HEAD},
		Integration: integration,
		Authorizer:  authorizer,
	})
	// Every other method on the path: without this route API Gateway
	// answers them itself with 404 {"message":"Not Found"}. API Gateway
	// picks the route with the exact method first, so GET and HEAD never
	// reach this one (ANY matches "all methods that you haven't defined for
	// a resource"). No authorizer: the function reads no job here, answers
	// 405 and rate-limits these requests by client address, and OPTIONS
	// preflights may arrive here (see CORS above). The none-authorizer is
	// explicit so that a default authorizer added to the API later cannot
	// apply to this route.
	api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
		Path:        jsii.String(RoutePath),
		Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_ANY},
		Integration: integration,
		Authorizer:  awsapigatewayv2.NewHttpNoneAuthorizer(),
	})

	var topic awssns.ITopic
	if props.AlarmTopicArn != "" {
		topic = awssns.Topic_FromTopicArn(stack, jsii.String("AlarmTopic"), &props.AlarmTopicArn)
	}
	metrics := addRequestMetrics(stack, logGroup, MetricNamespacePrefix+"/"+props.EnvName)
	addAlarms(stack, "careervp-vpr-status-"+props.EnvName, fn, timeout, metrics, topic)
	if ok, _ := logsRequests(props.LogLevel); !ok {
		awscdk.Annotations_Of(stack).AddWarningV2(jsii.String("vprstatus:logLevel"), jsii.String(fmt.Sprintf(
			"LOG_LEVEL=%s turns the request log lines off: the metric filters see no requests, and the 5xx share and 410 alarms cannot fire", props.LogLevel)), nil)
	}

	awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{Value: stage.Url()})
	awscdk.NewCfnOutput(stack, jsii.String("FunctionName"), &awscdk.CfnOutputProps{Value: fn.FunctionName()})
	awscdk.NewCfnOutput(stack, jsii.String("LogGroupName"), &awscdk.CfnOutputProps{Value: logGroup.LogGroupName()})
	return stack
}
