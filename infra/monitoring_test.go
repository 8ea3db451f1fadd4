package main

import (
	"slices"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

const testAlarmPrefix = "careervp-vpr-status-test"

// onlyID returns the logical id of the one resource of type typ.
func onlyID(t *testing.T, tmpl map[string]interface{}, typ string) string {
	t.Helper()
	rs := resourcesOfType(tmpl, typ)
	if len(rs) != 1 {
		t.Fatalf("want 1 %s, got %d", typ, len(rs))
	}
	for id := range rs {
		return id
	}
	panic("unreachable")
}

// alarmsByName returns the properties of the metric and composite alarms by
// name, and their logical ids.
func alarmsByName(t *testing.T, tmpl map[string]interface{}) (props map[string]obj, ids map[string]string) {
	t.Helper()
	props, ids = map[string]obj{}, map[string]string{}
	for _, typ := range []string{"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"} {
		for id, r := range resourcesOfType(tmpl, typ) {
			p := r["Properties"].(obj)
			name, _ := p["AlarmName"].(string)
			if name == "" {
				t.Fatalf("%s %s has no AlarmName", typ, id)
			}
			props[name], ids[name] = p, id
		}
	}
	return props, ids
}

// functionLogGroup returns the logical id of the log group the function
// writes to (its LoggingConfig).
func functionLogGroup(t *testing.T, tmpl map[string]interface{}) string {
	t.Helper()
	fn := resourcesOfType(tmpl, "AWS::Lambda::Function")
	// The deprecated logRetention custom resource would add a function of
	// its own.
	if len(fn) != 1 {
		t.Fatalf("want 1 Lambda function, got %d", len(fn))
	}
	for id, r := range fn {
		ref, _ := r["Properties"].(obj)["LoggingConfig"].(obj)["LogGroup"].(obj)
		group, _ := ref["Ref"].(string)
		if _, ok := resourcesOfType(tmpl, "AWS::Logs::LogGroup")[group]; !ok {
			t.Fatalf("%s LoggingConfig %s names no log group of the stack", id, canonical(t, r["Properties"].(obj)["LoggingConfig"]))
		}
		return group
	}
	panic("unreachable")
}

func TestLogGroupRetention(t *testing.T) {
	// The function's, and in standalone mode the stage's access log.
	for name, groups := range map[string]int{"standalone": 2, "attach": 1, "attach-authorizer": 1} {
		t.Run(name, func(t *testing.T) {
			tmpl := synth(t, name).json
			got := resourcesOfType(tmpl, "AWS::Logs::LogGroup")
			if len(got) != groups {
				t.Errorf("want %d log groups, got %d", groups, len(got))
			}
			for id, r := range got {
				if days := r["Properties"].(obj)["RetentionInDays"]; days != 90.0 {
					t.Errorf("%s: RetentionInDays %v, want 90", id, days)
				}
				if r["DeletionPolicy"] != "Retain" {
					t.Errorf("%s: DeletionPolicy %v, want Retain", id, r["DeletionPolicy"])
				}
			}
			functionLogGroup(t, tmpl)
		})
	}
}

func TestMetricFilters(t *testing.T) {
	// In attach mode, so that only the request log's filters are there.
	tmpl := synth(t, "attach").json
	group := functionLogGroup(t, tmpl)
	ns := "VprStatus/test"
	count := func(name, pattern string) string {
		return canonical(t, obj{
			"FilterPattern": pattern,
			"LogGroupName":  obj{"Ref": group},
			"MetricTransformations": arr{obj{
				"MetricName": name, "MetricNamespace": ns, "MetricValue": "1", "DefaultValue": 0, "Unit": "Count",
			}},
		})
	}
	want := []string{
		count("Requests", `{ $.msg = "request" }`),
		count("Responses5xx", `{ $.msg = "request" && $.status >= 500 }`),
		count("Responses503", `{ $.msg = "request" && $.status = 503 }`),
		count("Responses410", `{ $.msg = "request" && $.status = 410 }`),
		count("Responses429", `{ $.msg = "request" && $.status = 429 }`),
		// No DefaultValue: zeros would distort the percentiles.
		canonical(t, obj{
			"FilterPattern": `{ $.msg = "request" }`,
			"LogGroupName":  obj{"Ref": group},
			"MetricTransformations": arr{obj{
				"MetricName": "Duration", "MetricNamespace": ns, "MetricValue": "$.duration_ms", "Unit": "Milliseconds",
			}},
		}),
	}
	var got []string
	for _, r := range resourcesOfType(tmpl, "AWS::Logs::MetricFilter") {
		got = append(got, canonical(t, r["Properties"]))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("metric filters:\ngot  %q\nwant %q", got, want)
	}
}

// functionMetric is the part of a metric alarm that names a metric of the
// stack's function.
func functionMetric(t *testing.T, tmpl map[string]interface{}, name string) obj {
	t.Helper()
	return obj{
		"Namespace":  "AWS/Lambda",
		"MetricName": name,
		"Dimensions": arr{obj{"Name": "FunctionName", "Value": obj{"Ref": onlyID(t, tmpl, "AWS::Lambda::Function")}}},
	}
}

func TestAlarmFunctionErrors(t *testing.T) {
	tpl, tmpl := template(t)
	props := functionMetric(t, tmpl, "Errors")
	for k, v := range (obj{
		"AlarmName": testAlarmPrefix + "-function-errors", "Statistic": "Sum", "Period": 300,
		"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 1,
		"EvaluationPeriods": 3, "DatapointsToAlarm": 2, "TreatMissingData": "notBreaching",
	}) {
		props[k] = v
	}
	check(t, func() { tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), props) })
}

