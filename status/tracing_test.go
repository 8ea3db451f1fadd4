package status_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/careervp/vprstatus/status"
)

// traced is a handler over f that records its spans.
func (f *fixture) traced(t *testing.T, prop propagation.TextMapPropagator) (http.Handler, *tracetest.SpanRecorder) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { tp.Shutdown(t.Context()) })
	return f.configured(t, status.Config{TracerProvider: tp, Propagator: prop}), sr
}

// spanWant is what one request's spans must be.
type spanWant struct {
	name     string
	attrs    map[string]any // wanted attributes; nil value: must be absent
	status   codes.Code
	children map[string]codes.Code // child span name → status
}

func TestServerSpans(t *testing.T) {
	base := "/api/vpr/status/"
	route := "/api/vpr/status/{job_id}"
	for _, c := range []struct {
		name   string
		method string
		path   string
		user   string
		setup  func(*fixture)
		want   spanWant
	}{
		{name: "completed", path: base + idCompleted, user: alice, want: spanWant{
			name:     "GET " + route,
			attrs:    map[string]any{"http.request.method": "GET", "http.route": route, "http.response.status_code": int64(200), "job.status": "COMPLETED"},
			children: map[string]codes.Code{"jobs.Get": codes.Unset, "results.Sign": codes.Unset},
		}},
		{name: "pending", path: base + idPending, user: alice, want: spanWant{
			name:     "GET " + route,
			attrs:    map[string]any{"http.response.status_code": int64(202), "job.status": "PENDING", "error.type": nil},
			children: map[string]codes.Code{"jobs.Get": codes.Unset},
		}},
		{name: "head", method: "HEAD", path: base + idFailed, user: alice, want: spanWant{
			name:     "HEAD " + route,
			attrs:    map[string]any{"http.request.method": "HEAD", "http.response.status_code": int64(200), "job.status": "FAILED"},
			children: map[string]codes.Code{"jobs.Get": codes.Unset},
		}},
		{name: "absent job is not a store failure", path: base + idAbsent, user: alice, want: spanWant{
			name:     "GET " + route,
			attrs:    map[string]any{"http.response.status_code": int64(404), "job.status": nil},
			children: map[string]codes.Code{"jobs.Get": codes.Unset},
		}},
		{name: "store failing", path: base + idPending, user: alice,
			setup: func(f *fixture) { f.jobs.SetError(errors.New("boom")) },
			want: spanWant{
				name:     "GET " + route,
				attrs:    map[string]any{"http.response.status_code": int64(500), "error.type": "500"},
				status:   codes.Error,
				children: map[string]codes.Code{"jobs.Get": codes.Error},
			}},
		{name: "store throttled", path: base + idPending, user: alice,
			setup: func(f *fixture) { f.jobs.SetThrottled(true) },
			want: spanWant{
				name: "GET " + route, attrs: map[string]any{"http.response.status_code": int64(503)}, status: codes.Error,
				children: map[string]codes.Code{"jobs.Get": codes.Error},
			}},
		{name: "result gone", path: base + idGone, user: alice, want: spanWant{
			name:     "GET " + route,
			attrs:    map[string]any{"http.response.status_code": int64(410), "job.status": "COMPLETED"},
			children: map[string]codes.Code{"jobs.Get": codes.Unset, "results.Sign": codes.Error},
		}},
		{name: "unauthenticated", path: base + idPending, want: spanWant{
			name: "GET " + route, attrs: map[string]any{"http.response.status_code": int64(401), "http.route": route},
		}},
		{name: "method not allowed", method: "POST", path: base + idPending, want: spanWant{
			name: "POST " + route, attrs: map[string]any{"http.response.status_code": int64(405)},
		}},
		{name: "made-up method", method: "BREW", path: base + idPending, want: spanWant{
			name: "HTTP " + route, attrs: map[string]any{"http.request.method": "_OTHER"},
		}},
		{name: "no route", path: "/nope/" + idPending, user: alice, want: spanWant{
			name: "GET", attrs: map[string]any{"http.route": nil, "http.response.status_code": int64(404)},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			if c.setup != nil {
				c.setup(f)
			}
			h, sr := f.traced(t, nil)
			tok := ""
			if c.user != "" {
				tok = f.token(t, c.user)
			}
			r := get(c.path, tok, "")
			if c.method != "" {
				r.Method = c.method
			}
			serve(h, r)
			checkSpans(t, sr.Ended(), c.want, tok)
		})
	}
}

