package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
)

// Metrics from the request log (one JSON line per request with
// "msg":"request"; see README.md). Metric filters cannot give a metric a
// constant dimension (a dimension's value is read from a field of the log
// event, and the line names neither function nor environment), so each
// environment gets its own namespace, MetricNamespacePrefix + "/" + env,
// with dimension-free metrics.
const (
	MetricNamespacePrefix = "VprStatus"

	MetricRequests     = "Requests"
	MetricResponses5xx = "Responses5xx"
	MetricResponses503 = "Responses503"
	MetricResponses410 = "Responses410"
	MetricResponses429 = "Responses429"
	MetricDuration     = "Duration"
)

// Filter patterns over the request log line, as agreed with the service.
const (
	patternRequests = `{ $.msg = "request" }`
	pattern5xx      = `{ $.msg = "request" && $.status >= 500 }`
	pattern503      = `{ $.msg = "request" && $.status = 503 }`
	pattern410      = `{ $.msg = "request" && $.status = 410 }`
	pattern429      = `{ $.msg = "request" && $.status = 429 }`
)

// Alarm thresholds, documented in README.md ("Alarms").
const (
	alarmPeriodMinutes = 5
	// The share of 5xx is only computed over periods with at least this
	// many requests; quieter periods count as 0 %, so a lone failure at
	// night does not page.
	fiveXXMinRequests = 20
	// Percent of requests answered with a 5xx, strictly above which a
	// period breaches.
	fiveXXSharePercent = 5
	// 410s: a surge must leave the anomaly band and reach this count per
	// 15-minute period.
	goneStdDevs      = 3
	goneMinCount     = 10
	gonePeriodMinute = 15
	// p99 of the invocation duration, as a share of the function timeout.
	durationTimeoutShare = 0.8
)

// logRetention maps CloudWatch Logs' allowed retention periods, in days, to
// the CDK's names for them.
func logRetention(days int) (awslogs.RetentionDays, bool) {
	switch days {
	case 1:
		return awslogs.RetentionDays_ONE_DAY, true
	case 3:
		return awslogs.RetentionDays_THREE_DAYS, true
	case 5:
		return awslogs.RetentionDays_FIVE_DAYS, true
	case 7:
		return awslogs.RetentionDays_ONE_WEEK, true
	case 14:
		return awslogs.RetentionDays_TWO_WEEKS, true
	case 30:
		return awslogs.RetentionDays_ONE_MONTH, true
	case 60:
		return awslogs.RetentionDays_TWO_MONTHS, true
	case 90:
		return awslogs.RetentionDays_THREE_MONTHS, true
	case 120:
		return awslogs.RetentionDays_FOUR_MONTHS, true
	case 150:
		return awslogs.RetentionDays_FIVE_MONTHS, true
	case 180:
		return awslogs.RetentionDays_SIX_MONTHS, true
	case 365:
		return awslogs.RetentionDays_ONE_YEAR, true
	case 400:
		return awslogs.RetentionDays_THIRTEEN_MONTHS, true
	case 545:
		return awslogs.RetentionDays_EIGHTEEN_MONTHS, true
	case 731:
		return awslogs.RetentionDays_TWO_YEARS, true
	case 1096:
		return awslogs.RetentionDays_THREE_YEARS, true
	case 1827:
		return awslogs.RetentionDays_FIVE_YEARS, true
	case 2192:
		return awslogs.RetentionDays_SIX_YEARS, true
	case 2557:
		return awslogs.RetentionDays_SEVEN_YEARS, true
	case 2922:
		return awslogs.RetentionDays_EIGHT_YEARS, true
	case 3288:
		return awslogs.RetentionDays_NINE_YEARS, true
	case 3653:
		return awslogs.RetentionDays_TEN_YEARS, true
	}
	return "", false
}

// logsRequests reports whether LOG_LEVEL=level lets the service write its
// INFO request lines, which every log metric depends on. It parses the
// level as the service does (log/slog names, case-insensitive).
func logsRequests(level string) (bool, error) {
	var l slog.Level
	if level == "" {
		return true, nil
	}
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return false, err
	}
	return l <= slog.LevelInfo, nil
}

// requestMetrics are the metric filters' metrics.
type requestMetrics struct {
	requests, fiveXX, unavailable, gone, tooMany, duration awslogs.MetricFilter
}

