package status

// The answer bodies, for body_test.go to hold their own encoding to
// encoding/json's.
type (
	PendingBody   = pendingBody
	CompletedBody = completedBody
	FailedBody    = failedBody
)

// AppendJSON is body's own encoding.
func AppendJSON(body jsonBody) []byte { return body.appendJSON(nil) }