func checkSpans(t *testing.T, spans []sdktrace.ReadOnlySpan, want spanWant, tok string) {
	t.Helper()
	var server sdktrace.ReadOnlySpan
	children := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindServer {
			if server != nil {
				t.Fatalf("two server spans")
			}
			server = s
		} else {
			children[s.Name()] = s
		}
	}
	if server == nil {
		t.Fatalf("no server span among %d", len(spans))
	}
	if server.Name() != want.name {
		t.Errorf("server span %q, want %q", server.Name(), want.name)
	}
	if server.Status().Code != want.status {
		t.Errorf("server span status %v, want %v", server.Status().Code, want.status)
	}
	attrs := map[string]any{}
	for _, kv := range server.Attributes() {
		attrs[string(kv.Key)] = kv.Value.AsInterface()
	}
	for k, v := range want.attrs {
		got, ok := attrs[k]
		switch {
		case v == nil && ok:
			t.Errorf("attribute %s = %v, want none", k, got)
		case v != nil && got != v:
			t.Errorf("attribute %s = %v (%T), want %v", k, got, got, v)
		}
	}
	for k := range attrs {
		switch k {
		case "http.request.method", "http.route", "http.response.status_code", "error.type", "job.status":
		default:
			t.Errorf("unexpected attribute %s", k)
		}
	}
	if len(children) != len(want.children) {
		t.Errorf("child spans %v, want %v", keys(children), want.children)
	}
	for name, code := range want.children {
		s, ok := children[name]
		if !ok {
			t.Errorf("no %s span", name)
			continue
		}
		if s.Parent().SpanID() != server.SpanContext().SpanID() || s.SpanContext().TraceID() != server.SpanContext().TraceID() {
			t.Errorf("%s is not a child of the server span", name)
		}
		if s.Status().Code != code {
			t.Errorf("%s status %v, want %v", name, s.Status().Code, code)
		}
		if code == codes.Error && len(s.Events()) == 0 {
			t.Errorf("%s failed without a recorded error", name)
		}
	}
	// Nothing that identifies the caller or the job goes into attributes.
	for _, s := range spans {
		for _, kv := range s.Attributes() {
			v := kv.Value.String()
			for _, secret := range []string{alice, bob, "Bearer", "http://", "https://", idCompleted, idPending, idFailed, idGone} {
				if strings.Contains(v, secret) || tok != "" && strings.Contains(v, tok) {
					t.Errorf("span %s attribute %s = %q holds %q", s.Name(), kv.Key, v, secret)
				}
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestSpanParentFromHeaders(t *testing.T) {
	const (
		traceID = "5759e988bd862e3fe1be46a994272793"
		spanID  = "53995c3f42cd8ad8"
	)
	both := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, xray.Propagator{})
	for _, c := range []struct {
		name   string
		prop   propagation.TextMapPropagator
		header map[string]string
		parent bool // the server span is a child of the header's span
		ended  bool // a span was recorded
	}{
		{"traceparent", nil, map[string]string{"traceparent": "00-" + traceID + "-" + spanID + "-01"}, true, true},
		{"X-Amzn-Trace-Id", both, map[string]string{"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=" + spanID + ";Sampled=1"}, true, true},
		{"X-Amzn-Trace-Id, not sampled", both, map[string]string{"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=" + spanID + ";Sampled=0"}, false, false},
		{"X-Amzn-Trace-Id ignored by default", nil, map[string]string{"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=" + spanID + ";Sampled=1"}, false, true},
		{"no header: a new trace", both, nil, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			h, sr := f.traced(t, c.prop)
			r := get("/api/vpr/status/"+idPending, f.token(t, alice), "")
			for k, v := range c.header {
				r.Header.Set(k, v)
			}
			if w := serve(h, r); w.Code != 202 {
				t.Fatalf("code %d", w.Code)
			}
			spans := sr.Ended()
			if !c.ended {
				if len(spans) != 0 {
					t.Fatalf("%d spans recorded for an unsampled trace", len(spans))
				}
				return
			}
			var server sdktrace.ReadOnlySpan
			for _, s := range spans {
				if s.SpanKind() == trace.SpanKindServer {
					server = s
				}
			}
			if server == nil {
				t.Fatal("no server span")
			}
			gotTrace, gotParent := server.SpanContext().TraceID().String(), server.Parent().SpanID().String()
			if c.parent {
				if gotTrace != traceID || gotParent != spanID || !server.Parent().IsRemote() {
					t.Fatalf("trace %s parent %s (remote %v), want %s %s remote", gotTrace, gotParent, server.Parent().IsRemote(), traceID, spanID)
				}
				return
			}
			if gotTrace == traceID || server.Parent().IsValid() {
				t.Fatalf("trace %s parent %s, want a new root", gotTrace, gotParent)
			}
		})
	}
}

// TestNoopTracingCostsNothing: the no-op provider is the same handler as no
// provider, allocation for allocation.
func TestNoopTracingCostsNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts vary under -race")
	}
	f := newFixture(t)
	tok := f.token(t, alice)
	allocs := func(h http.Handler) float64 {
		r := get("/api/vpr/status/"+idCompleted, tok, "")
		r.Header.Set("traceparent", "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
		return testing.AllocsPerRun(200, func() { serve(h, r) })
	}
	none := allocs(f.configured(t, status.Config{}))
	nop := allocs(f.configured(t, status.Config{TracerProvider: noop.NewTracerProvider()}))
	if nop != none {
		t.Errorf("%v allocations per request with the no-op provider, %v without", nop, none)
	}
	// A sampler that drops the trace costs its three spans and their
	// contexts (11 allocations measured), no attribute work.
	never := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	dropped := allocs(f.configured(t, status.Config{TracerProvider: never}))
	t.Logf("allocations per request: no provider %v, no-op %v, unsampled %v", none, nop, dropped)
	if dropped-none > 15 {
		t.Errorf("%v allocations more per unsampled request", dropped-none)
	}
}