// addRequestMetrics adds the metric filters over the request log.
func addRequestMetrics(stack awscdk.Stack, logGroup awslogs.ILogGroup, namespace string) requestMetrics {
	count := func(id, name, pattern string) awslogs.MetricFilter {
		return countFilter(stack, logGroup, namespace, id, name, pattern)
	}
	return requestMetrics{
		requests:    count("RequestsMetricFilter", MetricRequests, patternRequests),
		fiveXX:      count("Responses5xxMetricFilter", MetricResponses5xx, pattern5xx),
		unavailable: count("Responses503MetricFilter", MetricResponses503, pattern503),
		gone:        count("Responses410MetricFilter", MetricResponses410, pattern410),
		tooMany:     count("Responses429MetricFilter", MetricResponses429, pattern429),
		// No default value: a 0 for every other log line would distort
		// the percentiles.
		duration: awslogs.NewMetricFilter(stack, jsii.String("DurationMetricFilter"), &awslogs.MetricFilterProps{
			LogGroup:        logGroup,
			FilterPattern:   awslogs.FilterPattern_Literal(jsii.String(patternRequests)),
			MetricNamespace: &namespace,
			MetricName:      jsii.String(MetricDuration),
			MetricValue:     jsii.String("$.duration_ms"),
			Unit:            awscloudwatch.Unit_MILLISECONDS,
		}),
	}
}

