package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

const (
	testRegion   = "eu-west-1"
	testAccount  = "123456789012"
	testTableArn = "arn:aws:dynamodb:eu-west-1:123456789012:table/careervp-jobs-test"
	testBucket   = "careervp-vpr-results-test"
	testPool     = "eu-west-1_AbCdEf123"
	testIssuer   = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
	testOrigin   = "https://app.example.com"
	testTopic    = "arn:aws:sns:eu-west-1:123456789012:vpr-ops"
)

// assetDir holds a dummy bootstrap: synth only hashes and copies it.
// outDir receives the shared synth.
var assetDir, outDir string

func TestMain(m *testing.M) {
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	// Keep the tests independent of a developer's cdk CLI environment.
	for _, k := range []string{"CDK_CONTEXT_JSON", "CDK_OUTDIR", "CDK_DEFAULT_REGION", "CDK_DEFAULT_ACCOUNT"} {
		os.Unsetenv(k)
	}
	dir, err := os.MkdirTemp("", "vprstatus-infra-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	assetDir, outDir = filepath.Join(dir, "asset"), filepath.Join(dir, "cdk.out")
	if err := os.Mkdir(assetDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(filepath.Join(assetDir, "bootstrap"), []byte("dummy"), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	jsii.Close()
	os.Exit(code)
}

func testProps() *StatusStackProps {
	return &StatusStackProps{
		StackProps: awscdk.StackProps{
			Env: &awscdk.Environment{Region: jsii.String(testRegion), Account: jsii.String(testAccount)},
		},
		EnvName:            "test",
		AssetPath:          assetDir,
		JobsTableArn:       testTableArn,
		ResultsBucketName:  testBucket,
		UserPoolID:         testPool,
		UserPoolClientIDs:  []string{"client-a", "client-b"},
		TokenUse:           TokenUseAccess,
		FrontendOrigin:     testOrigin,
		LogLevel:           "debug",
		ThrottleRateLimit:  25,
		ThrottleBurstLimit: 50,
		LogRetentionDays:   90,
		Deployment:         DefaultDeployment,

		AnyRouteThrottleRateLimit:  5,
		AnyRouteThrottleBurstLimit: 10,
	}
}

// The configurations the tests synthesize once each and share: standalone
// (the stack's own API), and attach mode with and without an existing
// authorizer. Attach mode also takes the other deployment choices, so that
// one synth covers them.
const (
	testAPIID        = "a1b2c3d4e5"
	testAuthorizerID = "jwt123"
	testReserved     = 20
)

var configurations = map[string]func() *StatusStackProps{
	"standalone": testProps,
	"attach": func() *StatusStackProps {
		p := testProps()
		p.HTTPAPIID = testAPIID
		p.Deployment = "AllAtOnce"
		p.ReservedConcurrency = testReserved
		return p
	},
	"attach-authorizer": func() *StatusStackProps {
		p := testProps()
		p.HTTPAPIID = testAPIID
		p.HTTPAPIAuthorizerID = testAuthorizerID
		return p
	},
	// A deployment that cannot grant s3:ListBucket.
	"without-list-bucket": func() *StatusStackProps {
		p := testProps()
		p.WithoutListBucket = true
		return p
	},
}

func newTestApp(t *testing.T, context map[string]interface{}) awscdk.App {
	t.Helper()
	return awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &context})
}

// synthesized is one configuration's stack, synthesized once with cdk-nag's
// AwsSolutionsChecks applied (see nag_test.go), for every test that only
// reads it.
type synthesized struct {
	stack awscdk.Stack
	tpl   assertions.Template
	json  map[string]interface{}
}

var (
	synthMu    sync.Mutex
	synthCache = map[string]*synthesized{}
)

// synth returns the shared synthesis of the named configuration.
func synth(t *testing.T, name string) *synthesized {
	t.Helper()
	synthMu.Lock()
	defer synthMu.Unlock()
	if s, ok := synthCache[name]; ok {
		if s == nil {
			t.Fatalf("building the %s stack failed in an earlier test", name)
		}
		return s
	}
	synthCache[name] = nil
	props, ok := configurations[name]
	if !ok {
		t.Fatalf("no configuration %q", name)
	}
	var s synthesized
	check(t, func() {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(outDir, name))})
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true), Reports: jsii.Bool(false)}), nil)
		s.stack = NewStatusStack(app, "careervp-vpr-status-test", props())
		s.tpl = assertions.Template_FromStack(s.stack, nil)
		s.json = *s.tpl.ToJSON()
	})
	synthCache[name] = &s
	return &s
}