func TestAlarmFunctionThrottles(t *testing.T) {
	tpl, tmpl := template(t)
	props := functionMetric(t, tmpl, "Throttles")
	for k, v := range (obj{
		"AlarmName": testAlarmPrefix + "-function-throttles", "Statistic": "Sum", "Period": 300,
		"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 1,
		"EvaluationPeriods": 3, "DatapointsToAlarm": 2, "TreatMissingData": "notBreaching",
	}) {
		props[k] = v
	}
	check(t, func() { tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), props) })
}

func TestAlarm5xxShare(t *testing.T) {
	tpl, _ := template(t)
	stat := func(name string) obj {
		return obj{"Metric": obj{"Namespace": "VprStatus/test", "MetricName": name}, "Period": 300, "Stat": "Sum"}
	}
	check(t, func() {
		tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), obj{
			"AlarmName": testAlarmPrefix + "-5xx-share",
			// A share in percent, over periods of at least 20 requests.
			"Metrics": assertions.Match_ArrayEquals(&arr{
				obj{"Id": "expr_1", "Expression": "IF(requests >= 20, 100 * FILL(failures, 0) / requests, 0)", "ReturnData": true, "Label": assertions.Match_AnyValue()},
				obj{"Id": "failures", "MetricStat": stat("Responses5xx"), "ReturnData": false},
				obj{"Id": "requests", "MetricStat": stat("Requests"), "ReturnData": false},
			}),
			"ComparisonOperator": "GreaterThanThreshold",
			"Threshold":          5,
			"EvaluationPeriods":  3,
			"DatapointsToAlarm":  2,
			"TreatMissingData":   "notBreaching",
		})
	})
}

func TestAlarm410Surge(t *testing.T) {
	_, tmpl := template(t)
	alarms, ids := alarmsByName(t, tmpl)
	band, volume, surge := alarms[testAlarmPrefix+"-410-above-band"], alarms[testAlarmPrefix+"-410-volume"], alarms[testAlarmPrefix+"-410-surge"]
	if band == nil || volume == nil || surge == nil {
		t.Fatalf("410 alarms: above-band %v, volume %v, surge %v", band != nil, volume != nil, surge != nil)
	}
	gone := obj{"Metric": obj{"Namespace": "VprStatus/test", "MetricName": "Responses410"}, "Period": 900, "Stat": "Sum"}
	for _, c := range []struct {
		name string
		got  interface{}
		want interface{}
	}{
		{"band metrics", band["Metrics"], arr{
			obj{"Id": "expr_1", "Expression": "ANOMALY_DETECTION_BAND(m0, 3)", "Label": "Anomaly Detection Band", "ReturnData": true},
			obj{"Id": "m0", "MetricStat": gone, "ReturnData": true},
		}},
		{"band threshold", band["ThresholdMetricId"], "expr_1"},
		{"band operator", band["ComparisonOperator"], "GreaterThanUpperThreshold"},
		{"band periods", []interface{}{band["EvaluationPeriods"], band["DatapointsToAlarm"]}, arr{2, 2}},
		{"band missing data", band["TreatMissingData"], "notBreaching"},
		{"volume metric", []interface{}{volume["Namespace"], volume["MetricName"], volume["Statistic"], volume["Period"]}, arr{"VprStatus/test", "Responses410", "Sum", 900}},
		{"volume threshold", []interface{}{volume["ComparisonOperator"], volume["Threshold"]}, arr{"GreaterThanOrEqualToThreshold", 10}},
		{"volume periods", []interface{}{volume["EvaluationPeriods"], volume["DatapointsToAlarm"]}, arr{2, 2}},
		{"volume missing data", volume["TreatMissingData"], "notBreaching"},
		// Both at once: far above the band, and not a handful.
		{"surge rule", surge["AlarmRule"], obj{"Fn::Join": arr{"", arr{
			`(ALARM("`, obj{"Fn::GetAtt": arr{ids[testAlarmPrefix+"-410-above-band"], "Arn"}}, `") AND ALARM("`, obj{"Fn::GetAtt": arr{ids[testAlarmPrefix+"-410-volume"], "Arn"}}, `"))`,
		}}}},
	} {
		if got, want := canonical(t, c.got), canonical(t, c.want); got != want {
			t.Errorf("%s: got %s, want %s", c.name, got, want)
		}
	}
}

