package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// only returns the logical id and properties of the one resource of type typ.
func only(t *testing.T, tmpl map[string]interface{}, typ string) (string, obj) {
	t.Helper()
	rs := resourcesOfType(tmpl, typ)
	if len(rs) != 1 {
		t.Fatalf("want 1 %s, got %d", typ, len(rs))
	}
	for id, r := range rs {
		return id, r
	}
	panic("unreachable")
}

func TestLiveAliasOnTheCurrentVersion(t *testing.T) {
	for name := range configurations {
		t.Run(name, func(t *testing.T) {
			tmpl := synth(t, name).json
			fn, _ := only(t, tmpl, "AWS::Lambda::Function")
			version, v := only(t, tmpl, "AWS::Lambda::Version")
			_, alias := only(t, tmpl, "AWS::Lambda::Alias")
			if got := canonical(t, v["Properties"].(obj)["FunctionName"]); got != canonical(t, obj{"Ref": fn}) {
				t.Errorf("version of %s, want the function", got)
			}
			// Kept when the next deploy replaces it: a rollback by hand
			// points the alias at it.
			if v["DeletionPolicy"] != "Retain" {
				t.Errorf("version DeletionPolicy %v, want Retain", v["DeletionPolicy"])
			}
			want := canonical(t, obj{"Name": "live", "FunctionName": obj{"Ref": fn}, "FunctionVersion": obj{"Fn::GetAtt": arr{version, "Version"}}})
			p := alias["Properties"].(obj)
			if got := canonical(t, obj{"Name": p["Name"], "FunctionName": p["FunctionName"], "FunctionVersion": p["FunctionVersion"]}); got != want {
				t.Errorf("alias %s, want %s", got, want)
			}
		})
	}
}

// Every integration and every invoke permission is the alias's, never the
// bare function's ($LATEST).
func TestIntegrationsInvokeTheAlias(t *testing.T) {
	for name := range configurations {
		t.Run(name, func(t *testing.T) {
			tmpl := synth(t, name).json
			alias, _ := only(t, tmpl, "AWS::Lambda::Alias")
			ref := canonical(t, obj{"Ref": alias})
			_, integration := only(t, tmpl, "AWS::ApiGatewayV2::Integration")
			if got := canonical(t, integration["Properties"].(obj)["IntegrationUri"]); got != ref {
				t.Errorf("IntegrationUri %s, want the alias %s", got, ref)
			}
			perms := resourcesOfType(tmpl, "AWS::Lambda::Permission")
			if len(perms) != 3 {
				t.Errorf("want 3 invoke permissions (one per route), got %d", len(perms))
			}
			for id, p := range perms {
				if got := canonical(t, p["Properties"].(obj)["FunctionName"]); got != ref {
					t.Errorf("%s: FunctionName %s, want the alias %s", id, got, ref)
				}
			}
		})
	}
}

func TestDeploymentGroupShiftsTheAliasAndRollsBackOnAlarm(t *testing.T) {
	for name, config := range map[string]string{"standalone": "Canary10Percent5Minutes", "attach": "AllAtOnce"} {
		t.Run(name, func(t *testing.T) {
			tmpl := synth(t, name).json
			groupID, group := only(t, tmpl, "AWS::CodeDeploy::DeploymentGroup")
			appID, app := only(t, tmpl, "AWS::CodeDeploy::Application")
			_, alias := only(t, tmpl, "AWS::Lambda::Alias")
			_, ids := alarmsByName(t, tmpl)
			p := group["Properties"].(obj)
			for _, c := range []struct {
				name      string
				got, want interface{}
			}{
				{"config", p["DeploymentConfigName"], "CodeDeployDefault.Lambda" + config},
				{"group name", p["DeploymentGroupName"], testAlarmPrefix},
				{"application", app["Properties"].(obj)["ApplicationName"], testAlarmPrefix},
				{"style", p["DeploymentStyle"], obj{"DeploymentOption": "WITH_TRAFFIC_CONTROL", "DeploymentType": "BLUE_GREEN"}},
				{"alarms", p["AlarmConfiguration"], obj{"Enabled": true, "Alarms": arr{
					obj{"Name": obj{"Ref": ids[testAlarmPrefix+"-new-version-errors"]}},
					obj{"Name": obj{"Ref": ids[testAlarmPrefix+"-rollout-5xx-share"]}},
				}}},
				{"rollback", p["AutoRollbackConfiguration"], obj{"Enabled": true, "Events": arr{"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST", "DEPLOYMENT_STOP_ON_ALARM"}}},
				// CloudFormation hands each change of the alias's version to
				// CodeDeploy instead of switching it at once.
				{"alias update policy", alias["UpdatePolicy"], obj{"CodeDeployLambdaAliasUpdate": obj{
					"ApplicationName": obj{"Ref": appID}, "DeploymentGroupName": obj{"Ref": groupID},
				}}},
			} {
				if got, want := canonical(t, c.got), canonical(t, c.want); got != want {
					t.Errorf("%s: got %s, want %s", c.name, got, want)
				}
			}
		})
	}
}

