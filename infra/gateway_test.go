package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

func TestAttachCreatesNoApiNoStage(t *testing.T) {
	for _, name := range []string{"attach", "attach-authorizer"} {
		t.Run(name, func(t *testing.T) {
			tmpl := synth(t, name).json
			for _, typ := range []string{"AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage"} {
				if n := len(resourcesOfType(tmpl, typ)); n != 0 {
					t.Errorf("%d %s, want none", n, typ)
				}
			}
			if _, ok := tmpl["Outputs"].(obj)["ApiUrl"]; ok {
				t.Error("output ApiUrl: the API's URL is its owner's")
			}
		})
	}
}

func TestAttachRoutes(t *testing.T) {
	for name, authorizers := range map[string]int{"attach": 1, "attach-authorizer": 0} {
		t.Run(name, func(t *testing.T) {
			tmpl := synth(t, name).json
			// The stack's own authorizer, on the existing API; or none.
			auths := resourcesOfType(tmpl, "AWS::ApiGatewayV2::Authorizer")
			if len(auths) != authorizers {
				t.Fatalf("want %d authorizers, got %d", authorizers, len(auths))
			}
			jwt := canonical(t, testAuthorizerID)
			for id, a := range auths {
				p := a["Properties"].(obj)
				if p["ApiId"] != testAPIID {
					t.Errorf("authorizer on %v, want %s", p["ApiId"], testAPIID)
				}
				if got := canonical(t, p["JwtConfiguration"]); got != canonical(t, obj{"Issuer": testIssuer, "Audience": arr{"client-a", "client-b"}}) {
					t.Errorf("authorizer JwtConfiguration %s", got)
				}
				jwt = canonical(t, obj{"Ref": id})
			}
			integrationID, integration := only(t, tmpl, "AWS::ApiGatewayV2::Integration")
			if integration["Properties"].(obj)["ApiId"] != testAPIID {
				t.Errorf("integration on %v, want %s", integration["Properties"].(obj)["ApiId"], testAPIID)
			}
			target := canonical(t, obj{"Fn::Join": arr{"", arr{"integrations/", obj{"Ref": integrationID}}}})
			got := routes(t, tmpl)
			if len(got) != 3 {
				t.Errorf("%d routes, want GET, HEAD and ANY", len(got))
			}
			for key, authType := range map[string]string{"GET " + RoutePath: "JWT", "HEAD " + RoutePath: "JWT", AnyRouteKey: "NONE"} {
				r, ok := got[key]
				if !ok {
					t.Errorf("no route %q", key)
					continue
				}
				if r["ApiId"] != testAPIID {
					t.Errorf("%s on %v, want %s", key, r["ApiId"], testAPIID)
				}
				if r["AuthorizationType"] != authType {
					t.Errorf("%s: AuthorizationType %v, want %s", key, r["AuthorizationType"], authType)
				}
				if a, ok := r["AuthorizerId"]; authType == "JWT" && canonical(t, a) != jwt {
					t.Errorf("%s: AuthorizerId %s, want %s", key, canonical(t, a), jwt)
				} else if authType == "NONE" && ok {
					t.Errorf("%s: AuthorizerId %s, want none", key, canonical(t, a))
				}
				if tg := canonical(t, r["Target"]); tg != target {
					t.Errorf("%s: Target %s, want %s", key, tg, target)
				}
			}
		})
	}
}

func TestAttachInvokePermissionScopedToTheApi(t *testing.T) {
	tmpl := synth(t, "attach").json
	want := canonical(t, obj{"Fn::Join": arr{"", arr{
		"arn:", obj{"Ref": "AWS::Partition"}, ":execute-api:" + testRegion + ":" + testAccount + ":" + testAPIID + "/*/*" + RoutePath,
	}}})
	for id, p := range resourcesOfType(tmpl, "AWS::Lambda::Permission") {
		props := p["Properties"].(obj)
		if got := canonical(t, props["SourceArn"]); got != want {
			t.Errorf("%s: SourceArn %s, want %s", id, got, want)
		}
		if props["Principal"] != "apigateway.amazonaws.com" || props["Action"] != "lambda:InvokeFunction" {
			t.Errorf("%s: %v %v", id, props["Principal"], props["Action"])
		}
	}
}

