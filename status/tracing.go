package status

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// tracerName is the instrumentation scope of the spans made here.
const tracerName = "github.com/careervp/vprstatus/status"

// Span and attribute names. Attributes never hold the token, the user id or
// the URL (whose path holds the job id): http.route stands for the path.
const (
	spanJobsGet     = "jobs.Get"
	spanResultsSign = "results.Sign"

	attrMethod    = attribute.Key("http.request.method")
	attrRoute     = attribute.Key("http.route")
	attrStatus    = attribute.Key("http.response.status_code")
	attrErrorType = attribute.Key("error.type")
	attrJobStatus = attribute.Key("job.status")
)

var serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// tracing makes the spans of a request. A nil *tracing is tracing off: no
// middleware is installed and the hot path does no tracing work at all.
type tracing struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// newTracing returns nil when tp is nil or the no-op provider.
func newTracing(tp trace.TracerProvider, prop propagation.TextMapPropagator) *tracing {
	switch tp.(type) {
	case nil, noop.TracerProvider, *noop.TracerProvider:
		return nil
	}
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	return &tracing{tracer: tp.Tracer(tracerName), prop: prop}
}

// serve starts a server span per request, child of the trace the request's
// headers carry, named for the method until a route names it better (see
// route). Attribute work happens only when the span is recording.
func (t *tracing) serve(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		method, name := spanMethod(r.Method)
		ctx, span := t.tracer.Start(ctx, name, serverSpan...)
		defer span.End()
		recording := span.IsRecording()
		if recording {
			span.SetAttributes(attrMethod.String(method))
		}
		tw := recordOf(w)
		next.ServeHTTP(tw, r.WithContext(ctx))
		if !recording {
			return
		}
		code := tw.status()
		span.SetAttributes(attrStatus.Int(code))
		if code >= 500 {
			span.SetAttributes(attrErrorType.String(strconv.Itoa(code)))
			span.SetStatus(codes.Error, http.StatusText(code))
		}
	})
}

// route names the server span for the route pattern that matched (without
// its method), as the semantic conventions ask: "GET /api/vpr/status/{job_id}".
func (t *tracing) route(route string, next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			_, name := spanMethod(r.Method)
			span.SetName(name + " " + route)
			span.SetAttributes(attrRoute.String(route))
		}
		next.ServeHTTP(w, r)
	})
}

// spanMethod returns the http.request.method attribute of method and the
// span name's method part: known methods as they are, anything else as
// _OTHER and HTTP, which keeps made-up methods out of span names.
func spanMethod(method string) (attr, name string) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method, method
	}
	return "_OTHER", "HTTP"
}

// jobStore wraps jobs in a "jobs.Get" span per read, and marks the server
// span with the job's status once it is known.
func (t *tracing) jobStore(jobs JobStore) JobStore {
	if t == nil {
		return jobs
	}
	return tracedJobs{jobs: jobs, tracer: t.tracer}
}

// urlSigner wraps results in a "results.Sign" span per signature.
func (t *tracing) urlSigner(results URLSigner) URLSigner {
	if t == nil {
		return results
	}
	return tracedSigner{results: results, tracer: t.tracer}
}

type tracedJobs struct {
	jobs   JobStore
	tracer trace.Tracer
}

func (j tracedJobs) Job(ctx context.Context, id string) (*Job, error) {
	cctx, span := j.tracer.Start(ctx, spanJobsGet)
	job, err := j.jobs.Job(cctx, id)
	// A missing job is an answer (404), not a failure of the store.
	if err != nil && !errors.Is(err, ErrNotFound) {
		failed(span, err, "job store read failed")
	}
	span.End()
	if err == nil {
		if parent := trace.SpanFromContext(ctx); parent.IsRecording() {
			parent.SetAttributes(attrJobStatus.String(string(job.State)))
		}
	}
	return job, err
}

type tracedSigner struct {
	results URLSigner
	tracer  trace.Tracer
}

// SignResult spans the existence check and the signing. A gone object is
// recorded as an error: the job record promised it.
func (s tracedSigner) SignResult(ctx context.Context, key string) (SignedURL, error) {
	ctx, span := s.tracer.Start(ctx, spanResultsSign)
	u, err := s.results.SignResult(ctx, key)
	if err != nil {
		failed(span, err, "result signing failed")
	}
	span.End()
	return u, err
}

// failed records err on span and marks it failed.
func failed(span trace.Span, err error, desc string) {
	if !span.IsRecording() {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, desc)
}