// template returns the standalone stack's template.
func template(t *testing.T) (assertions.Template, map[string]interface{}) {
	t.Helper()
	s := synth(t, "standalone")
	return s.tpl, s.json
}

// check runs CDK assertions, which panic on failure, and fails only this test.
func check(t *testing.T, assert func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%v", r)
		}
	}()
	assert()
}

type obj = map[string]interface{}
type arr = []interface{}

func TestFunctionProperties(t *testing.T) {
	tpl, _ := template(t)
	check(t, func() {
		tpl.ResourceCountIs(jsii.String("AWS::Lambda::Function"), jsii.Number(1))
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), obj{
			"FunctionName":  "careervp-vpr-status-lambda-test",
			"Runtime":       "provided.al2023",
			"Architectures": arr{"arm64"},
			"Handler":       "bootstrap",
			"Timeout":       10,
			"MemorySize":    256,
			"TracingConfig": obj{"Mode": "Active"},
		})
	})
}

func TestFunctionEnvironment(t *testing.T) {
	tpl, _ := template(t)
	check(t, func() {
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), obj{
			"Environment": obj{"Variables": assertions.Match_ObjectEquals(&obj{
				"JOBS_TABLE_NAME":         "careervp-jobs-test",
				"VPR_RESULTS_BUCKET_NAME": testBucket,
				"JWT_ISSUER":              testIssuer,
				"JWT_AUDIENCE":            "client-a,client-b",
				"LOG_LEVEL":               "debug",
				"AUTH_TRUST_GATEWAY":      "true",
				"JWT_TOKEN_USE":           "access",
				"CORS_ORIGINS":            testOrigin,
			})},
		})
	})
}

func TestFunctionEnvironmentWithoutTokenUse(t *testing.T) {
	props := testProps()
	props.TokenUse = TokenUseUnchecked
	app := newTestApp(t, nil)
	var tpl assertions.Template
	check(t, func() { tpl = assertions.Template_FromStack(NewStatusStack(app, "any-token-use", props), nil) })
	check(t, func() {
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), obj{
			"Environment": obj{"Variables": obj{"JWT_TOKEN_USE": assertions.Match_Absent()}},
		})
	})
}

// withoutListBucket returns the template of a deployment that cannot grant
// s3:ListBucket.
func withoutListBucket(t *testing.T) map[string]interface{} {
	t.Helper()
	return synth(t, "without-list-bucket").json
}

func TestWithoutListBucketLeavesItOutOfTheRole(t *testing.T) {
	tmpl := withoutListBucket(t)
	all := actions(tmpl)
	if !slices.Contains(all, "s3:GetObject") {
		t.Fatalf("actions %q lack s3:GetObject; the template walk is broken", all)
	}
	if slices.Contains(all, "s3:ListBucket") {
		t.Errorf("actions %q include s3:ListBucket", all)
	}
}

func TestWithoutListBucketReadsForbiddenAsGone(t *testing.T) {
	tmpl := withoutListBucket(t)
	for id, r := range resourcesOfType(tmpl, "AWS::Lambda::Function") {
		vars := r["Properties"].(obj)["Environment"].(obj)["Variables"].(obj)
		if v := vars["S3_FORBIDDEN_MEANS_GONE"]; v != "true" {
			t.Errorf("%s: S3_FORBIDDEN_MEANS_GONE=%v, want true", id, v)
		}
	}
}

func TestValidateRejectsUnknownTokenUse(t *testing.T) {
	for _, use := range []string{"Access", "both", " id"} {
		props := testProps()
		props.TokenUse = use
		if err := props.Validate(); err == nil {
			t.Errorf("TokenUse %q: no error", use)
		}
	}
}

// routes returns the template's routes by route key.
func routes(t *testing.T, tmpl map[string]interface{}) map[string]obj {
	t.Helper()
	out := map[string]obj{}
	for id, r := range resourcesOfType(tmpl, "AWS::ApiGatewayV2::Route") {
		props := r["Properties"].(obj)
		key, _ := props["RouteKey"].(string)
		if _, dup := out[key]; dup {
			t.Fatalf("two routes with key %q (second: %s)", key, id)
		}
		out[key] = props
	}
	return out
}