func TestAttachWarnsWhatTheOwningApiMustConfigure(t *testing.T) {
	for name, reused := range map[string]bool{"attach": false, "attach-authorizer": true} {
		t.Run(name, func(t *testing.T) {
			var warnings []string
			check(t, func() {
				for _, m := range *assertions.Annotations_FromStack(synth(t, name).stack).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("attach mode.*"))) {
					warnings = append(warnings, m.Entry.Data.(string))
				}
			})
			if len(warnings) != 1 {
				t.Fatalf("want 1 attach mode warning, got %q", warnings)
			}
			w := warnings[0]
			musts := []string{testAPIID, "CORS", testOrigin, "GET and HEAD",
				"Authorization, If-None-Match, Content-Type, traceparent, tracestate",
				"ETag, Retry-After, RateLimit, RateLimit-Policy, WWW-Authenticate",
				"throttle", AnyRouteKey, "access logs", "integrationErrorMessage", "authorizer.error"}
			if reused {
				musts = append(musts, testAuthorizerID, "JWT_ISSUER")
			}
			for _, s := range musts {
				if !strings.Contains(w, s) {
					t.Errorf("warning does not name %q: %s", s, w)
				}
			}
		})
	}
	// Standalone mode owns all of it: no such warning.
	check(t, func() {
		assertions.Annotations_FromStack(synth(t, "standalone").stack).HasNoWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("attach mode.*")))
	})
}

func TestStageAccessLogs(t *testing.T) {
	tmpl := synth(t, "standalone").json
	_, stage := only(t, tmpl, "AWS::ApiGatewayV2::Stage")
	settings, _ := stage["Properties"].(obj)["AccessLogSettings"].(obj)
	fnGroup := functionLogGroup(t, tmpl)
	var accessGroup string
	for id := range resourcesOfType(tmpl, "AWS::Logs::LogGroup") {
		if id != fnGroup {
			accessGroup = id
		}
	}
	if got, want := canonical(t, settings["DestinationArn"]), canonical(t, obj{"Fn::GetAtt": arr{accessGroup, "Arn"}}); got != want {
		t.Errorf("DestinationArn %s, want the access log group %s", got, want)
	}
	if settings["Format"] != AccessLogFormat {
		t.Errorf("Format %v", settings["Format"])
	}
}

// contextVariable matches an access log variable.
var contextVariable = regexp.MustCompile(`\$context\.[A-Za-z.]+`)

func TestAccessLogFormat(t *testing.T) {
	vars := contextVariable.FindAllString(AccessLogFormat, -1)
	for _, v := range []string{"$context.requestId", "$context.routeKey", "$context.status", "$context.responseLatency",
		"$context.integrationStatus", "$context.integrationErrorMessage", "$context.error.message", "$context.error.responseType",
		"$context.authorizer.error"} {
		if !slices.Contains(vars, v) {
			t.Errorf("no %s", v)
		}
	}
	// No token (no header at all), no query string, no path (which
	// carries the job id), no client address.
	for _, v := range vars {
		for _, banned := range []string{"header", "querystring", "queryString", "path", "identity", "authorizer.claims"} {
			if strings.Contains(v, banned) {
				t.Errorf("%s is logged", v)
			}
		}
	}
	// One JSON object per line whatever the values: every variable that
	// can be empty ("-") is quoted.
	for _, status := range []string{"200", "429"} {
		line := contextVariable.ReplaceAllStringFunc(AccessLogFormat, func(v string) string {
			switch v {
			case "$context.status":
				return status
			case "$context.responseLatency":
				return "12"
			}
			return "-"
		})
		var fields map[string]interface{}
		if err := json.Unmarshal([]byte(line), &fields); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if len(fields) != len(vars) {
			t.Errorf("%d fields for %d variables", len(fields), len(vars))
		}
	}
}

func TestAnyRouteThrottledBelowTheStage(t *testing.T) {
	tmpl := synth(t, "standalone").json
	_, stage := only(t, tmpl, "AWS::ApiGatewayV2::Stage")
	p := stage["Properties"].(obj)
	want := canonical(t, obj{AnyRouteKey: obj{"ThrottlingRateLimit": 5, "ThrottlingBurstLimit": 10}})
	if got := canonical(t, p["RouteSettings"]); got != want {
		t.Errorf("RouteSettings %s, want %s", got, want)
	}
	if got := canonical(t, p["DefaultRouteSettings"]); got != canonical(t, obj{"ThrottlingRateLimit": 25, "ThrottlingBurstLimit": 50}) {
		t.Errorf("DefaultRouteSettings %s", got)
	}
	// The stage can only name a route that exists ("Unable to find Route
	// by key").
	var anyRoute string
	for id, r := range resourcesOfType(tmpl, "AWS::ApiGatewayV2::Route") {
		if r["Properties"].(obj)["RouteKey"] == AnyRouteKey {
			anyRoute = id
		}
	}
	if !slices.Contains(asList(stage["DependsOn"]), interface{}(anyRoute)) {
		t.Errorf("stage DependsOn %s, want the ANY route %s", canonical(t, stage["DependsOn"]), anyRoute)
	}
}