// addAlarms adds the alarms on the function and the request metrics.
// Alarms that page get topic (when not nil) as their ALARM and OK action.
func addAlarms(stack awscdk.Stack, prefix string, fn awslambda.Function, timeout awscdk.Duration, m requestMetrics, topic awssns.ITopic) {
	period := awscdk.Duration_Minutes(jsii.Number(alarmPeriodMinutes))
	var paging []notifier
	page := func(a notifier) { paging = append(paging, a) }

	// Any invocation error means no answer from the service at all (API
	// Gateway then answers 500 itself, and no request line is written): a
	// crash, a timeout, or a start-up refusal. A throttle means Lambda
	// refused to run the function (concurrency exhausted). No invocations:
	// nothing failed, nothing throttled.
	for _, a := range []struct {
		id, name, desc string
		metric         awscloudwatch.Metric
	}{
		{"FunctionErrorsAlarm", "-function-errors",
			"The function failed invocations (crash, timeout or refused start) in 2 of the last 3 five-minute periods. See infra/README.md, Alarms.",
			fn.MetricErrors(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period})},
		{"FunctionThrottlesAlarm", "-function-throttles",
			"Lambda refused to run the function (concurrency exhausted) in 2 of the last 3 five-minute periods. See infra/README.md, Alarms.",
			fn.MetricThrottles(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period})},
	} {
		page(awscloudwatch.NewAlarm(stack, jsii.String(a.id), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(prefix + a.name),
			AlarmDescription:   jsii.String(a.desc),
			Metric:             a.metric,
			Threshold:          jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			EvaluationPeriods:  jsii.Number(3),
			DatapointsToAlarm:  jsii.Number(2),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		}))
	}

	share := shareOf(m.requests, "failures", m.fiveXX, "5xx answers, % of requests", period)
	page(awscloudwatch.NewAlarm(stack, jsii.String("Share5xxAlarm"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(prefix + "-5xx-share"),
		AlarmDescription:   jsii.String(fmt.Sprintf("More than %d %% of requests got a 5xx in 2 of the last 3 five-minute periods (periods with fewer than %d requests count as 0 %%). See infra/README.md, Alarms.", fiveXXSharePercent, fiveXXMinRequests)),
		Metric:             share,
		Threshold:          jsii.Number(fiveXXSharePercent),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(3),
		DatapointsToAlarm:  jsii.Number(2),
		// No request lines at all: no traffic (or LOG_LEVEL above INFO,
		// which the stack warns about). Nothing to page about.
		TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
	}))

	// 410s: anomaly detection learns their usual, daily and weekly, rate;
	// the band alone pages on a handful of 410s where the usual count is
	// near 0, so a surge must also reach goneMinCount. The composite alarm
	// is the one that pages.
	gonePeriod := awscdk.Duration_Minutes(jsii.Number(gonePeriodMinute))
	gone := m.gone.Metric(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: gonePeriod})
	band := awscloudwatch.NewAnomalyDetectionAlarm(stack, jsii.String("Gone410AnomalyAlarm"), &awscloudwatch.AnomalyDetectionAlarmProps{
		AlarmName:          jsii.String(prefix + "-410-above-band"),
		AlarmDescription:   jsii.String("410 answers above their anomaly detection band for 30 minutes. Part of " + prefix + "-410-surge, which notifies."),
		Metric:             gone,
		StdDevs:            jsii.Number(goneStdDevs),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_UPPER_THRESHOLD,
		EvaluationPeriods:  jsii.Number(2),
		DatapointsToAlarm:  jsii.Number(2),
		// No log lines, no 410s.
		TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	volume := awscloudwatch.NewAlarm(stack, jsii.String("Gone410VolumeAlarm"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(prefix + "-410-volume"),
		AlarmDescription:   jsii.String(fmt.Sprintf("At least %d answers 410 per 15 minutes for 30 minutes. Part of %s-410-surge, which notifies.", goneMinCount, prefix)),
		Metric:             gone,
		Threshold:          jsii.Number(goneMinCount),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		EvaluationPeriods:  jsii.Number(2),
		DatapointsToAlarm:  jsii.Number(2),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	page(awscloudwatch.NewCompositeAlarm(stack, jsii.String("Gone410SurgeAlarm"), &awscloudwatch.CompositeAlarmProps{
		CompositeAlarmName: jsii.String(prefix + "-410-surge"),
		AlarmDescription:   jsii.String("Far more 410 (result gone) answers than usual: S3 403s read as gone (S3_FORBIDDEN_MEANS_GONE) or results deleted early (a lifecycle rule). See infra/README.md, Alarms."),
		AlarmRule: awscloudwatch.AlarmRule_AllOf(
			awscloudwatch.AlarmRule_FromAlarm(band, awscloudwatch.AlarmState_ALARM),
			awscloudwatch.AlarmRule_FromAlarm(volume, awscloudwatch.AlarmState_ALARM),
		),
	}))

	// The function's own Duration: the timeout applies to the invocation,
	// not to the handler's duration_ms.
	limit := *timeout.ToMilliseconds(nil) * durationTimeoutShare
	page(awscloudwatch.NewAlarm(stack, jsii.String("DurationP99Alarm"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(prefix + "-duration-p99"),
		AlarmDescription:   jsii.String(fmt.Sprintf("p99 of the invocation duration at or above %.0f ms (%.0f %% of the timeout) in 2 of the last 3 five-minute periods. See infra/README.md, Alarms.", limit, durationTimeoutShare*100)),
		Metric:             fn.MetricDuration(&awscloudwatch.MetricOptions{Statistic: jsii.String("p99"), Period: period}),
		Threshold:          jsii.Number(limit),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		EvaluationPeriods:  jsii.Number(3),
		DatapointsToAlarm:  jsii.Number(2),
		// Few invocations still count: one near the timeout is already
		// far from normal (each backend call is bounded well below it).
		EvaluateLowSampleCountPercentile: jsii.String("evaluate"),
		// No invocations, nothing slow.
		TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
	}))

	notify(topic, paging)
}

// notify makes each alarm notify topic when it goes into ALARM and back to
// OK; with no topic, alarms only change state.
func notify(topic awssns.ITopic, alarms []notifier) {
	if topic == nil {
		return
	}
	action := awscloudwatchactions.NewSnsAction(topic)
	for _, a := range alarms {
		a.AddAlarmAction(action)
		a.AddOkAction(action)
	}
}

// notifier is what metric and composite alarms have in common for actions.
type notifier interface {
	AddAlarmAction(actions ...awscloudwatch.IAlarmAction)
	AddOkAction(actions ...awscloudwatch.IAlarmAction)
}

// Metrics from the stage's access log (standalone mode; see
// AccessLogFormat): the requests API Gateway answered itself, which never
// reach the function and so never its request log.
const (
	MetricGatewayRequests           = "GatewayRequests"
	MetricGatewayThrottled          = "GatewayThrottled"
	MetricGatewayThrottledPolls     = "GatewayThrottledPolls"
	MetricGatewayAuthorizerRejected = "GatewayAuthorizerRejected"
	MetricGatewayIntegrationFailed  = "GatewayIntegrationFailed"
)

// Filter patterns over the access log lines. "integrationStatus" is
// Lambda's answer to API Gateway's Invoke call (200 when the function ran,
// whatever status the function answered) and "-" when API Gateway called
// no integration: a 429 or 401 with "-" is the gateway's own (throttling,
// the authorizer), never the function's. A 5xx is the function's own only
// when the invocation succeeded and left no integration error.
const (
	patternGatewayRequests  = `{ $.status > 0 }`
	patternGatewayThrottled = `{ $.status = 429 && $.integrationStatus = "-" }`
	// Polls only: what real users are refused. The ANY route's throttle
	// refusing a flood of other methods is its purpose.
	patternGatewayThrottledPolls     = `{ $.status = 429 && $.integrationStatus = "-" && ($.httpMethod = "GET" || $.httpMethod = "HEAD") }`
	patternGatewayAuthorizerRejected = `{ ($.status = 401 || $.status = 403) && $.integrationStatus = "-" }`
	patternGatewayIntegrationFailed  = `{ $.status >= 500 && ($.integrationStatus != "200" || $.integrationErrorMessage != "-") }`
)

// Gateway alarm thresholds: a share of the stage's requests, over periods
// with at least fiveXXMinRequests of them, as the 5xx share.
const (
	gatewayThrottledPercent   = 1
	gatewayIntegrationPercent = 1
)

// gatewayMetrics are the access log's metric filters.
type gatewayMetrics struct {
	requests, throttled, throttledPolls, authorizerRejected, integrationFailed awslogs.MetricFilter
}

// addGatewayMetrics adds the metric filters over the stage's access log.
func addGatewayMetrics(stack awscdk.Stack, accessLogs awslogs.ILogGroup, namespace string) gatewayMetrics {
	count := func(id, name, pattern string) awslogs.MetricFilter {
		return countFilter(stack, accessLogs, namespace, id, name, pattern)
	}
	return gatewayMetrics{
		requests:           count("GatewayRequestsMetricFilter", MetricGatewayRequests, patternGatewayRequests),
		throttled:          count("GatewayThrottledMetricFilter", MetricGatewayThrottled, patternGatewayThrottled),
		throttledPolls:     count("GatewayThrottledPollsMetricFilter", MetricGatewayThrottledPolls, patternGatewayThrottledPolls),
		authorizerRejected: count("GatewayAuthorizerRejectedMetricFilter", MetricGatewayAuthorizerRejected, patternGatewayAuthorizerRejected),
		integrationFailed:  count("GatewayIntegrationFailedMetricFilter", MetricGatewayIntegrationFailed, patternGatewayIntegrationFailed),
	}
}

// addGatewayAlarms adds the alarms on the gateway's own refusals, in the
// 5xx share's shape: a share of the stage's requests in 2 of the last 3
// five-minute periods, 0 % in periods below the volume floor.
func addGatewayAlarms(stack awscdk.Stack, prefix string, g gatewayMetrics, topic awssns.ITopic) {
	period := awscdk.Duration_Minutes(jsii.Number(alarmPeriodMinutes))
	var paging []notifier
	for _, a := range []struct {
		id, name, label, desc string
		part                  awslogs.MetricFilter
		percent               float64
	}{
		{"GatewayThrottlingAlarm", "-gateway-throttling", "polls throttled by the stage, % of requests",
			fmt.Sprintf("API Gateway refused more than %d %% of requests as polls over the stage's throttle (429) in 2 of the last 3 five-minute periods (periods with fewer than %d requests count as 0 %%): waiting users are turned away. See infra/README.md, Alarms and Capacity.", gatewayThrottledPercent, fiveXXMinRequests),
			g.throttledPolls, gatewayThrottledPercent},
		{"GatewayIntegrationFailuresAlarm", "-integration-failures", "integration failures, % of requests",
			fmt.Sprintf("API Gateway could not get an answer from the function (invocation failed, timed out, was throttled or refused) for more than %d %% of requests in 2 of the last 3 five-minute periods (periods with fewer than %d requests count as 0 %%). See infra/README.md, Alarms.", gatewayIntegrationPercent, fiveXXMinRequests),
			g.integrationFailed, gatewayIntegrationPercent},
	} {
		share := shareOf(g.requests, "part", a.part, a.label, period)
		paging = append(paging, awscloudwatch.NewAlarm(stack, jsii.String(a.id), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(prefix + a.name),
			AlarmDescription:   jsii.String(a.desc),
			Metric:             share,
			Threshold:          jsii.Number(a.percent),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(3),
			DatapointsToAlarm:  jsii.Number(2),
			// No access log lines: no requests.
			TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
		}))
	}
	notify(topic, paging)
}

// countFilter adds a metric filter that counts the log events of group
// matching pattern, as name in namespace. Every other event counts 0: Sum is
// unchanged, and a period with traffic but no such event has a datapoint (0)
// instead of none, which the shares and the 410 anomaly model need.
func countFilter(stack awscdk.Stack, group awslogs.ILogGroup, namespace, id, name, pattern string) awslogs.MetricFilter {
	return awslogs.NewMetricFilter(stack, jsii.String(id), &awslogs.MetricFilterProps{
		LogGroup:        group,
		FilterPattern:   awslogs.FilterPattern_Literal(jsii.String(pattern)),
		MetricNamespace: &namespace,
		MetricName:      jsii.String(name),
		MetricValue:     jsii.String("1"),
		DefaultValue:    jsii.Number(0),
		Unit:            awscloudwatch.Unit_COUNT,
	})
}

// shareOf is the percentage of requests that part counts, per period; a
// period with fewer than fiveXXMinRequests requests counts as 0 %, so a
// single failure at night pages no one. partID names part in the
// expression.
func shareOf(requests awslogs.MetricFilter, partID string, part awslogs.MetricFilter, label string, period awscdk.Duration) awscloudwatch.MathExpression {
	sum := &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: period}
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String(fmt.Sprintf("IF(requests >= %d, 100 * FILL(%s, 0) / requests, 0)", fiveXXMinRequests, partID)),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"requests": requests.Metric(sum),
			partID:     part.Metric(sum),
		},
		Label:  jsii.String(label),
		Period: period,
	})
}