func TestRoutes(t *testing.T) {
	tpl, tmpl := template(t)
	authorizers := *tpl.FindResources(jsii.String("AWS::ApiGatewayV2::Authorizer"), nil)
	if len(authorizers) != 1 {
		t.Fatalf("want 1 authorizer, got %d", len(authorizers))
	}
	var authorizerID string
	for id := range authorizers {
		authorizerID = id
	}
	integrations := resourcesOfType(tmpl, "AWS::ApiGatewayV2::Integration")
	if len(integrations) != 1 {
		t.Fatalf("want 1 integration, got %d", len(integrations))
	}
	var integrationID string
	for id := range integrations {
		integrationID = id
	}
	target := canonical(t, obj{"Fn::Join": arr{"", arr{"integrations/", obj{"Ref": integrationID}}}})
	jwt := canonical(t, obj{"Ref": authorizerID})

	got := routes(t, tmpl)
	// Any other route could bypass the authorizer or shadow these.
	want := map[string]string{
		"GET " + RoutePath:  "JWT",
		"HEAD " + RoutePath: "JWT",
		"ANY " + RoutePath:  "NONE",
	}
	if len(got) != len(want) {
		keys := make([]string, 0, len(got))
		for k := range got {
			keys = append(keys, k)
		}
		t.Errorf("route keys %q, want exactly GET, HEAD and ANY %s", keys, RoutePath)
	}
	for key, authType := range want {
		r, ok := got[key]
		if !ok {
			t.Errorf("no route %q", key)
			continue
		}
		if r["AuthorizationType"] != authType {
			t.Errorf("%s: AuthorizationType %v, want %s", key, r["AuthorizationType"], authType)
		}
		switch authType {
		case "JWT":
			if a := canonical(t, r["AuthorizerId"]); a != jwt {
				t.Errorf("%s: AuthorizerId %s, want %s", key, a, jwt)
			}
		default:
			if a, ok := r["AuthorizerId"]; ok {
				t.Errorf("%s: AuthorizerId %s, want none", key, canonical(t, a))
			}
		}
		if tg := canonical(t, r["Target"]); tg != target {
			t.Errorf("%s: Target %s, want %s", key, tg, target)
		}
	}
}

func TestJWTAuthorizerIssuerAndAudience(t *testing.T) {
	tpl, _ := template(t)
	check(t, func() {
		tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Authorizer"), obj{
			"AuthorizerType": "JWT",
			"IdentitySource": arr{"$request.header.Authorization"},
			"JwtConfiguration": obj{
				"Issuer":   testIssuer,
				"Audience": arr{"client-a", "client-b"},
			},
		})
	})
}

func TestLambdaIntegrationPayloadV2(t *testing.T) {
	tpl, _ := template(t)
	check(t, func() {
		tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Integration"), obj{
			"IntegrationType":      "AWS_PROXY",
			"PayloadFormatVersion": "2.0",
		})
	})
}

func TestCORS(t *testing.T) {
	tpl, _ := template(t)
	check(t, func() {
		tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Api"), obj{
			"ProtocolType": "HTTP",
			"CorsConfiguration": assertions.Match_ObjectEquals(&obj{
				"AllowOrigins":  arr{testOrigin},
				"AllowMethods":  arr{"GET", "HEAD"},
				"AllowHeaders":  arr{"Authorization", "If-None-Match", "Content-Type", "traceparent", "tracestate"},
				"ExposeHeaders": arr{"ETag", "Retry-After", "RateLimit", "RateLimit-Policy", "WWW-Authenticate"},
				"MaxAge":        3600,
			}),
		})
	})
}

func TestStageThrottling(t *testing.T) {
	tpl, _ := template(t)
	check(t, func() {
		tpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::Stage"), jsii.Number(1))
		tpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), obj{
			"StageName":  "$default",
			"AutoDeploy": true,
			"DefaultRouteSettings": obj{
				"ThrottlingRateLimit":  25,
				"ThrottlingBurstLimit": 50,
			},
		})
	})
}

// canonical renders v as JSON with sorted keys, for order-free comparison.
func canonical(t *testing.T, v interface{}) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func canonicalFromJSON(t *testing.T, s string) string {
	t.Helper()
	var v interface{}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return canonical(t, v)
}