func TestAlarmDurationP99NearTimeout(t *testing.T) {
	tpl, tmpl := template(t)
	var timeout float64
	for _, r := range resourcesOfType(tmpl, "AWS::Lambda::Function") {
		timeout = r["Properties"].(obj)["Timeout"].(float64)
	}
	if timeout == 0 {
		t.Fatal("function has no Timeout")
	}
	props := functionMetric(t, tmpl, "Duration")
	for k, v := range (obj{
		"AlarmName": testAlarmPrefix + "-duration-p99", "ExtendedStatistic": "p99", "Period": 300,
		"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": timeout * 1000 * 0.8,
		"EvaluationPeriods": 3, "DatapointsToAlarm": 2, "TreatMissingData": "notBreaching",
		"EvaluateLowSampleCountPercentile": "evaluate",
	}) {
		props[k] = v
	}
	check(t, func() { tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), props) })
}

func TestAlarmsWithoutTopicHaveNoActions(t *testing.T) {
	_, tmpl := template(t)
	alarms, _ := alarmsByName(t, tmpl)
	// 7 on the function and its log, 2 on the stage's access log, 2 that
	// CodeDeploy reads.
	if len(alarms) != 11 {
		t.Errorf("want 11 alarms, got %d", len(alarms))
	}
	for name, a := range alarms {
		for _, k := range []string{"AlarmActions", "OKActions", "InsufficientDataActions"} {
			if v, ok := a[k]; ok {
				t.Errorf("%s: %s %s, want none without a topic", name, k, canonical(t, v))
			}
		}
	}
}

func TestAlarmTopicNotifiedOnAlarmAndOK(t *testing.T) {
	props := testProps()
	props.AlarmTopicArn = testTopic
	var tpl assertions.Template
	check(t, func() {
		tpl = assertions.Template_FromStack(NewStatusStack(newTestApp(t, nil), "with-topic", props), nil)
	})
	alarms, _ := alarmsByName(t, *tpl.ToJSON())
	notifying := []string{"-function-errors", "-function-throttles", "-5xx-share", "-410-surge", "-duration-p99", "-gateway-throttling", "-integration-failures"}
	// The composite's parts: it notifies for them. The rollout alarms
	// stop a deployment, which fails the stack update: the deployer sees it.
	silent := []string{"-410-above-band", "-410-volume", "-new-version-errors", "-rollout-5xx-share"}
	if len(alarms) != len(notifying)+len(silent) {
		t.Errorf("want %d alarms, got %d", len(notifying)+len(silent), len(alarms))
	}
	topic := canonical(t, arr{testTopic})
	for _, suffix := range notifying {
		a := alarms[testAlarmPrefix+suffix]
		if a == nil {
			t.Errorf("no alarm %s", suffix)
			continue
		}
		for _, k := range []string{"AlarmActions", "OKActions"} {
			if got := canonical(t, a[k]); got != topic {
				t.Errorf("%s %s: %s, want %s", suffix, k, got, topic)
			}
		}
	}
	for _, suffix := range silent {
		a := alarms[testAlarmPrefix+suffix]
		if a == nil {
			t.Errorf("no alarm %s", suffix)
			continue
		}
		if _, ok := a["AlarmActions"]; ok {
			t.Errorf("%s has actions; only the composite should notify", suffix)
		}
	}
}

func TestValidateRejectsBadAlarmTopic(t *testing.T) {
	for _, arn := range []string{"vpr-ops", "arn:aws:sqs:eu-west-1:123456789012:ops", "arn:aws:sns:eu-west-1:123:ops", "arn:aws:sns:eu-west-1:123456789012:"} {
		props := testProps()
		props.AlarmTopicArn = arn
		if err := props.Validate(); err == nil {
			t.Errorf("AlarmTopicArn %q: no error", arn)
		}
	}
}

func TestValidateRejectsBadLogRetention(t *testing.T) {
	for _, days := range []int{0, -30, 31, 10000} {
		props := testProps()
		props.LogRetentionDays = days
		if err := props.Validate(); err == nil {
			t.Errorf("LogRetentionDays %d: no error", days)
		}
	}
}

func TestValidateRejectsLogLevelTheServiceRefuses(t *testing.T) {
	for _, level := range []string{"verbose", "trace", "inf"} {
		props := testProps()
		props.LogLevel = level
		if err := props.Validate(); err == nil {
			t.Errorf("LogLevel %q: no error", level)
		}
	}
}

func TestLogLevelAboveInfoWarnsThatMetricsGoDark(t *testing.T) {
	for level, warns := range map[string]bool{"warn": true, "ERROR": true, "info": false, "DEBUG": false, "": false} {
		props := testProps()
		props.LogLevel = level
		var anns assertions.Annotations
		check(t, func() {
			anns = assertions.Annotations_FromStack(NewStatusStack(newTestApp(t, nil), "level", props))
		})
		pattern := assertions.Match_StringLikeRegexp(jsii.String(".*turns the request log lines off.*"))
		if warns {
			check(t, func() { anns.HasWarning(jsii.String("*"), pattern) })
		} else {
			check(t, func() { anns.HasNoWarning(jsii.String("*"), pattern) })
		}
	}
}
