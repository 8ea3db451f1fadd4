package dynamo_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/careervp/vprstatus/dynamo"
	"github.com/careervp/vprstatus/status"
)

// getItemFunc is a GetItemAPI made of one function.
type getItemFunc func(context.Context, *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error)

func (f getItemFunc) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return f(ctx, in)
}

// returning answers every GetItem with item (nil: not found) and err.
func returning(item map[string]types.AttributeValue, err error) getItemFunc {
	return func(context.Context, *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
		if err != nil {
			return nil, err
		}
		return &dynamodb.GetItemOutput{Item: item}, nil
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

const id = "3f2c1a9e-8b7d-4c6e-9f01-23456789abcd"

func TestRequestShape(t *testing.T) {
	var got *dynamodb.GetItemInput
	store := dynamo.New(getItemFunc(func(_ context.Context, in *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
		got = in
		return &dynamodb.GetItemOutput{}, nil
	}), "jobs")
	store.Job(context.Background(), id)

	if *got.TableName != "jobs" {
		t.Errorf("table = %q", *got.TableName)
	}
	if k, ok := got.Key["job_id"].(*types.AttributeValueMemberS); !ok || k.Value != id || len(got.Key) != 1 {
		t.Errorf("key = %#v", got.Key)
	}
	if got.ConsistentRead == nil || !*got.ConsistentRead {
		t.Error("ConsistentRead not set: a new job could be missed by its first poll")
	}
	// Every name the projection uses is defined, and the reserved words go
	// through names.
	want := map[string]bool{"user_id": true, "status": true, "created_at": true, "started_at": true,
		"completed_at": true, "result_key": true, "token_usage": true, "error": true, "ttl": true}
	seen := map[string]bool{}
	for ref, attr := range got.ExpressionAttributeNames {
		if !want[attr] {
			t.Errorf("projects unexpected attribute %q", attr)
		}
		seen[attr] = true
		if !slices.Contains(strings.Split(*got.ProjectionExpression, ", "), ref) {
			t.Errorf("name %s not used in projection %q", ref, *got.ProjectionExpression)
		}
	}
	for attr := range want {
		if !seen[attr] {
			t.Errorf("attribute %q not projected", attr)
		}
	}
}

func TestDecode(t *testing.T) {
	item := map[string]types.AttributeValue{
		"user_id":      s("user-1"),
		"status":       s("COMPLETED"),
		"created_at":   s("2026-01-02T03:04:05Z"),
		"started_at":   s("2026-01-02T03:04:06Z"),
		"completed_at": s("2026-01-02T03:05:00Z"),
		"result_key":   s("results/user-1/job.json"),
		"token_usage":  &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"input_tokens": n("1200"), "output_tokens": n("3400")}},
		"error":        s(""),
		"ttl":          n("1767326400"),
	}
	job, err := dynamo.New(returning(item, nil), "jobs").Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := status.Job{
		ID: id, UserID: "user-1", State: status.Completed,
		CreatedAt: "2026-01-02T03:04:05Z", StartedAt: "2026-01-02T03:04:06Z", CompletedAt: "2026-01-02T03:05:00Z",
		ResultKey: "results/user-1/job.json", ExpiresAt: time.Unix(1767326400, 0),
	}
	if job.TokenUsage == nil || *job.TokenUsage != (status.TokenUsage{InputTokens: 1200, OutputTokens: 3400}) {
		t.Errorf("token usage = %+v", job.TokenUsage)
	}
	job.TokenUsage = nil
	if !job.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("ExpiresAt = %v, want %v", job.ExpiresAt, want.ExpiresAt)
	}
	job.ExpiresAt = want.ExpiresAt
	if *job != want {
		t.Errorf("job = %+v\nwant  %+v", *job, want)
	}
}

func TestDecodeOptional(t *testing.T) {
	tests := []struct {
		name      string
		item      map[string]types.AttributeValue
		wantState status.State
		wantTTL   time.Time
	}{
		{"minimal", map[string]types.AttributeValue{"user_id": s("u"), "status": s("PENDING"), "created_at": s(created)}, status.Pending, time.Time{}},
		{"ttl zero is none", map[string]types.AttributeValue{"user_id": s("u"), "status": s("PENDING"), "created_at": s(created), "ttl": n("0")}, status.Pending, time.Time{}},
		{"fractional ttl", map[string]types.AttributeValue{"user_id": s("u"), "status": s("FAILED"), "created_at": s(created), "ttl": n("100.5")}, status.Failed, time.Unix(100, 5e8)},
		{"unknown status passes through", map[string]types.AttributeValue{"user_id": s("u"), "status": s("CANCELLED"), "created_at": s(created)}, "CANCELLED", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job, err := dynamo.New(returning(tt.item, nil), "jobs").Job(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if job.State != tt.wantState || !job.ExpiresAt.Equal(tt.wantTTL) || job.TokenUsage != nil {
				t.Errorf("job = %+v", job)
			}
		})
	}
}

