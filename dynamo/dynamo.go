// Package dynamo reads VPR jobs from the DynamoDB jobs table.
package dynamo

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/careervp/vprstatus/awsfault"
	"github.com/careervp/vprstatus/status"
)

// GetItemAPI is the one DynamoDB call the store makes; *dynamodb.Client
// implements it.
type GetItemAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// JobStore is a status.JobStore over the jobs table (partition key job_id).
type JobStore struct {
	client  GetItemAPI
	table   string
	timeout time.Duration
	// Built once: every request sends the same projection.
	projection string
	names      map[string]string
}

var _ status.JobStore = (*JobStore)(nil)

// Option tunes a JobStore.
type Option func(*JobStore)

// WithCallTimeout sets the deadline of each GetItem (default
// awsfault.DefaultCallTimeout). The SDK's retries must fit inside it.
func WithCallTimeout(d time.Duration) Option {
	return func(s *JobStore) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// attributes are the only ones read: job items also carry the (large)
// generation inputs, which the status answer never shows. job_id is not
// read back: it is the key asked for.
var attributes = []string{
	"user_id", "status", "created_at", "started_at", "completed_at",
	"result_key", "token_usage", "error", "ttl",
}

// New returns a store reading table through client.
func New(client GetItemAPI, table string, opts ...Option) *JobStore {
	s := &JobStore{client: client, table: table, timeout: awsfault.DefaultCallTimeout}
	for _, o := range opts {
		o(s)
	}
	// Every attribute goes through a #name: status, error and ttl are
	// reserved words, and one rule for all is simpler than a list of which.
	s.names = make(map[string]string, len(attributes))
	refs := make([]string, len(attributes))
	for i, a := range attributes {
		refs[i] = "#" + a
		s.names[refs[i]] = a
	}
	s.projection = strings.Join(refs, ", ")
	return s
}

// record is a job item as the worker writes it.
type record struct {
	UserID      string  `dynamodbav:"user_id"`
	Status      string  `dynamodbav:"status"`
	CreatedAt   string  `dynamodbav:"created_at"`
	StartedAt   string  `dynamodbav:"started_at"`
	CompletedAt string  `dynamodbav:"completed_at"`
	ResultKey   string  `dynamodbav:"result_key"`
	TokenUsage  *usage  `dynamodbav:"token_usage"`
	Error       string  `dynamodbav:"error"`
	TTL         float64 `dynamodbav:"ttl"` // epoch seconds; float so a fractional value still decodes
}

type usage struct {
	InputTokens  int64 `dynamodbav:"input_tokens"`
	OutputTokens int64 `dynamodbav:"output_tokens"`
}

// Job reads the job with id. It does not apply ttl itself: it returns
// ExpiresAt and the handler decides, with its own clock.
func (s *JobStore) Job(ctx context.Context, id string) (*status.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table),
		Key:       map[string]types.AttributeValue{"job_id": &types.AttributeValueMemberS{Value: id}},
		// A job just created must be visible to its first poll.
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String(s.projection),
		ExpressionAttributeNames: s.names,
	})
	if err != nil {
		return nil, awsfault.Classify(fmt.Errorf("dynamo: get job %s: %w", id, err))
	}
	if len(out.Item) == 0 {
		return nil, fmt.Errorf("job %s: %w", id, status.ErrNotFound)
	}
	var rec record
	if err := attributevalue.UnmarshalMap(out.Item, &rec); err != nil {
		return nil, fmt.Errorf("%w: job %s: %w", status.ErrBadRecord, id, err)
	}
	switch {
	case rec.UserID == "":
		return nil, fmt.Errorf("%w: job %s has no user_id", status.ErrBadRecord, id)
	case rec.Status == "":
		return nil, fmt.Errorf("%w: job %s has no status", status.ErrBadRecord, id)
	case rec.CreatedAt == "":
		return nil, fmt.Errorf("%w: job %s has no created_at", status.ErrBadRecord, id)
	}
	// The timestamps go to clients as they are, and the contract promises
	// RFC 3339: a worker writing anything else is a bug to report, not to pass on.
	for _, ts := range [...]struct{ name, v string }{
		{"created_at", rec.CreatedAt}, {"started_at", rec.StartedAt}, {"completed_at", rec.CompletedAt},
	} {
		if ts.v == "" {
			continue
		}
		if _, err := time.Parse(time.RFC3339, ts.v); err != nil {
			return nil, fmt.Errorf("%w: job %s: %s %q is not RFC 3339", status.ErrBadRecord, id, ts.name, ts.v)
		}
	}
	job := &status.Job{
		ID:          id,
		UserID:      rec.UserID,
		State:       status.State(rec.Status), // unknown values pass through; the handler refuses them
		CreatedAt:   rec.CreatedAt,
		StartedAt:   rec.StartedAt,
		CompletedAt: rec.CompletedAt,
		ResultKey:   rec.ResultKey,
		Error:       rec.Error,
		ExpiresAt:   expiry(rec.TTL),
	}
	if rec.TokenUsage != nil {
		job.TokenUsage = &status.TokenUsage{InputTokens: rec.TokenUsage.InputTokens, OutputTokens: rec.TokenUsage.OutputTokens}
	}
	return job, nil
}

// expiry turns a ttl in epoch seconds into a time. 0 or absent means the
// item never expires; so does anything past 2^53 s, which no clock reaches
// and which would not convert to an int64 safely.
func expiry(ttl float64) time.Time {
	if !(ttl > 0 && ttl < 1<<53) {
		return time.Time{}
	}
	sec, frac := math.Modf(ttl)
	return time.Unix(int64(sec), int64(frac*1e9))
}