func TestGatewayMetricFilters(t *testing.T) {
	tmpl := synth(t, "standalone").json
	fnGroup := functionLogGroup(t, tmpl)
	got := map[string]string{}
	for _, r := range resourcesOfType(tmpl, "AWS::Logs::MetricFilter") {
		p := r["Properties"].(obj)
		if canonical(t, p["LogGroupName"]) == canonical(t, obj{"Ref": fnGroup}) {
			continue
		}
		mt := p["MetricTransformations"].(arr)[0].(obj)
		if mt["MetricNamespace"] != "VprStatus/test" || mt["MetricValue"] != "1" || mt["DefaultValue"] != 0.0 || mt["Unit"] != "Count" {
			t.Errorf("%v: transformation %s", mt["MetricName"], canonical(t, mt))
		}
		got[mt["MetricName"].(string)] = p["FilterPattern"].(string)
	}
	want := map[string]string{
		"GatewayRequests":           `{ $.status > 0 }`,
		"GatewayThrottled":          `{ $.status = 429 && $.integrationStatus = "-" }`,
		"GatewayThrottledPolls":     `{ $.status = 429 && $.integrationStatus = "-" && ($.httpMethod = "GET" || $.httpMethod = "HEAD") }`,
		"GatewayAuthorizerRejected": `{ ($.status = 401 || $.status = 403) && $.integrationStatus = "-" }`,
		"GatewayIntegrationFailed":  `{ $.status >= 500 && ($.integrationStatus != "200" || $.integrationErrorMessage != "-") }`,
	}
	if canonical(t, got) != canonical(t, want) {
		t.Errorf("access log metric filters:\ngot  %s\nwant %s", canonical(t, got), canonical(t, want))
	}
}

func TestGatewayAlarms(t *testing.T) {
	tpl, _ := template(t)
	stat := func(name string) obj {
		return obj{"Metric": obj{"Namespace": "VprStatus/test", "MetricName": name}, "Period": 300, "Stat": "Sum"}
	}
	for alarm, part := range map[string]string{"-gateway-throttling": "GatewayThrottledPolls", "-integration-failures": "GatewayIntegrationFailed"} {
		check(t, func() {
			tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), obj{
				"AlarmName": testAlarmPrefix + alarm,
				// The 5xx share's shape: a share of the requests, 0 % below
				// the volume floor, 2 of 3 five-minute periods.
				"Metrics": assertions.Match_ArrayEquals(&arr{
					obj{"Id": "expr_1", "Expression": "IF(requests >= 20, 100 * FILL(part, 0) / requests, 0)", "ReturnData": true, "Label": assertions.Match_AnyValue()},
					obj{"Id": "part", "MetricStat": stat(part), "ReturnData": false},
					obj{"Id": "requests", "MetricStat": stat("GatewayRequests"), "ReturnData": false},
				}),
				"ComparisonOperator": "GreaterThanThreshold", "Threshold": 1,
				"EvaluationPeriods": 3, "DatapointsToAlarm": 2, "TreatMissingData": "notBreaching",
			})
		})
	}
	// Attach mode: the stage and its access log are the owner's.
	alarms, _ := alarmsByName(t, synth(t, "attach").json)
	for _, suffix := range []string{"-gateway-throttling", "-integration-failures"} {
		if _, ok := alarms[testAlarmPrefix+suffix]; ok {
			t.Errorf("attach mode has %s", suffix)
		}
	}
}

// Sample access log lines, as the AccessLogFormat renders them for each kind
// of answer, with what API Gateway documents for the variables (an
// integration status is Lambda's answer to Invoke; "-" where a variable has
// no value). Not captured from a deployed API.
var accessLogSamples = map[string]map[string]interface{}{
	"poll answered 202":        {"status": 202.0, "httpMethod": "GET", "integrationStatus": "200", "integrationErrorMessage": "-", "authorizerError": "-"},
	"stage throttled a poll":   {"status": 429.0, "httpMethod": "GET", "integrationStatus": "-", "integrationErrorMessage": "-", "errorMessage": "Too Many Requests"},
	"stage throttled ANY":      {"status": 429.0, "httpMethod": "DELETE", "integrationStatus": "-", "integrationErrorMessage": "-", "errorMessage": "Too Many Requests"},
	"per-user 429":             {"status": 429.0, "httpMethod": "GET", "integrationStatus": "200", "integrationErrorMessage": "-"},
	"authorizer refused":       {"status": 401.0, "httpMethod": "GET", "integrationStatus": "-", "integrationErrorMessage": "-", "authorizerError": "-", "errorMessage": "Unauthorized"},
	"service 401 (iss)":        {"status": 401.0, "httpMethod": "GET", "integrationStatus": "200", "integrationErrorMessage": "-"},
	"service 500":              {"status": 500.0, "httpMethod": "GET", "integrationStatus": "200", "integrationErrorMessage": "-"},
	"service 503":              {"status": 503.0, "httpMethod": "GET", "integrationStatus": "200", "integrationErrorMessage": "-"},
	"function timed out":       {"status": 500.0, "httpMethod": "GET", "integrationStatus": "200", "integrationErrorMessage": "The Lambda function returned the following error: Task timed out after 10.00 seconds"},
	"Lambda throttled invoke":  {"status": 500.0, "httpMethod": "GET", "integrationStatus": "429", "integrationErrorMessage": "Rate Exceeded."},
	"invoke permission denied": {"status": 500.0, "httpMethod": "HEAD", "integrationStatus": "-", "integrationErrorMessage": "Invalid permissions on Lambda function"},
}

