package main

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// nagFindings returns cdk-nag's unsuppressed errors and warnings on stack,
// as "path: message".
func nagFindings(t *testing.T, stack awscdk.Stack) []string {
	t.Helper()
	var out []string
	check(t, func() {
		anns := assertions.Annotations_FromStack(stack)
		pattern := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
		for _, msgs := range []*[]*cxapi.SynthesisMessage{anns.FindError(jsii.String("*"), pattern), anns.FindWarning(jsii.String("*"), pattern)} {
			for _, m := range *msgs {
				out = append(out, *m.Id+": "+firstLine(m.Entry.Data))
			}
		}
	})
	sort.Strings(out)
	return out
}

func firstLine(v interface{}) string {
	s, _ := v.(string)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func TestCdkNagAwsSolutions(t *testing.T) {
	for name := range configurations {
		t.Run(name, func(t *testing.T) {
			for _, f := range nagFindings(t, synth(t, name).stack) {
				t.Error(f)
			}
		})
	}
}

// The check above must be able to fail: the same pack, run the same way,
// reports a policy with a wildcard action.
func TestCdkNagReportsFindings(t *testing.T) {
	app := newTestApp(t, nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true), Reports: jsii.Bool(false)}), nil)
	stack := awscdk.NewStack(app, jsii.String("nag-canary"), nil)
	role := awsiam.NewRole(stack, jsii.String("Role"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil)})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings("s3:*"), Resources: jsii.Strings("*")}))
	got := nagFindings(t, stack)
	if !slices.ContainsFunc(got, func(f string) bool { return strings.Contains(f, "AwsSolutions-IAM5") }) {
		t.Errorf("no AwsSolutions-IAM5 finding for s3:* on *: %q", got)
	}
}

// suppressions returns the cdk-nag suppressions in the template by logical
// id, each as "rule appliesTo…".
func suppressions(t *testing.T, tmpl map[string]interface{}) map[string][]string {
	t.Helper()
	if md, ok := tmpl["Metadata"].(obj); ok {
		if _, ok := md["cdk_nag"]; ok {
			t.Errorf("stack-wide cdk-nag suppressions: %s", canonical(t, md["cdk_nag"]))
		}
	}
	out := map[string][]string{}
	for id, r := range tmpl["Resources"].(obj) {
		md, _ := r.(obj)["Metadata"].(obj)
		nag, _ := md["cdk_nag"].(obj)
		for _, s := range asList(nag["rules_to_suppress"]) {
			s := s.(obj)
			reason, _ := s["reason"].(string)
			// A reason that says why it is safe, not a placeholder.
			if len(reason) < 60 {
				t.Errorf("%s %v: reason %q is too short to say why it is safe", id, s["id"], reason)
			}
			entry := s["id"].(string)
			for _, a := range asList(s["applies_to"]) {
				entry += " " + a.(string)
			}
			out[id] = append(out[id], entry)
		}
	}
	return out
}

func TestCdkNagSuppressionsEachOnOneResource(t *testing.T) {
	for name := range configurations {
		t.Run(name, func(t *testing.T) {
			tmpl := synth(t, name).json
			got := suppressions(t, tmpl)
			fnPolicy := ""
			for id := range resourcesOfType(tmpl, "AWS::IAM::Policy") {
				fnPolicy = id
			}
			deployRole, _ := roleOf(t, tmpl, "codedeploy.amazonaws.com")
			anyRoute := ""
			for id, r := range resourcesOfType(tmpl, "AWS::ApiGatewayV2::Route") {
				if r["Properties"].(obj)["RouteKey"] == AnyRouteKey {
					anyRoute = id
				}
			}
			want := map[string][]string{
				fnPolicy: {
					"AwsSolutions-IAM5 Resource::*",
					"AwsSolutions-IAM5 Resource::arn:<AWS::Partition>:s3:::" + testBucket + "/*",
				},
				deployRole: {"AwsSolutions-IAM4 Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited"},
				anyRoute:   {"AwsSolutions-APIG4"},
			}
			if g, w := canonical(t, sortedValues(got)), canonical(t, sortedValues(want)); g != w {
				t.Errorf("suppressions:\ngot  %s\nwant %s", g, w)
			}
		})
	}
}

func sortedValues(m map[string][]string) map[string][]string {
	for _, v := range m {
		sort.Strings(v)
	}
	return m
}