func resourcesOfType(tmpl map[string]interface{}, typ string) map[string]obj {
	out := map[string]obj{}
	for id, r := range tmpl["Resources"].(obj) {
		if r := r.(obj); r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

func TestRolePolicyStatementsAreExactlyLogsGetItemGetObjectListBucketAndXRay(t *testing.T) {
	_, tmpl := template(t)
	policies := resourcesOfType(tmpl, "AWS::IAM::Policy")
	if len(policies) != 1 {
		t.Fatalf("want 1 AWS::IAM::Policy, got %d", len(policies))
	}
	var got []string
	for _, p := range policies {
		for _, s := range p["Properties"].(obj)["PolicyDocument"].(obj)["Statement"].(arr) {
			got = append(got, canonical(t, s))
		}
	}
	want := []string{
		// Its own log group only; the group exists, so no CreateLogGroup.
		canonical(t, obj{"Action": arr{"logs:CreateLogStream", "logs:PutLogEvents"}, "Effect": "Allow", "Resource": obj{"Fn::GetAtt": arr{functionLogGroup(t, tmpl), "Arn"}}}),
		canonicalFromJSON(t, `{"Action":"dynamodb:GetItem","Effect":"Allow","Resource":"`+testTableArn+`"}`),
		canonicalFromJSON(t, `{"Action":"s3:GetObject","Effect":"Allow","Resource":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":s3:::`+testBucket+`/*"]]}}`),
		// The bucket, not its objects: S3 then answers a missing key 404.
		canonicalFromJSON(t, `{"Action":"s3:ListBucket","Effect":"Allow","Resource":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":s3:::`+testBucket+`"]]}}`),
		canonicalFromJSON(t, `{"Action":["xray:PutTraceSegments","xray:PutTelemetryRecords"],"Effect":"Allow","Resource":"*"}`),
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("policy statements:\ngot  %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// actions lists the Action and NotAction entries of every statement in every
// policy document of the template (IAM policies, inline role policies,
// managed policies).
func actions(tmpl map[string]interface{}) []string {
	var docs []obj
	for _, r := range tmpl["Resources"].(obj) {
		r := r.(obj)
		props, _ := r["Properties"].(obj)
		switch r["Type"] {
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			docs = append(docs, props["PolicyDocument"].(obj))
		case "AWS::IAM::Role":
			for _, p := range asList(props["Policies"]) {
				docs = append(docs, p.(obj)["PolicyDocument"].(obj))
			}
		}
	}
	var out []string
	for _, d := range docs {
		for _, s := range asList(d["Statement"]) {
			s := s.(obj)
			for _, key := range []string{"Action", "NotAction"} {
				for _, a := range asList(s[key]) {
					out = append(out, fmt.Sprint(a))
				}
			}
		}
	}
	return out
}

func asList(v interface{}) arr {
	switch v := v.(type) {
	case nil:
		return nil
	case arr:
		return v
	default:
		return arr{v}
	}
}

func TestNoOtherDataActions(t *testing.T) {
	_, tmpl := template(t)
	all := actions(tmpl)
	if len(all) == 0 {
		t.Fatal("found no IAM actions at all; the template walk is broken")
	}
	allowed := map[string]bool{"dynamodb:GetItem": true, "s3:GetObject": true, "s3:ListBucket": true}
	for _, a := range all {
		lower := strings.ToLower(a)
		if strings.Contains(a, "*") {
			t.Errorf("wildcard action %q", a)
		}
		if (strings.HasPrefix(lower, "dynamodb:") || strings.HasPrefix(lower, "s3:")) && !allowed[a] {
			t.Errorf("unexpected data action %q", a)
		}
	}
}

// roleOf returns the logical id of the role whose trust policy names the
// service principal.
func roleOf(t *testing.T, tmpl map[string]interface{}, service string) (string, obj) {
	t.Helper()
	var id string
	var props obj
	for rid, r := range resourcesOfType(tmpl, "AWS::IAM::Role") {
		p := r["Properties"].(obj)
		if strings.Contains(canonical(t, p["AssumeRolePolicyDocument"]), `"Service":"`+service+`"`) {
			if id != "" {
				t.Fatalf("two roles for %s: %s and %s", service, id, rid)
			}
			id, props = rid, p
		}
	}
	if id == "" {
		t.Fatalf("no role for %s", service)
	}
	return id, props
}

func TestRolesAndTheirManagedPolicies(t *testing.T) {
	for name := range configurations {
		t.Run(name, func(t *testing.T) {
			tmpl := synth(t, name).json
			if n := len(resourcesOfType(tmpl, "AWS::IAM::Role")); n != 2 {
				t.Errorf("want 2 roles (the function's, CodeDeploy's), got %d", n)
			}
			// No AWSLambdaBasicExecutionRole: it may write to every log
			// group of the account.
			_, fnRole := roleOf(t, tmpl, "lambda.amazonaws.com")
			if m, ok := fnRole["ManagedPolicyArns"]; ok {
				t.Errorf("function role has managed policies %s", canonical(t, m))
			}
			_, deployRole := roleOf(t, tmpl, "codedeploy.amazonaws.com")
			managed := asList(deployRole["ManagedPolicyArns"])
			if len(managed) != 1 || !strings.Contains(canonical(t, managed[0]), ":iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited") {
				t.Errorf("CodeDeploy role managed policies: %s", canonical(t, managed))
			}
		})
	}
}

func TestTableByNameWhenNoArn(t *testing.T) {
	props := testProps()
	props.JobsTableArn = ""
	props.JobsTableName = "jobs-by-name"
	app := newTestApp(t, nil)
	var tpl assertions.Template
	check(t, func() { tpl = assertions.Template_FromStack(NewStatusStack(app, "by-name", props), nil) })
	check(t, func() {
		tpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), obj{
			"PolicyDocument": obj{"Statement": assertions.Match_ArrayWith(&arr{obj{
				"Action": "dynamodb:GetItem",
				"Effect": "Allow",
				"Resource": obj{"Fn::Join": arr{"", arr{
					"arn:", obj{"Ref": "AWS::Partition"}, ":dynamodb:eu-west-1:123456789012:table/jobs-by-name",
				}}},
			}})},
		})
	})
}

func TestContextDefaults(t *testing.T) {
	props, err := propsFromContext(newTestApp(t, nil).Node())
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%s|%s|%s|%s|%s|%s|%q|%v|%q|%s|%s|%v|%v|%d|%q|%v|%q|%q|%s|%d|%v|%v",
		props.EnvName, *props.StackProps.Env.Region, props.AssetPath, props.JobsTableArn, props.JobsTableName,
		props.ResultsBucketName, props.UserPoolID, props.UserPoolClientIDs, props.TokenUse, props.FrontendOrigin,
		props.LogLevel, props.ThrottleRateLimit, props.ThrottleBurstLimit,
		props.LogRetentionDays, props.AlarmTopicArn, props.WithoutListBucket,
		props.HTTPAPIID, props.HTTPAPIAuthorizerID, props.Deployment, props.ReservedConcurrency,
		props.AnyRouteThrottleRateLimit, props.AnyRouteThrottleBurstLimit)
	want := `dev|us-east-1|../dist||careervp-jobs-dev|careervp-vpr-results-dev|""|[]|"access"|http://localhost:3000|info|50|100|30|""|false|""|""|Canary10Percent5Minutes|0|10|20`
	if got != want {
		t.Errorf("defaults:\ngot  %s\nwant %s", got, want)
	}
}

func TestContextOverrides(t *testing.T) {
	// Values from `cdk -c key=value` arrive as strings.
	props, err := propsFromContext(newTestApp(t, obj{
		"env":                "prod",
		"region":             "eu-central-1",
		"assetPath":          "/build/out",
		"jobsTableArn":       testTableArn,
		"resultsBucketName":  "bucket-x",
		"userPoolId":         "eu-central-1_X",
		"userPoolClientIds":  " a , b,,c ",
		"tokenUse":           "id",
		"frontendOrigin":     "https://vpr.example.com:8443",
		"logLevel":           "warn",
		"throttleRateLimit":  "12.5",
		"throttleBurstLimit": "30",
		"logRetentionDays":   "365",
		"alarmTopicArn":      testTopic,
		"withoutListBucket":  "true",

		"httpApiId":                  testAPIID,
		"httpApiAuthorizerId":        testAuthorizerID,
		"deployment":                 "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
		"reservedConcurrency":        "40",
		"anyRouteThrottleRateLimit":  "2.5",
		"anyRouteThrottleBurstLimit": "5",
	}).Node())
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%v|%s|%s|%s|%v|%v|%d|%s|%v|%s|%s|%s|%d|%v|%v",
		props.EnvName, *props.StackProps.Env.Region, props.AssetPath, props.JobsTableArn, props.JobsTableName,
		props.ResultsBucketName, props.UserPoolID, props.UserPoolClientIDs, props.TokenUse, props.FrontendOrigin,
		props.LogLevel, props.ThrottleRateLimit, props.ThrottleBurstLimit,
		props.LogRetentionDays, props.AlarmTopicArn, props.WithoutListBucket,
		props.HTTPAPIID, props.HTTPAPIAuthorizerID, props.Deployment, props.ReservedConcurrency,
		props.AnyRouteThrottleRateLimit, props.AnyRouteThrottleBurstLimit)
	want := "prod|eu-central-1|/build/out|" + testTableArn + "|careervp-jobs-prod|bucket-x|eu-central-1_X|[a b c]|id|https://vpr.example.com:8443|warn|12.5|30|365|" + testTopic + "|true|" +
		testAPIID + "|" + testAuthorizerID + "|CodeDeployDefault.LambdaLinear10PercentEvery1Minute|40|2.5|5"
	if got != want {
		t.Errorf("overrides:\ngot  %s\nwant %s", got, want)
	}
}

func TestContextEmptyTokenUseMeansNoCheck(t *testing.T) {
	// `cdk -c tokenUse=` passes the empty string; it must not fall back to
	// the default as empty values of the other keys do.
	props, err := propsFromContext(newTestApp(t, obj{"tokenUse": ""}).Node())
	if err != nil {
		t.Fatal(err)
	}
	if props.TokenUse != TokenUseUnchecked {
		t.Errorf("tokenUse=\"\": got %q, want no check", props.TokenUse)
	}
}

func TestContextRejectsBadValues(t *testing.T) {
	for _, c := range []struct {
		context obj
		named   string // the key the error must name
	}{
		{obj{"env": "Prod"}, "env"},
		{obj{"frontendOrigin": "https://app.example.com/"}, "frontendOrigin"},
		{obj{"throttleRateLimit": "-1"}, "throttleRateLimit"},
		{obj{"throttleBurstLimit": "10.5"}, "throttleBurstLimit"},
		{obj{"tokenUse": "Access"}, "tokenUse"},
		{obj{"logRetentionDays": "31"}, "logRetentionDays"},
		{obj{"alarmTopicArn": "arn:aws:sqs:eu-west-1:123456789012:ops"}, "alarmTopicArn"},
		{obj{"withoutListBucket": "yes please"}, "withoutListBucket"},
		{obj{"logLevel": "verbose"}, "logLevel"},
		// Not an API id: upper case, too short, too long, a URL, an ARN.
		{obj{"httpApiId": "A1B2C3D4E5"}, "httpApiId"},
		{obj{"httpApiId": "a1b2c3d4e"}, "httpApiId"},
		{obj{"httpApiId": "a1b2c3d4e5f"}, "httpApiId"},
		{obj{"httpApiId": "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"}, "httpApiId"},
		{obj{"httpApiId": "arn:aws:apigateway:eu-west-1::/apis/a1b2c3d4e5"}, "httpApiId"},
		// An authorizer belongs to an API: without one it means nothing.
		{obj{"httpApiAuthorizerId": testAuthorizerID}, "httpApiAuthorizerId"},
		{obj{"httpApiId": testAPIID, "httpApiAuthorizerId": "JWT-1"}, "httpApiAuthorizerId"},
		{obj{"deployment": "Canary50Percent1Minute"}, "deployment"},
		{obj{"deployment": "canary10percent5minutes"}, "deployment"},
		{obj{"deployment": "CodeDeployDefault.OneAtATime"}, "deployment"},
		{obj{"reservedConcurrency": "0"}, "reservedConcurrency"},
		{obj{"reservedConcurrency": "-5"}, "reservedConcurrency"},
		{obj{"reservedConcurrency": "2.5"}, "reservedConcurrency"},
		{obj{"reservedConcurrency": "many"}, "reservedConcurrency"},
		{obj{"anyRouteThrottleRateLimit": "0"}, "anyRouteThrottleRateLimit"},
		{obj{"anyRouteThrottleBurstLimit": "1.5"}, "anyRouteThrottleBurstLimit"},
		// The ANY route's budget is the lower one.
		{obj{"anyRouteThrottleRateLimit": "60"}, "anyRouteThrottleRateLimit"},
		{obj{"throttleBurstLimit": "40", "anyRouteThrottleBurstLimit": "41"}, "anyRouteThrottleBurstLimit"},
	} {
		_, err := propsFromContext(newTestApp(t, c.context).Node())
		if err == nil {
			t.Errorf("%v: no error", c.context)
			continue
		}
		if !strings.Contains(err.Error(), "context value "+c.named+"=") {
			t.Errorf("%v: error %q does not name %s", c.context, err, c.named)
		}
	}
}

func TestContextAcceptsEveryDeploymentConfig(t *testing.T) {
	for _, name := range DeploymentConfigNames() {
		for _, value := range []string{name, "CodeDeployDefault.Lambda" + name} {
			props, err := propsFromContext(newTestApp(t, obj{"deployment": value}).Node())
			if err != nil {
				t.Errorf("deployment=%s: %v", value, err)
				continue
			}
			if props.Deployment != value {
				t.Errorf("deployment=%s: got %q", value, props.Deployment)
			}
		}
	}
	// CodeDeploy's predefined Lambda configurations, AllAtOnce for dev.
	if got := len(DeploymentConfigNames()); got != 9 {
		t.Errorf("%d configurations, want CodeDeploy's 9", got)
	}
}

func TestContextAnyRouteDefaultsFollowALowerStageBudget(t *testing.T) {
	props, err := propsFromContext(newTestApp(t, obj{"throttleRateLimit": "4", "throttleBurstLimit": "8"}).Node())
	if err != nil {
		t.Fatal(err)
	}
	if props.AnyRouteThrottleRateLimit != 4 || props.AnyRouteThrottleBurstLimit != 8 {
		t.Errorf("ANY route %v/s burst %v, want the stage's 4/s burst 8", props.AnyRouteThrottleRateLimit, props.AnyRouteThrottleBurstLimit)
	}
}

func TestValidateRejectsAttachAndRolloutProps(t *testing.T) {
	for name, change := range map[string]func(*StatusStackProps){
		"bad api id":                  func(p *StatusStackProps) { p.HTTPAPIID = "abc" },
		"authorizer without api":      func(p *StatusStackProps) { p.HTTPAPIAuthorizerID = testAuthorizerID },
		"bad authorizer id":           func(p *StatusStackProps) { p.HTTPAPIID, p.HTTPAPIAuthorizerID = testAPIID, "x y" },
		"unknown deployment":          func(p *StatusStackProps) { p.Deployment = "Fast" },
		"no deployment":               func(p *StatusStackProps) { p.Deployment = "" },
		"negative reserved":           func(p *StatusStackProps) { p.ReservedConcurrency = -1 },
		"any route above stage":       func(p *StatusStackProps) { p.AnyRouteThrottleRateLimit = p.ThrottleRateLimit + 1 },
		"any route burst above stage": func(p *StatusStackProps) { p.AnyRouteThrottleBurstLimit = p.ThrottleBurstLimit + 1 },
		"any route unset":             func(p *StatusStackProps) { p.AnyRouteThrottleRateLimit = 0 },
	} {
		props := testProps()
		change(props)
		if err := props.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestValidateRequiresBootstrap(t *testing.T) {
	props := testProps()
	props.AssetPath = t.TempDir()
	if err := props.Validate(); err == nil {
		t.Error("no error for an asset directory without bootstrap")
	}
}

func TestMissingDeployInputsBlockDeploy(t *testing.T) {
	app := newTestApp(t, obj{"assetPath": filepath.Join(t.TempDir(), "missing")})
	stack, cleanup, err := newStackFromContext(app)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	anns := assertions.Annotations_FromStack(stack)
	for _, pattern := range []string{".*no bootstrap in asset directory.*", ".*userPoolId is not set.*", ".*userPoolClientIds is not set.*"} {
		check(t, func() { anns.HasError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String(pattern))) })
	}
}

func TestCompleteContextHasNoErrors(t *testing.T) {
	app := newTestApp(t, obj{"assetPath": assetDir, "userPoolId": testPool, "userPoolClientIds": "client-a"})
	stack, cleanup, err := newStackFromContext(app)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	check(t, func() {
		assertions.Annotations_FromStack(stack).HasNoError(jsii.String("*"), assertions.Match_AnyValue())
	})
}

func TestRunWritesCdkOutInTheWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	// The defaults (and so placeholders) apply: jsii's Node process, which
	// reads CDK_CONTEXT_JSON, started before this test could set it.
	t.Chdir(dir)
	if err := run(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cdk.out", "careervp-vpr-status-dev.template.json")); err != nil {
		t.Error(err)
	}
}
