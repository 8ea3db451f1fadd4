package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
)

// CORS of the API, the same lists as the service's own preflight answer
// (status/cors.go). In attach mode the owning API must have them; the README
// and the synth warning say so.
var (
	// What a poll may send: traceparent and tracestate carry a W3C trace
	// context; Content-Type is harmless on a GET and some fetch wrappers
	// set it.
	corsAllowHeaders = []string{"Authorization", "If-None-Match", "Content-Type", "traceparent", "tracestate"}
	// What scripts may read (browsers hide other headers): what a client
	// needs to poll conditionally, back off, and tell why a token was
	// refused.
	corsExposeHeaders = []string{"ETag", "Retry-After", "RateLimit", "RateLimit-Policy", "WWW-Authenticate"}
)

// AnyRouteKey is the route key of the route without an authorizer.
const AnyRouteKey = "ANY " + RoutePath

// AccessLogFormat is the stage's access log line (standalone mode): JSON
// with what tells the gateway's own answers (throttling, the authorizer's
// refusals, integration failures) from the function's. No header (so no
// token), no query string and no path (the route key names the route, and
// the job id is not needed to count refusals); no client address either,
// which would be personal data kept for the log group's retention.
//
// API Gateway substitutes the variables as text, and writes "-" for one
// that has no value (an integration that was never called, no error).
// Numbers are therefore only left unquoted where a value always exists:
// the status and the response latency.
const AccessLogFormat = `{"requestId":"$context.requestId",` +
	`"routeKey":"$context.routeKey",` +
	`"httpMethod":"$context.httpMethod",` +
	`"status":$context.status,` +
	`"responseLatency":$context.responseLatency,` +
	`"responseLength":"$context.responseLength",` +
	`"integrationStatus":"$context.integrationStatus",` +
	`"integrationLatency":"$context.integrationLatency",` +
	`"integrationErrorMessage":"$context.integrationErrorMessage",` +
	`"errorMessage":"$context.error.message",` +
	`"errorResponseType":"$context.error.responseType",` +
	`"authorizerError":"$context.authorizer.error"}`

// addStandaloneAPI creates the stack's own HTTP API: CORS, the $default
// stage with throttling and access logs, the routes, and the ANY route's
// own throttle.
func addStandaloneAPI(stack awscdk.Stack, props *StatusStackProps, issuer string, integration awsapigatewayv2.HttpRouteIntegration, retention awslogs.RetentionDays) (awsapigatewayv2.HttpStage, awsapigatewayv2.HttpRoute, awslogs.LogGroup) {
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
			AllowMethods:  &[]awsapigatewayv2.CorsHttpMethod{awsapigatewayv2.CorsHttpMethod_GET, awsapigatewayv2.CorsHttpMethod_HEAD},
			AllowHeaders:  jsii.Strings(corsAllowHeaders...),
			ExposeHeaders: jsii.Strings(corsExposeHeaders...),
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

	// GET and HEAD read a job: the JWT authorizer must pass them. A missing
	// or invalid token gets API Gateway's own 401 ({"message":"Unauthorized"}),
	// and the function is not invoked.
	api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
		Path:        jsii.String(RoutePath),
		Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_GET, awsapigatewayv2.HttpMethod_HEAD},
		Integration: integration,
		Authorizer:  jwtAuthorizer(props, issuer, "cognito-"+props.EnvName),
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
	anyRoutes := api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
		Path:        jsii.String(RoutePath),
		Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_ANY},
		Integration: integration,
		Authorizer:  awsapigatewayv2.NewHttpNoneAuthorizer(),
	})
	anyRoute := (*anyRoutes)[0]

	// The gateway's own answers (429, the authorizer's 401, integration
	// failures) never reach the function's request log: the stage logs
	// every request, with the function log group's retention.
	accessLogs := awslogs.NewLogGroup(stack, jsii.String("StatusApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     retention,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	cfnStage := stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	cfnStage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLogs.LogGroupArn(),
		Format:         jsii.String(AccessLogFormat),
	})
	// A budget of its own for the route without an authorizer: a flood of
	// other methods or preflights then cannot spend the polls' budget. The
	// L2 stage has no per-route settings, and the route must exist before
	// the stage names it ("Unable to find Route by key").
	cfnStage.SetRouteSettings(map[string]interface{}{
		AnyRouteKey: map[string]interface{}{
			"ThrottlingRateLimit":  props.AnyRouteThrottleRateLimit,
			"ThrottlingBurstLimit": props.AnyRouteThrottleBurstLimit,
		},
	})
	cfnStage.Node().AddDependency(anyRoute)
	return stage, anyRoute, accessLogs
}