func TestGatewayFilterPatternsOnSampleLines(t *testing.T) {
	want := map[string][]string{
		patternGatewayRequests:           {"poll answered 202", "stage throttled a poll", "stage throttled ANY", "per-user 429", "authorizer refused", "service 401 (iss)", "service 500", "service 503", "function timed out", "Lambda throttled invoke", "invoke permission denied"},
		patternGatewayThrottled:          {"stage throttled a poll", "stage throttled ANY"},
		patternGatewayThrottledPolls:     {"stage throttled a poll"},
		patternGatewayAuthorizerRejected: {"authorizer refused"},
		patternGatewayIntegrationFailed:  {"function timed out", "Lambda throttled invoke", "invoke permission denied"},
	}
	for pattern, matches := range want {
		var got []string
		for name, line := range accessLogSamples {
			ok, err := matchJSONPattern(pattern, line)
			if err != nil {
				t.Fatalf("%s: %v", pattern, err)
			}
			if ok {
				got = append(got, name)
			}
		}
		slices.Sort(got)
		slices.Sort(matches)
		if !slices.Equal(got, matches) {
			t.Errorf("%s matches\n  %q\nwant\n  %q", pattern, got, matches)
		}
	}
}

// matchJSONPattern evaluates the part of CloudWatch Logs' JSON filter
// pattern syntax the stack uses: { … } around comparisons of $.field with a
// number or a quoted string, joined with && and ||, in parentheses.
func matchJSONPattern(pattern string, line map[string]interface{}) (bool, error) {
	p := strings.TrimSpace(pattern)
	if !strings.HasPrefix(p, "{") || !strings.HasSuffix(p, "}") {
		return false, errors.New("not a JSON pattern")
	}
	toks := filterToken.FindAllString(p[1:len(p)-1], -1)
	pos := 0
	peek := func() string {
		if pos < len(toks) {
			return toks[pos]
		}
		return ""
	}
	var or func() (bool, error)
	term := func() (bool, error) {
		if peek() == "(" {
			pos++
			v, err := or()
			if err != nil {
				return false, err
			}
			if peek() != ")" {
				return false, errors.New("missing )")
			}
			pos++
			return v, nil
		}
		if pos+3 > len(toks) || !strings.HasPrefix(toks[pos], "$.") {
			return false, fmt.Errorf("want a comparison at %q", peek())
		}
		field, op, lit := toks[pos][2:], toks[pos+1], toks[pos+2]
		pos += 3
		value, ok := line[field]
		if !ok {
			return false, nil
		}
		if strings.HasPrefix(lit, `"`) {
			s, isString := value.(string)
			eq := isString && s == strings.Trim(lit, `"`)
			switch op {
			case "=":
				return eq, nil
			case "!=":
				return isString && !eq, nil
			}
			return false, fmt.Errorf("%s on a string", op)
		}
		n, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			return false, err
		}
		v, isNumber := value.(float64)
		if !isNumber {
			return false, nil
		}
		switch op {
		case "=":
			return v == n, nil
		case "!=":
			return v != n, nil
		case ">":
			return v > n, nil
		case ">=":
			return v >= n, nil
		case "<":
			return v < n, nil
		case "<=":
			return v <= n, nil
		}
		return false, fmt.Errorf("operator %q", op)
	}
	and := func() (bool, error) {
		v, err := term()
		for err == nil && peek() == "&&" {
			pos++
			var w bool
			w, err = term()
			v = v && w
		}
		return v, err
	}
	or = func() (bool, error) {
		v, err := and()
		for err == nil && peek() == "||" {
			pos++
			var w bool
			w, err = and()
			v = v || w
		}
		return v, err
	}
	v, err := or()
	if err == nil && pos != len(toks) {
		err = fmt.Errorf("trailing %q", toks[pos:])
	}
	return v, err
}

var filterToken = regexp.MustCompile(`\$\.[A-Za-z0-9_.]+|"[^"]*"|&&|\|\||!=|>=|<=|[=<>()]|-?[0-9]+(?:\.[0-9]+)?`)
