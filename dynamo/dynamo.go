// Package dynamo reads VPR jobs from the DynamoDB jobs table.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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

// record is a job item as the worker writes it. The tags say how
// attributevalue.UnmarshalMap would read it, which decodeItem does by hand
// (the tests hold the two to the same result).
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
	rec, err := decodeItem(out.Item)
	if err != nil {
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

// decodeItem reads a job item into a record exactly as
// attributevalue.UnmarshalMap(item, &rec) does, for this one shape: names
// match the tags, else case-insensitively; NULL leaves the zero value; a
// string field takes S or N; numbers parse as strconv does; any other type
// is an error; unknown attributes are ignored. Writing it out keeps
// attributevalue out of the binary, and with it the package initialisation
// of DynamoDB Streams' types (a share of every cold start).
func decodeItem(item map[string]types.AttributeValue) (record, error) {
	var rec record
	for name, av := range item {
		var err error
		switch {
		case strings.EqualFold(name, "user_id"):
			err = decodeString(av, &rec.UserID)
		case strings.EqualFold(name, "status"):
			err = decodeString(av, &rec.Status)
		case strings.EqualFold(name, "created_at"):
			err = decodeString(av, &rec.CreatedAt)
		case strings.EqualFold(name, "started_at"):
			err = decodeString(av, &rec.StartedAt)
		case strings.EqualFold(name, "completed_at"):
			err = decodeString(av, &rec.CompletedAt)
		case strings.EqualFold(name, "result_key"):
			err = decodeString(av, &rec.ResultKey)
		case strings.EqualFold(name, "token_usage"):
			err = decodeUsage(av, &rec.TokenUsage)
		case strings.EqualFold(name, "error"):
			err = decodeString(av, &rec.Error)
		case strings.EqualFold(name, "ttl"):
			var n string
			if n, err = number(av); err == nil {
				rec.TTL, err = strconv.ParseFloat(n, 64)
			}
		}
		if err != nil {
			return record{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	return rec, nil
}

// errType is what a value of another type than the field's gets.
var errType = errors.New("unexpected attribute type")

func isNull(av types.AttributeValue) bool {
	_, null := av.(*types.AttributeValueMemberNULL)
	return av == nil || null
}

// decodeString reads S, or N as its text, into dst; NULL makes it "".
func decodeString(av types.AttributeValue, dst *string) error {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		*dst = v.Value
	case *types.AttributeValueMemberN:
		*dst = v.Value
	default:
		if !isNull(av) {
			return fmt.Errorf("%w %T", errType, av)
		}
		*dst = ""
	}
	return nil
}

// number returns the text of N, and "0" for NULL (every number field's
// zero value).
func number(av types.AttributeValue) (string, error) {
	if v, ok := av.(*types.AttributeValueMemberN); ok {
		return v.Value, nil
	}
	if !isNull(av) {
		return "", fmt.Errorf("%w %T", errType, av)
	}
	return "0", nil
}

// decodeUsage reads a token_usage map; NULL makes it nil.
func decodeUsage(av types.AttributeValue, dst **usage) error {
	m, ok := av.(*types.AttributeValueMemberM)
	if !ok {
		if !isNull(av) {
			return fmt.Errorf("%w %T", errType, av)
		}
		*dst = nil
		return nil
	}
	if *dst == nil {
		*dst = new(usage)
	}
	u := *dst
	for name, av := range m.Value {
		var dst *int64
		switch {
		case strings.EqualFold(name, "input_tokens"):
			dst = &u.InputTokens
		case strings.EqualFold(name, "output_tokens"):
			dst = &u.OutputTokens
		default:
			continue
		}
		n, err := number(av)
		if err == nil {
			*dst, err = strconv.ParseInt(n, 10, 64)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
