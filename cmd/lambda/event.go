package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/akrylysov/algnhsa"
	"github.com/aws/aws-lambda-go/lambda"
)

// stripStage removes a named stage's prefix from the path. An HTTP API
// invoked on its default endpoint (<api-id>.execute-api.<region>.amazonaws.com)
// puts "/{stage}" in front of rawPath for every stage but $default; through
// a custom domain it does not, and a REST API's path never holds the stage.
// So only the first case is touched, whatever the stage is called.
func stripStage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ev, ok := algnhsa.APIGatewayV2RequestFromContext(r.Context()); ok {
			rc := ev.RequestContext
			if rc.Stage != "" && rc.Stage != "$default" && strings.Contains(rc.DomainName, ".execute-api.") {
				if rest, ok := strings.CutPrefix(r.URL.Path, "/"+rc.Stage+"/"); ok {
					r2 := new(http.Request)
					*r2 = *r
					u := *r.URL
					u.Path, u.RawPath = "/"+rest, ""
					r2.URL = &u
					r = r2
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// badEventAnswers turns events algnhsa cannot make a request of (a path
// with a malformed %-escape, say) into a 400 answer rather than an
// invocation error, which API Gateway would report as a 502.
type badEventAnswers struct {
	next   lambda.Handler
	logger *slog.Logger
}

func (b badEventAnswers) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := b.next.Invoke(ctx, payload)
	if err == nil {
		return out, nil
	}
	b.logger.WarnContext(ctx, "event not understood", "err", err)
	body, _ := json.Marshal(map[string]any{
		"type": "about:blank", "title": "Bad Request", "status": 400, "error": "Bad request",
	})
	return json.Marshal(map[string]any{
		"statusCode": http.StatusBadRequest,
		"headers": map[string]string{
			"Content-Type":           "application/problem+json",
			"Cache-Control":          "no-store",
			"X-Content-Type-Options": "nosniff",
		},
		"body": string(body),
	})
}
