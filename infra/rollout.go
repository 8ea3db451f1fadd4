package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/jsii-runtime-go"
)

// DefaultDeployment is the deployment configuration when the context sets
// none: 10 % of the traffic to the new version for 5 minutes, then all.
const DefaultDeployment = "Canary10Percent5Minutes"

// deploymentConfigs are CodeDeploy's predefined Lambda deployment
// configurations, named as CodeDeploy names them without the
// "CodeDeployDefault.Lambda" prefix.
var deploymentConfigs = map[string]func() awscodedeploy.ILambdaDeploymentConfig{
	"AllAtOnce":                     awscodedeploy.LambdaDeploymentConfig_ALL_AT_ONCE,
	"Canary10Percent5Minutes":       awscodedeploy.LambdaDeploymentConfig_CANARY_10PERCENT_5MINUTES,
	"Canary10Percent10Minutes":      awscodedeploy.LambdaDeploymentConfig_CANARY_10PERCENT_10MINUTES,
	"Canary10Percent15Minutes":      awscodedeploy.LambdaDeploymentConfig_CANARY_10PERCENT_15MINUTES,
	"Canary10Percent30Minutes":      awscodedeploy.LambdaDeploymentConfig_CANARY_10PERCENT_30MINUTES,
	"Linear10PercentEvery1Minute":   awscodedeploy.LambdaDeploymentConfig_LINEAR_10PERCENT_EVERY_1MINUTE,
	"Linear10PercentEvery2Minutes":  awscodedeploy.LambdaDeploymentConfig_LINEAR_10PERCENT_EVERY_2MINUTES,
	"Linear10PercentEvery3Minutes":  awscodedeploy.LambdaDeploymentConfig_LINEAR_10PERCENT_EVERY_3MINUTES,
	"Linear10PercentEvery10Minutes": awscodedeploy.LambdaDeploymentConfig_LINEAR_10PERCENT_EVERY_10MINUTES,
}

// deploymentConfigPrefix is what CodeDeploy's full names add; the context
// value may carry it.
const deploymentConfigPrefix = "CodeDeployDefault.Lambda"

// DeploymentConfigNames lists the names the context value deployment takes.
func DeploymentConfigNames() []string {
	names := make([]string, 0, len(deploymentConfigs))
	for n := range deploymentConfigs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func lambdaDeploymentConfig(name string) (func() awscodedeploy.ILambdaDeploymentConfig, bool) {
	c, ok := deploymentConfigs[strings.TrimPrefix(name, deploymentConfigPrefix)]
	return c, ok
}

// Rollout alarms: one-minute periods, because the default canary lasts 5
// minutes and CodeDeploy reads alarms only while it shifts; the paging
// alarms (five-minute periods, 2 of 3) need 10 minutes or more.
const (
	rolloutPeriodMinutes = 1
	rolloutEvaluations   = 3
	rolloutDatapoints    = 2
)

// addRollout adds the CodeDeploy application and deployment group that
// shift the live alias to each new version, and the alarms that stop the
// shift and roll it back.
func addRollout(stack awscdk.Stack, props *StatusStackProps, prefix string, fn awslambda.Function, alias awslambda.Alias, m requestMetrics) awscodedeploy.LambdaDeploymentGroup {
	config, _ := lambdaDeploymentConfig(props.Deployment)
	period := awscdk.Duration_Minutes(jsii.Number(rolloutPeriodMinutes))

	// Errors of the new version only: Lambda reports an alias's
	// invocations by the version that ran them (dimension ExecutedVersion
	// with Resource <function>:<alias>). The version number is that of
	// this deployment, so the alarm is updated before the alias is, and
	// the old version's errors (a broken version being replaced) cannot
	// stop the deployment of its fix. The Resource value is built from the
	// function's name, not the alias's ARN: the alias depends on the
	// deployment group (UpdatePolicy), which depends on this alarm.
	version := fn.CurrentVersion()
	newVersionErrors := awscloudwatch.NewAlarm(stack, jsii.String("NewVersionErrorsAlarm"), &awscloudwatch.AlarmProps{
		AlarmName: jsii.String(prefix + "-new-version-errors"),
		AlarmDescription: jsii.String(fmt.Sprintf("The version being deployed failed invocations through the %s alias in %d of the last %d minutes: CodeDeploy stops the shift and moves the alias back. See infra/README.md, Rollouts.",
			AliasName, rolloutDatapoints, rolloutEvaluations)),
		Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:  jsii.String("AWS/Lambda"),
			MetricName: jsii.String("Errors"),
			DimensionsMap: &map[string]*string{
				"FunctionName":    fn.FunctionName(),
				"Resource":        awscdk.Fn_Join(jsii.String(""), &[]*string{fn.FunctionName(), jsii.String(":" + AliasName)}),
				"ExecutedVersion": version.Version(),
			},
			Statistic: jsii.String("Sum"),
			Period:    period,
		}),
		Threshold:          jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		EvaluationPeriods:  jsii.Number(rolloutEvaluations),
		DatapointsToAlarm:  jsii.Number(rolloutDatapoints),
		// The new version not invoked yet: nothing failed.
		TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
	})

	// The service's 5xx answers cannot be told apart by version (the
	// request log line names none), so this one watches the function as a
	// whole, over one-minute periods: at a 10 % canary, a version that
	// answers every request with a 5xx already puts the share at 10 %.
	share := shareOf(m.requests, "failures", m.fiveXX, "5xx answers, % of requests, per minute", period)
	rollout5xx := awscloudwatch.NewAlarm(stack, jsii.String("Rollout5xxShareAlarm"), &awscloudwatch.AlarmProps{
		AlarmName: jsii.String(prefix + "-rollout-5xx-share"),
		AlarmDescription: jsii.String(fmt.Sprintf("More than %d %% of requests got a 5xx in %d of the last %d minutes (minutes with fewer than %d requests count as 0 %%): during a deployment, CodeDeploy stops the shift and moves the alias back. See infra/README.md, Rollouts.",
			fiveXXSharePercent, rolloutDatapoints, rolloutEvaluations, fiveXXMinRequests)),
		Metric:             share,
		Threshold:          jsii.Number(fiveXXSharePercent),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(rolloutEvaluations),
		DatapointsToAlarm:  jsii.Number(rolloutDatapoints),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})

	application := awscodedeploy.NewLambdaApplication(stack, jsii.String("DeploymentApplication"), &awscodedeploy.LambdaApplicationProps{
		ApplicationName: jsii.String(prefix),
	})
	// The group's role gets AWSCodeDeployRoleForLambdaLimited. A role of
	// our own whose policy names alias.FunctionArn() would make a cycle
	// (alias → group → role → alias), which CloudFormation rejects
	// (TestDependencyCycleFoundInTheAliasARNTrap).
	return awscodedeploy.NewLambdaDeploymentGroup(stack, jsii.String("DeploymentGroup"), &awscodedeploy.LambdaDeploymentGroupProps{
		Application:         application,
		DeploymentGroupName: jsii.String(prefix),
		Alias:               alias,
		DeploymentConfig:    config(),
		Alarms:              &[]interfacesawscloudwatch.IAlarmRef{newVersionErrors, rollout5xx},
		// With alarms, DEPLOYMENT_STOP_ON_ALARM too.
		AutoRollback: &awscodedeploy.AutoRollbackConfig{
			FailedDeployment:  jsii.Bool(true),
			StoppedDeployment: jsii.Bool(true),
			DeploymentInAlarm: jsii.Bool(true),
		},
	})
}
