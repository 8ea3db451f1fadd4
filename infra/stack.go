package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// RoutePath is the one route this stack exposes.
const RoutePath = "/api/vpr/status/{job_id}"

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

	// FrontendOrigin is the single origin allowed by CORS, e.g. https://app.example.com.
	FrontendOrigin string
	LogLevel       string

	// Stage-wide limits (requests per second, bucket size); they apply to all
	// callers together, not per client.
	ThrottleRateLimit  float64
	ThrottleBurstLimit float64
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
	if p.FrontendOrigin == "" {
		errs = append(errs, errors.New("frontend origin is empty"))
	}
	if p.ThrottleRateLimit <= 0 || p.ThrottleBurstLimit <= 0 {
		errs = append(errs, errors.New("throttle limits must be positive"))
	}
	return errors.Join(errs...)
}

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

	fn := awslambda.NewFunction(stack, jsii.String("StatusFunction"), &awslambda.FunctionProps{
		FunctionName: jsii.String("careervp-vpr-status-lambda-" + props.EnvName),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(&props.AssetPath, nil),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(10)),
		MemorySize:   jsii.Number(256),
		Tracing:      awslambda.Tracing_ACTIVE,
		Environment: &map[string]*string{
			"JOBS_TABLE_NAME":         table.TableName(),
			"VPR_RESULTS_BUCKET_NAME": bucket.BucketName(),
			"JWT_ISSUER":              &issuer,
			"JWT_AUDIENCE":            jsii.String(strings.Join(props.UserPoolClientIDs, ",")),
			"LOG_LEVEL":               &props.LogLevel,
			// The HTTP API authorizer has already verified the token; the
			// service still gets issuer/audience to check the claims it reads.
			"AUTH_TRUST_GATEWAY": jsii.String("true"),
		},
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

	audience := make([]*string, len(props.UserPoolClientIDs))
	for i := range props.UserPoolClientIDs {
		audience[i] = &props.UserPoolClientIDs[i]
	}
	authorizer := awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("CognitoAuthorizer"), &issuer,
		&awsapigatewayv2authorizers.HttpJwtAuthorizerProps{
			AuthorizerName: jsii.String("cognito-" + props.EnvName),
			JwtAudience:    &audience,
		})

	api := awsapigatewayv2.NewHttpApi(stack, jsii.String("StatusApi"), &awsapigatewayv2.HttpApiProps{
		ApiName: jsii.String("careervp-vpr-status-api-" + props.EnvName),
		CorsPreflight: &awsapigatewayv2.CorsPreflightOptions{
			AllowOrigins: jsii.Strings(props.FrontendOrigin),
			AllowMethods: &[]awsapigatewayv2.CorsHttpMethod{awsapigatewayv2.CorsHttpMethod_GET},
			AllowHeaders: jsii.Strings("Authorization", "If-None-Match"),
			// Browsers hide these from scripts unless exposed; the client needs
			// them to back off and to poll conditionally.
			ExposeHeaders: jsii.Strings("Retry-After", "RateLimit", "RateLimit-Policy", "ETag"),
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

	api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
		Path:    jsii.String(RoutePath),
		Methods: &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_GET},
		Integration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("StatusIntegration"), fn,
			&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
				PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
			}),
		Authorizer: authorizer,
	})

	awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{Value: stage.Url()})
	awscdk.NewCfnOutput(stack, jsii.String("FunctionName"), &awscdk.CfnOutputProps{Value: fn.FunctionName()})
	return stack
}
