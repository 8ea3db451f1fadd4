package status

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// LogRequests logs one line per request at INFO through logger, once next
// has answered:
//
//	{"msg":"request","method":"GET","route":"/api/vpr/status/{job_id}","status":202,
//	 "duration_ms":1.234,"bytes":131,"retry_after":2,"user":"3f1c9a0b6e2d4f57"}
//
// route is the pattern that matched (New's, or a ServeMux's in next that
// gets r itself), never the path: the path holds the job id, and an unknown
// one is whatever a client made up. retry_after is there when the answer
// carried Retry-After. user, for an authenticated caller, is the first 16 hex
// digits of the SHA-256 of the user id: a support request that names the id
// finds its lines, while the logs neither show the id nor need to be trusted
// with it. Tokens, URLs and bodies are never logged. With logger above INFO
// (LOG_LEVEL=WARN), it costs one check per request.
//
// The entry points wrap everything they serve with it: New's handler does
// not log requests itself.
func LogRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !logger.Enabled(ctx, slog.LevelInfo) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := recordOf(w)
		next.ServeHTTP(rec, r)
		elapsed := time.Since(start)

		attrs := make([]slog.Attr, 0, 8)
		method, _ := spanMethod(r.Method) // made-up methods as _OTHER
		attrs = append(attrs, slog.String("method", method))
		pattern := rec.route
		if pattern == "" {
			pattern = r.Pattern
		}
		if pattern != "" {
			if _, path, ok := strings.Cut(pattern, " "); ok {
				pattern = path // without the method
			}
			attrs = append(attrs, slog.String("route", pattern))
		}
		attrs = append(attrs,
			slog.Int("status", rec.status()),
			slog.Float64("duration_ms", math.Round(float64(elapsed)/1e3)/1e3),
			slog.Int64("bytes", rec.bytes),
		)
		if v := rec.Header().Get(hdrRetryAfter); v != "" {
			if secs, err := strconv.Atoi(v); err == nil {
				attrs = append(attrs, slog.Int("retry_after", secs))
			}
		}
		if rec.user != "" {
			attrs = append(attrs, slog.String("user", userHash(rec.user)))
		}
		logger.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
	})
}

// userHash is how the request log names a user: see LogRequests.
func userHash(user string) string {
	sum := sha256.Sum256([]byte(user))
	return hex.EncodeToString(sum[:8])
}