func TestNewVersionErrorsAlarmWatchesTheVersionBeingDeployed(t *testing.T) {
	tpl, tmpl := template(t)
	fn, _ := only(t, tmpl, "AWS::Lambda::Function")
	version, _ := only(t, tmpl, "AWS::Lambda::Version")
	check(t, func() {
		tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), obj{
			"AlarmName": testAlarmPrefix + "-new-version-errors",
			"Namespace": "AWS/Lambda", "MetricName": "Errors", "Statistic": "Sum", "Period": 60,
			// Lambda reports an alias's invocations by the version that ran
			// them.
			"Dimensions": assertions.Match_ArrayEquals(&arr{
				obj{"Name": "ExecutedVersion", "Value": obj{"Fn::GetAtt": arr{version, "Version"}}},
				obj{"Name": "FunctionName", "Value": obj{"Ref": fn}},
				obj{"Name": "Resource", "Value": obj{"Fn::Join": arr{"", arr{obj{"Ref": fn}, ":live"}}}},
			}),
			"ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 1,
			"EvaluationPeriods": 3, "DatapointsToAlarm": 2, "TreatMissingData": "notBreaching",
		})
	})
}

func TestRollout5xxShareAlarmPerMinute(t *testing.T) {
	tpl, _ := template(t)
	stat := func(name string) obj {
		return obj{"Metric": obj{"Namespace": "VprStatus/test", "MetricName": name}, "Period": 60, "Stat": "Sum"}
	}
	check(t, func() {
		tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), obj{
			"AlarmName": testAlarmPrefix + "-rollout-5xx-share",
			"Metrics": assertions.Match_ArrayEquals(&arr{
				obj{"Id": "expr_1", "Expression": "IF(requests >= 20, 100 * FILL(failures, 0) / requests, 0)", "ReturnData": true, "Label": assertions.Match_AnyValue()},
				obj{"Id": "failures", "MetricStat": stat("Responses5xx"), "ReturnData": false},
				obj{"Id": "requests", "MetricStat": stat("Requests"), "ReturnData": false},
			}),
			"ComparisonOperator": "GreaterThanThreshold", "Threshold": 5,
			"EvaluationPeriods": 3, "DatapointsToAlarm": 2, "TreatMissingData": "notBreaching",
		})
	})
}

func TestReservedConcurrency(t *testing.T) {
	for name, want := range map[string]interface{}{"standalone": nil, "attach": float64(testReserved)} {
		_, fn := only(t, synth(t, name).json, "AWS::Lambda::Function")
		if got := fn["Properties"].(obj)["ReservedConcurrentExecutions"]; got != want {
			t.Errorf("%s: ReservedConcurrentExecutions %v, want %v", name, got, want)
		}
	}
}

// CloudFormation rejects a template whose resources depend on each other in
// a circle; go run . and the CDK's assertions synthesize it without a word.
func TestTemplatesHaveNoDependencyCycles(t *testing.T) {
	for name := range configurations {
		t.Run(name, func(t *testing.T) {
			if c := dependencyCycle(synth(t, name).json); c != nil {
				t.Errorf("dependency cycle: %s", strings.Join(c, " → "))
			}
		})
	}
}

// The trap the check is for: a CodeDeploy role of one's own whose policy is
// scoped to the alias's ARN (alias → UpdatePolicy → deployment group →
// role → alias).
func TestDependencyCycleFoundInTheAliasARNTrap(t *testing.T) {
	stack := awscdk.NewStack(newTestApp(t, nil), jsii.String("trap"), nil)
	fn := awslambda.NewFunction(stack, jsii.String("Fn"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_PROVIDED_AL2023(), Handler: jsii.String("bootstrap"),
		Code: awslambda.Code_FromAsset(&assetDir, nil),
	})
	alias := awslambda.NewAlias(stack, jsii.String("Alias"), &awslambda.AliasProps{AliasName: jsii.String("live"), Version: fn.CurrentVersion()})
	role := awsiam.NewRole(stack, jsii.String("DeployRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("codedeploy.amazonaws.com"), nil),
		InlinePolicies: &map[string]awsiam.PolicyDocument{"alias": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
			Statements: &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions: jsii.Strings("lambda:UpdateAlias"), Resources: &[]*string{alias.FunctionArn()},
			})},
		})},
	})
	awscodedeploy.NewLambdaDeploymentGroup(stack, jsii.String("Group"), &awscodedeploy.LambdaDeploymentGroupProps{Alias: alias, Role: role})
	var tmpl map[string]interface{}
	check(t, func() { tmpl = *assertions.Template_FromStack(stack, nil).ToJSON() })
	if c := dependencyCycle(tmpl); c == nil {
		t.Error("no cycle found")
	}
}

