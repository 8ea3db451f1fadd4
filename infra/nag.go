package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// nagSuppressions collects cdk-nag suppressions by resource and writes them
// as the resource metadata cdk-nag reads (cdk_nag.rules_to_suppress), the
// form NagSuppressions.addResourceSuppressions writes. Written by hand so
// that cdk-nag stays a test dependency (infra's tests run its
// AwsSolutionsChecks over every mode, and fail on any finding these do not
// cover). Each one sits on the one resource it concerns, never on the stack.
type nagSuppressions struct {
	order     []string // construct paths, in the order first seen
	resources map[string]awscdk.CfnResource
	rules     map[string][]map[string]interface{}
}

func newNagSuppressions() *nagSuppressions {
	return &nagSuppressions{resources: map[string]awscdk.CfnResource{}, rules: map[string][]map[string]interface{}{}}
}

// add suppresses rule on the CloudFormation resource of c (c itself or its
// default child), for the findings appliesTo names, or all of the rule's
// findings there when none is given.
func (n *nagSuppressions) add(c constructs.IConstruct, rule, reason string, appliesTo ...string) {
	res, ok := c.(awscdk.CfnResource)
	if !ok {
		res = c.Node().DefaultChild().(awscdk.CfnResource)
	}
	s := map[string]interface{}{"id": rule, "reason": reason}
	if len(appliesTo) > 0 {
		s["applies_to"] = appliesTo
	}
	path := *res.Node().Path()
	if _, seen := n.resources[path]; !seen {
		n.order = append(n.order, path)
		n.resources[path] = res
	}
	n.rules[path] = append(n.rules[path], s)
}

// write puts the suppressions into the resources' metadata.
func (n *nagSuppressions) write() {
	for _, path := range n.order {
		n.resources[path].AddMetadata(jsii.String("cdk_nag"), map[string]interface{}{"rules_to_suppress": n.rules[path]})
	}
}
