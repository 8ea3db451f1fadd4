package awsfault_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/careervp/vprstatus/awsfault"
	"github.com/careervp/vprstatus/status"
)

func api(code string) error { return &smithy.GenericAPIError{Code: code} }

func httpStatus(code int) error {
	return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("boom")}
}

func TestUnavailable(t *testing.T) {
	refused := &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"ProvisionedThroughputExceededException", api("ProvisionedThroughputExceededException"), true},
		{"ThrottlingException", api("ThrottlingException"), true},
		{"RequestLimitExceeded", api("RequestLimitExceeded"), true},
		{"S3 SlowDown", api("SlowDown"), true},
		{"throttle after max attempts", &retry.MaxAttemptsError{Attempt: 3, Err: api("ThrottlingException")}, true},
		{"throttle with retry quota spent", errors.Join(api("ThrottlingException"), ratelimit.QuotaExceededError{}), true},
		{"deadline", fmt.Errorf("op: %w", context.DeadlineExceeded), true},
		{"connection refused", refused, true},
		{"bare connection refused", syscall.ECONNREFUSED, true},
		{"net timeout", &net.DNSError{IsTimeout: true}, true},
		{"HTTP 503", httpStatus(503), true},
		{"HTTP 429", httpStatus(429), true},
		{"HTTP 500", httpStatus(500), false},
		{"HTTP 403", httpStatus(403), false},
		{"access denied", api("AccessDenied"), false},
		{"table missing", api("ResourceNotFoundException"), false},
		{"canceled by the caller", context.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := awsfault.Unavailable(tt.err); got != tt.want {
				t.Errorf("Unavailable(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if got := errors.Is(awsfault.Classify(tt.err), status.ErrUnavailable); got != tt.want {
				t.Errorf("Classify(%v) wraps ErrUnavailable = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestClassifyKeepsOtherErrors(t *testing.T) {
	err := api("AccessDenied")
	if got := awsfault.Classify(err); got != err {
		t.Errorf("Classify changed a non-transient error: %v", got)
	}
}
