// Package awsfault decides which AWS SDK errors mean "the dependency is
// throttling, slow or unreachable": the errors a client should retry later
// (503) rather than report as a bug (500). Both AWS adapters use it, so the
// two cannot disagree on what a 503 is, or on how long a call may take.
package awsfault

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/careervp/vprstatus/status"
)

// DefaultCallTimeout bounds one AWS call, the SDK's retries included: well
// under the Lambda timeout, so that a slow dependency becomes a 503 rather
// than a dead request.
const DefaultCallTimeout = 2 * time.Second

// throttles recognises the SDK's own list of throttling error codes
// (ProvisionedThroughputExceededException, ThrottlingException,
// RequestLimitExceeded, SlowDown, ...).
var throttles = retry.ThrottleErrorCode{Codes: retry.DefaultThrottleErrorCodes}

// Unavailable reports whether err says the dependency was throttling, did
// not answer in time, or could not be reached.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || throttles.IsErrorThrottle(err) == aws.TrueTernary {
		return true
	}
	// The request never got an answer: refused, reset, DNS, dial timeout.
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	// An unmodelled 429 or a 503 (S3's ServiceUnavailable) is the service
	// itself saying "later".
	switch StatusCode(err) {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	}
	return false
}

// StatusCode is the HTTP status of the answer an SDK error came with, or 0
// when there was none.
func StatusCode(err error) int {
	var resp interface{ HTTPStatusCode() int }
	if errors.As(err, &resp) {
		return resp.HTTPStatusCode()
	}
	return 0
}

// Classify returns err wrapped in status.ErrUnavailable when Unavailable(err),
// and err unchanged otherwise (it then becomes a logged 500).
func Classify(err error) error {
	if Unavailable(err) && !errors.Is(err, status.ErrUnavailable) {
		return fmt.Errorf("%w: %w", status.ErrUnavailable, err)
	}
	return err
}
