// Package tracing sets up OpenTelemetry for the service's binaries: a tracer
// provider and a propagator for status.Config, and a flush for the end of
// each Lambda invocation.
package tracing

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/detectors/aws/lambda"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ServiceName is the service.name of the spans unless OTEL_SERVICE_NAME says
// otherwise.
const ServiceName = "vprstatus"

// Setup is a tracer provider with its propagator. With no exporter the
// provider is the no-op one, which status.New recognises and skips: tracing
// that goes nowhere costs nothing.
type Setup struct {
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
	sdk            *sdktrace.TracerProvider
}

// Exports reports whether spans go anywhere: without an exporter there is
// nothing to flush.
func (s *Setup) Exports() bool { return s.sdk != nil }

// Flush exports the spans ended so far. In Lambda, call it before each
// invocation returns, with a context bounded well inside the function's
// timeout: the process is frozen in between, and the batching exporter
// with it.
func (s *Setup) Flush(ctx context.Context) error {
	if s.sdk == nil {
		return nil
	}
	return s.sdk.ForceFlush(ctx)
}

// Shutdown flushes and stops the exporter.
func (s *Setup) Shutdown(ctx context.Context) error {
	if s.sdk == nil {
		return nil
	}
	return s.sdk.Shutdown(ctx)
}

// Propagator reads and writes both W3C Trace Context (traceparent) and AWS
// X-Ray (X-Amzn-Trace-Id). When a request carries both, X-Ray's wins: it is
// the one API Gateway and Lambda put in.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, xray.Propagator{})
}

func off() *Setup {
	return &Setup{TracerProvider: noop.NewTracerProvider(), Propagator: Propagator()}
}

// NewLambda sets up tracing in AWS Lambda: X-Ray trace ids and propagation
// beside W3C Trace Context, the Lambda resource (function name, version,
// region, memory), and OTLP over HTTP when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (for example to the ADOT
// collector layer's http://localhost:4318). Without either, or with
// OTEL_SDK_DISABLED=true, tracing is off.
//
// getenv decides whether to export; the exporter, the sampler
// (OTEL_TRACES_SAMPLER) and the Lambda detector read the standard variables
// from the process environment themselves.
func NewLambda(ctx context.Context, getenv func(string) string) (*Setup, error) {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") ||
		getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return off(), nil
	}
	exp, err := otlptracehttp.New(ctx, lambdaExport()...)
	if err != nil {
		return nil, fmt.Errorf("tracing: otlp exporter: %w", err)
	}
	res := newResource(ctx, getenv("OTEL_SERVICE_NAME"), lambda.NewResourceDetector())
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithIDGenerator(xray.NewIDGenerator()),
		sdktrace.WithResource(res),
	)
	return &Setup{TracerProvider: tp, Propagator: Propagator(), sdk: tp}, nil
}

// lambdaExport keeps a flush short: the exporter's defaults (10s per
// attempt, retries for up to a minute, the first after 5s) would hold an
// invocation far longer than a status poll is worth. They take precedence
// over OTEL_EXPORTER_OTLP_TIMEOUT.
func lambdaExport() []otlptracehttp.Option {
	return []otlptracehttp.Option{
		otlptracehttp.WithTimeout(2 * time.Second),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{
			Enabled:         true,
			InitialInterval: 100 * time.Millisecond,
			MaxInterval:     400 * time.Millisecond,
			MaxElapsedTime:  time.Second,
		}),
	}
}

// Modes of NewLocal.
const (
	LocalOff    = ""
	LocalStdout = "stdout"
	LocalOTLP   = "otlp"
)

// NewLocal sets up tracing for a local run: mode "" is off, "stdout" writes
// each span to w as JSON when it ends, and "otlp" exports over HTTP to
// OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318).
func NewLocal(ctx context.Context, mode string, w io.Writer) (*Setup, error) {
	var opt sdktrace.TracerProviderOption
	switch mode {
	case LocalOff:
		return off(), nil
	case LocalStdout:
		exp, err := stdouttrace.New(stdouttrace.WithWriter(w))
		if err != nil {
			return nil, fmt.Errorf("tracing: stdout exporter: %w", err)
		}
		opt = sdktrace.WithSyncer(exp)
	case LocalOTLP:
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("tracing: otlp exporter: %w", err)
		}
		opt = sdktrace.WithBatcher(exp)
	default:
		return nil, fmt.Errorf("tracing: unknown mode %q (want %q, %q or none)", mode, LocalStdout, LocalOTLP)
	}
	tp := sdktrace.NewTracerProvider(opt, sdktrace.WithResource(newResource(ctx, ServiceName)))
	return &Setup{TracerProvider: tp, Propagator: Propagator(), sdk: tp}, nil
}

// newResource describes the service. Detection is best effort, so its
// errors are dropped: a resource short of some attributes still labels the
// spans. (One such error is expected: the Lambda detector's semantic
// conventions are older than the SDK's, and the two schema URLs conflict;
// the merged attributes are kept without a schema URL.)
func newResource(ctx context.Context, service string, detectors ...resource.Detector) *resource.Resource {
	if service == "" {
		service = ServiceName
	}
	res, _ := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithDetectors(detectors...),
		resource.WithAttributes(attribute.String("service.name", service)),
	)
	return res
}