func TestDependencyCycle(t *testing.T) {
	res := func(deps ...interface{}) obj { return obj{"Type": "X", "Properties": obj{"P": deps}} }
	for name, c := range map[string]struct {
		resources obj
		cycle     bool
	}{
		"chain":          {obj{"A": res(obj{"Ref": "B"}), "B": res(obj{"Fn::GetAtt": arr{"C", "Arn"}}), "C": res()}, false},
		"parameters":     {obj{"A": res(obj{"Ref": "AWS::Region"}, obj{"Ref": "NotAResource"})}, false},
		"ref":            {obj{"A": res(obj{"Ref": "B"}), "B": res(obj{"Ref": "A"})}, true},
		"self":           {obj{"A": res(obj{"Ref": "A"})}, true},
		"getatt string":  {obj{"A": res(obj{"Fn::GetAtt": "B.Arn"}), "B": res(obj{"Ref": "A"})}, true},
		"sub":            {obj{"A": res(obj{"Fn::Sub": "x-${B.Arn}-${AWS::Region}"}), "B": res(obj{"Ref": "A"})}, true},
		"depends on":     {obj{"A": obj{"Type": "X", "DependsOn": "B"}, "B": res(obj{"Ref": "A"})}, true},
		"update policy":  {obj{"A": obj{"Type": "X", "UpdatePolicy": obj{"U": obj{"Ref": "B"}}}, "B": res(obj{"Ref": "A"})}, true},
		"three, in turn": {obj{"A": res(obj{"Ref": "B"}), "B": res(obj{"Ref": "C"}), "C": res(obj{"Ref": "A"})}, true},
	} {
		if got := dependencyCycle(obj{"Resources": c.resources}); (got != nil) != c.cycle {
			t.Errorf("%s: cycle %q, want one: %v", name, got, c.cycle)
		}
	}
}

// dependencyCycle returns a cycle among the template's resources (the
// logical ids, the first repeated at the end), or nil. A resource depends
// on those its Properties, UpdatePolicy or CreationPolicy name with Ref,
// Fn::GetAtt or Fn::Sub, and those in its DependsOn.
func dependencyCycle(tmpl map[string]interface{}) []string {
	resources := tmpl["Resources"].(obj)
	deps := map[string][]string{}
	for id, r := range resources {
		r := r.(obj)
		var names []string
		for _, k := range []string{"Properties", "UpdatePolicy", "CreationPolicy"} {
			names = append(names, references(r[k])...)
		}
		for _, d := range asList(r["DependsOn"]) {
			names = append(names, d.(string))
		}
		for _, n := range names {
			if _, ok := resources[n]; ok && !slices.Contains(deps[id], n) {
				deps[id] = append(deps[id], n)
			}
		}
	}
	ids := make([]string, 0, len(resources))
	for id := range resources {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	const (
		unseen = iota
		open
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(string) []string
	visit = func(id string) []string {
		switch state[id] {
		case open:
			i := slices.Index(path, id)
			return append(slices.Clone(path[i:]), id)
		case done:
			return nil
		}
		state[id] = open
		path = append(path, id)
		for _, d := range deps[id] {
			if c := visit(d); c != nil {
				return c
			}
		}
		path = path[:len(path)-1]
		state[id] = done
		return nil
	}
	for _, id := range ids {
		if c := visit(id); c != nil {
			return c
		}
	}
	return nil
}

var subReference = regexp.MustCompile(`\$\{([A-Za-z0-9]+)(\.[A-Za-z0-9.]+)?\}`)

// references lists the logical ids (and pseudo parameters) v names.
func references(v interface{}) []string {
	var out []string
	switch v := v.(type) {
	case obj:
		for k, x := range v {
			switch k {
			case "Ref":
				out = append(out, fmt.Sprint(x))
			case "Fn::GetAtt":
				if s, ok := x.(string); ok {
					out = append(out, strings.SplitN(s, ".", 2)[0])
				} else if l := asList(x); len(l) > 0 {
					out = append(out, fmt.Sprint(l[0]))
				}
			case "Fn::Sub":
				s, _ := x.(string)
				if l := asList(x); len(l) > 0 {
					s, _ = l[0].(string)
					out = append(out, references(l[1:])...)
				}
				for _, m := range subReference.FindAllStringSubmatch(s, -1) {
					out = append(out, m[1])
				}
				continue
			}
			out = append(out, references(x)...)
		}
	case arr:
		for _, x := range v {
			out = append(out, references(x)...)
		}
	}
	return out
}
