package tracing_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/careervp/vprstatus/tracing"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestOffIsNoop(t *testing.T) {
	ctx := t.Context()
	for name, mk := range map[string]func() (*tracing.Setup, error){
		"local":                   func() (*tracing.Setup, error) { return tracing.NewLocal(ctx, "", nil) },
		"lambda without exporter": func() (*tracing.Setup, error) { return tracing.NewLambda(ctx, env(nil)) },
		"lambda, sdk disabled": func() (*tracing.Setup, error) {
			return tracing.NewLambda(ctx, env(map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true",
			}))
		},
	} {
		s, err := mk()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, ok := s.TracerProvider.(noop.TracerProvider); !ok {
			t.Errorf("%s: provider %T, want the no-op one", name, s.TracerProvider)
		}
		if s.Propagator == nil || s.Flush(ctx) != nil || s.Shutdown(ctx) != nil {
			t.Errorf("%s: propagator %v", name, s.Propagator)
		}
	}
	if _, err := tracing.NewLocal(ctx, "jaeger", nil); err == nil {
		t.Error(`NewLocal("jaeger") succeeded`)
	}
}

func TestLocalStdout(t *testing.T) {
	var buf bytes.Buffer
	s, err := tracing.NewLocal(t.Context(), tracing.LocalStdout, &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(t.Context())
	_, span := s.TracerProvider.Tracer("test").Start(t.Context(), "GET /x")
	span.End()
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, `"Name":"GET /x"`) || !strings.Contains(out, tracing.ServiceName) {
		t.Fatalf("stdout export: %s", out)
	}
}

// TestLambdaExportsOnFlush: with an OTLP endpoint, spans leave on Flush
// (the end of an invocation), carry the Lambda resource, and have X-Ray
// compatible trace ids (their first 4 bytes are the epoch seconds).
func TestLambdaExportsOnFlush(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies [][]byte
	)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		if r.URL.Path != "/v1/traces" {
			t.Errorf("export to %s", r.URL.Path)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	vars := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":     collector.URL,
		"AWS_LAMBDA_FUNCTION_NAME":        "vprstatus-fn",
		"AWS_REGION":                      "eu-west-1",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
	}
	for k, v := range vars {
		t.Setenv(k, v) // the exporter and the detector read the process environment
	}
	s, err := tracing.NewLambda(t.Context(), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	_, span := s.TracerProvider.Tracer("test").Start(t.Context(), "GET /api/vpr/status/{job_id}",
		trace.WithSpanKind(trace.SpanKindServer))
	span.End()
	tid := span.SpanContext().TraceID()
	if secs := binary.BigEndian.Uint32(tid[:4]); time.Since(time.Unix(int64(secs), 0)).Abs() > time.Hour {
		t.Errorf("trace id %s does not start with the time, as X-Ray's do", span.SpanContext().TraceID())
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 {
		t.Fatalf("%d exports after Flush, want 1", len(bodies))
	}
	for _, want := range []string{"GET /api/vpr/status/{job_id}", "vprstatus-fn", "eu-west-1", tracing.ServiceName} {
		if !bytes.Contains(bodies[0], []byte(want)) {
			t.Errorf("export lacks %q", want)
		}
	}
}

func TestPropagator(t *testing.T) {
	p := tracing.Propagator()
	for name, h := range map[string]http.Header{
		"traceparent":     {"Traceparent": {"00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"}},
		"X-Amzn-Trace-Id": {"X-Amzn-Trace-Id": {"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}},
	} {
		sc := trace.SpanContextFromContext(p.Extract(t.Context(), propagation.HeaderCarrier(h)))
		if sc.TraceID().String() != "5759e988bd862e3fe1be46a994272793" || sc.SpanID().String() != "53995c3f42cd8ad8" || !sc.IsSampled() {
			t.Errorf("%s: extracted %v", name, sc)
		}
	}
}
