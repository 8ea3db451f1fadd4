package main

import (
	"context"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// invocationAttrs adds the Lambda request id and the X-Ray trace id to every
// record logged with an invocation's context.
type invocationAttrs struct{ slog.Handler }

func (h invocationAttrs) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("request_id", lc.AwsRequestID))
	}
	if id := traceID(ctx); id != "" {
		r.AddAttrs(slog.String("trace_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h invocationAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return invocationAttrs{h.Handler.WithAttrs(as)}
}

func (h invocationAttrs) WithGroup(name string) slog.Handler {
	return invocationAttrs{h.Handler.WithGroup(name)}
}

// traceID returns the Root of the invocation's X-Ray trace header, which
// aws-lambda-go puts in the context.
func traceID(ctx context.Context) string {
	hdr, _ := ctx.Value("x-amzn-trace-id").(string)
	for part := range strings.SplitSeq(hdr, ";") {
		if root, ok := strings.CutPrefix(part, "Root="); ok {
			return root
		}
	}
	return ""
}
