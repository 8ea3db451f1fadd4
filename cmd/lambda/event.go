package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/akrylysov/algnhsa"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/careervp/vprstatus/status"
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
// invocation error, which API Gateway would report as a 502. The answer is
// status's, rendered into the proxy response shape that API Gateway's
// payloads 1.0 and 2.0 and function URLs share.
type badEventAnswers struct {
	next   lambda.Handler
	logger *slog.Logger
	refuse http.Handler // status.Refuse(logger, status.ErrBadRequest)
}

func newBadEventAnswers(next lambda.Handler, logger *slog.Logger) badEventAnswers {
	return badEventAnswers{next: next, logger: logger, refuse: status.Refuse(logger, status.ErrBadRequest)}
}

func (b badEventAnswers) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := b.next.Invoke(ctx, payload)
	if err == nil {
		return out, nil
	}
	b.logger.WarnContext(ctx, "event not understood", "err", err)
	w := httptest.NewRecorder()
	b.refuse.ServeHTTP(w, httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil))
	headers := make(map[string]string, len(w.Header()))
	for k, v := range w.Header() {
		headers[k] = strings.Join(v, ",")
	}
	return json.Marshal(map[string]any{"statusCode": w.Code, "headers": headers, "body": w.Body.String()})
}