// attachRoutes adds the three routes to the existing API props.HTTPAPIID,
// with an existing authorizer or a new Cognito JWT authorizer on it. The
// imported API has no AddRoutes (aws-cdk issue 12337), so each route is
// built on its own; they share one integration, which can only be bound to
// one API.
func attachRoutes(stack awscdk.Stack, props *StatusStackProps, issuer string, integration awsapigatewayv2.HttpRouteIntegration) awsapigatewayv2.HttpRoute {
	api := awsapigatewayv2.HttpApi_FromHttpApiAttributes(stack, jsii.String("ExistingApi"), &awsapigatewayv2.HttpApiAttributes{
		HttpApiId: &props.HTTPAPIID,
	})
	var authorizer awsapigatewayv2.IHttpRouteAuthorizer
	if props.HTTPAPIAuthorizerID != "" {
		authorizer = awsapigatewayv2.HttpAuthorizer_FromHttpAuthorizerAttributes(stack, jsii.String("ExistingAuthorizer"), &awsapigatewayv2.HttpAuthorizerAttributes{
			AuthorizerId:   &props.HTTPAPIAuthorizerID,
			AuthorizerType: jsii.String("JWT"),
		})
	} else {
		// Named apart from the owner's authorizers on the same API.
		authorizer = jwtAuthorizer(props, issuer, "vpr-status-cognito-"+props.EnvName)
	}
	route := func(id string, method awsapigatewayv2.HttpMethod, auth awsapigatewayv2.IHttpRouteAuthorizer) awsapigatewayv2.HttpRoute {
		return awsapigatewayv2.NewHttpRoute(stack, jsii.String(id), &awsapigatewayv2.HttpRouteProps{
			HttpApi:     api,
			RouteKey:    awsapigatewayv2.HttpRouteKey_With(jsii.String(RoutePath), method),
			Integration: integration,
			Authorizer:  auth,
		})
	}
	route("GetRoute", awsapigatewayv2.HttpMethod_GET, authorizer)
	route("HeadRoute", awsapigatewayv2.HttpMethod_HEAD, authorizer)
	// As in standalone mode: no authorizer, explicitly (see addStandaloneAPI).
	anyRoute := route("AnyRoute", awsapigatewayv2.HttpMethod_ANY, awsapigatewayv2.NewHttpNoneAuthorizer())

	awscdk.Annotations_Of(stack).AddWarningV2(jsii.String("vprstatus:attachMode"), jsii.String(attachModeWarning(props)), nil)
	return anyRoute
}

// attachModeWarning names what the owner of the API must configure, since
// this stack cannot: CORS, route throttling and access logs on its stage,
// and, for a reused authorizer, the issuer the service expects.
func attachModeWarning(props *StatusStackProps) string {
	var b strings.Builder
	fmt.Fprintf(&b, "attach mode: the routes join HTTP API %s, whose owner configures CORS, stage throttling and access logs (infra/README.md, Attach mode). ", props.HTTPAPIID)
	fmt.Fprintf(&b, "CORS must allow the origin %s, the methods GET and HEAD, the request headers %s, and expose %s. ",
		props.FrontendOrigin, strings.Join(corsAllowHeaders, ", "), strings.Join(corsExposeHeaders, ", "))
	fmt.Fprintf(&b, "The owning stage should throttle %q below the polls' budget (route settings) and write JSON access logs with $context.status, integrationStatus, integrationErrorMessage and authorizer.error; this stack's throttleRateLimit, throttleBurstLimit, anyRouteThrottleRateLimit and anyRouteThrottleBurstLimit do not apply.", AnyRouteKey)
	if props.HTTPAPIAuthorizerID != "" {
		fmt.Fprintf(&b, " Authorizer %s is reused: its issuer must be the JWT_ISSUER set from userPoolId, and its audience the userPoolClientIds.", props.HTTPAPIAuthorizerID)
	}
	return b.String()
}