// created is a well-formed created_at.
const created = "2026-11-29T12:00:00Z"

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		item map[string]types.AttributeValue
		err  error
		want error
	}{
		{"absent", nil, nil, status.ErrNotFound},
		{"no user_id", map[string]types.AttributeValue{"status": s("PENDING")}, nil, status.ErrBadRecord},
		{"no status", map[string]types.AttributeValue{"user_id": s("u")}, nil, status.ErrBadRecord},
		{"user_id a map", map[string]types.AttributeValue{"user_id": &types.AttributeValueMemberM{}, "status": s("PENDING")}, nil, status.ErrBadRecord},
		{"ttl not a number", map[string]types.AttributeValue{"user_id": s("u"), "status": s("PENDING"), "created_at": s(created), "ttl": s("soon")}, nil, status.ErrBadRecord},
		{"no created_at", map[string]types.AttributeValue{"user_id": s("u"), "status": s("PENDING")}, nil, status.ErrBadRecord},
		{"created_at not RFC 3339", map[string]types.AttributeValue{"user_id": s("u"), "status": s("PENDING"), "created_at": s("29/11/2026 12:00")}, nil, status.ErrBadRecord},
		{"completed_at not RFC 3339", map[string]types.AttributeValue{"user_id": s("u"), "status": s("COMPLETED"), "created_at": s(created), "completed_at": s("yesterday")}, nil, status.ErrBadRecord},
		{"provisioned throughput", nil, &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException"}, status.ErrUnavailable},
		{"throttling", nil, &smithy.GenericAPIError{Code: "ThrottlingException"}, status.ErrUnavailable},
		{"request limit", nil, &smithy.GenericAPIError{Code: "RequestLimitExceeded"}, status.ErrUnavailable},
		{"deadline", nil, context.DeadlineExceeded, status.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dynamo.New(returning(tt.item, tt.err), "jobs").Job(context.Background(), id)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// Any other failure (here: the table does not exist) is neither "not found"
// nor "unavailable": it must reach the handler as a 500.
func TestOtherErrorIsInternal(t *testing.T) {
	_, err := dynamo.New(returning(nil, &types.ResourceNotFoundException{}), "jobs").Job(context.Background(), id)
	if err == nil || errors.Is(err, status.ErrNotFound) || errors.Is(err, status.ErrUnavailable) {
		t.Errorf("err = %v", err)
	}
}

func TestCallTimeout(t *testing.T) {
	hang := getItemFunc(func(ctx context.Context, _ *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	start := time.Now()
	_, err := dynamo.New(hang, "jobs", dynamo.WithCallTimeout(50*time.Millisecond)).Job(context.Background(), id)
	if !errors.Is(err, status.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v, want about 50ms", d)
	}
}

// A bad record's error names every attribute at fault and why, as
// *dynamo.AttributeErrors in the order of their names: what an operator
// reads in the log line of the 500, and cmd/jobcheck shows.
func TestErrorsNameTheAttributes(t *testing.T) {
	base := func(kv ...any) map[string]types.AttributeValue {
		item := map[string]types.AttributeValue{"user_id": s("u"), "status": s("PENDING"), "created_at": s(created)}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(item, kv[i].(string))
			} else {
				item[kv[i].(string)] = kv[i+1].(types.AttributeValue)
			}
		}
		return item
	}
	usage := func(kv map[string]types.AttributeValue) types.AttributeValue {
		return &types.AttributeValueMemberM{Value: kv}
	}
	tests := []struct {
		name string
		item map[string]types.AttributeValue
		want []string // each AttributeError, in order
	}{
		{"no user_id", base("user_id", nil), []string{"user_id: missing or empty"}},
		{"empty status", base("status", s("")), []string{"status: missing or empty"}},
		{"NULL created_at", base("created_at", null), []string{"created_at: missing or empty"}},
		{"created_at not RFC 3339", base("created_at", s("29/11/2026")), []string{`created_at: "29/11/2026" is not an RFC 3339 timestamp`}},
		{"ttl a string", base("ttl", s("soon")), []string{"ttl: want a number (N), got S"}},
		{"ttl not a number", base("ttl", n("soon")), []string{`ttl: "soon" is not a number`}},
		{"ttl out of range", base("ttl", n("1e400")), []string{`ttl: "1e400" is out of range`}},
		{"status a set", base("status", &types.AttributeValueMemberSS{Value: []string{"PENDING"}}), []string{"status: want a string (S), got SS"}},
		{"token_usage a list", base("token_usage", &types.AttributeValueMemberL{}), []string{"token_usage: want a map (M), got L"}},
		{"input_tokens a string", base("token_usage", usage(map[string]types.AttributeValue{"input_tokens": s("12")})),
			[]string{"token_usage.input_tokens: want a number (N), got S"}},
		{"output_tokens fractional", base("token_usage", usage(map[string]types.AttributeValue{"Output_Tokens": n("1.5")})),
			[]string{`token_usage.Output_Tokens: "1.5" is not a whole number`}},
		{"two faults", base("ttl", s("x"), "error", &types.AttributeValueMemberBOOL{Value: true}),
			[]string{"error: want a string (S), got BOOL", "ttl: want a number (N), got S"}},
		{"the item's spelling", base("STATUS", &types.AttributeValueMemberB{Value: []byte("x")}), []string{"STATUS: want a string (S), got B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dynamo.New(returning(tt.item, nil), "jobs").Job(context.Background(), id)
			if !errors.Is(err, status.ErrBadRecord) {
				t.Fatalf("err = %v, want ErrBadRecord", err)
			}
			var got []string
			for _, ae := range dynamo.AttributeErrors(err) {
				got = append(got, ae.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("attribute errors %q, want %q\n(err: %v)", got, tt.want, err)
			}
			if want := "bad job record: job " + id + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("err %q does not start with %q", err, want)
			}
		})
	}
}
