// Package dynamo reads VPR jobs from the DynamoDB jobs table.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
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
	for _, f := range [...]struct{ name, v string }{
		{"user_id", rec.UserID}, {"status", rec.Status}, {"created_at", rec.CreatedAt},
	} {
		if f.v == "" {
			return nil, fmt.Errorf("%w: job %s: %w", status.ErrBadRecord, id, &AttributeError{Name: f.name, Reason: "missing or empty"})
		}
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
			return nil, fmt.Errorf("%w: job %s: %w", status.ErrBadRecord, id,
				&AttributeError{Name: ts.name, Reason: fmt.Sprintf("%q is not an RFC 3339 timestamp", ts.v)})
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
//
// Where attributevalue stops at the first bad attribute, decodeItem names
// them all, as *AttributeErrors in the order of their names: an operator
// fixing an item wants every fault at once, and the same text every time.
func decodeItem(item map[string]types.AttributeValue) (record, error) {
	var (
		rec  record
		errs []error
	)
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
			err = decodeUsage(av, name, &rec.TokenUsage)
		case strings.EqualFold(name, "error"):
			err = decodeString(av, &rec.Error)
		case strings.EqualFold(name, "ttl"):
			var n string
			if n, err = number(av); err == nil {
				rec.TTL, err = strconv.ParseFloat(n, 64)
				err = numberError(n, "a number", err)
			}
		}
		if err != nil {
			var ae *AttributeError
			if !errors.As(err, &ae) {
				ae = &AttributeError{Name: name, Reason: err.Error()}
			}
			errs = append(errs, ae)
		}
	}
	switch len(errs) {
	case 0:
		return rec, nil
	case 1:
		return record{}, errs[0]
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return record{}, errors.Join(errs...)
}

// AttributeError names an attribute of a job item that the store cannot
// read, and why. A bad record's error wraps one per fault; cmd/jobcheck
// shows them to the item's writers.
type AttributeError struct {
	// Name is the attribute as the item spells it, and for a member of a
	// map the member after a dot: "token_usage.input_tokens".
	Name string
	// Reason says what is wrong: "missing or empty", "want a number (N),
	// got S", `"soon" is not a number`.
	Reason string
}

func (e *AttributeError) Error() string { return e.Name + ": " + e.Reason }

// AttributeErrors returns the AttributeErrors err wraps, in order: every
// fault of a bad record that Job found.
func AttributeErrors(err error) []*AttributeError {
	var out []*AttributeError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *AttributeError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, e := range e.Unwrap() {
				walk(e)
			}
		default:
			walk(errors.Unwrap(err))
		}
	}
	walk(err)
	return out
}

// typeError is the reason of a value of another type than want.
type typeError struct {
	want string // "a string (S)"
	got  types.AttributeValue
}

func (e typeError) Error() string { return "want " + e.want + ", got " + typeName(e.got) }

// typeName is the DynamoDB JSON name of av's type: S, N, M and so on.
func typeName(av types.AttributeValue) string {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberB:
		return "B"
	case *types.AttributeValueMemberBOOL:
		return "BOOL"
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberM:
		return "M"
	case *types.AttributeValueMemberL:
		return "L"
	case *types.AttributeValueMemberSS:
		return "SS"
	case *types.AttributeValueMemberNS:
		return "NS"
	case *types.AttributeValueMemberBS:
		return "BS"
	case *types.UnknownUnionMember:
		return "unknown type " + strconv.Quote(v.Tag)
	}
	return fmt.Sprintf("%T", av)
}

// numberError turns strconv's error about n, which was to be want, into a
// reason (nil stays nil).
func numberError(n, want string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, strconv.ErrRange):
		return fmt.Errorf("%q is out of range", n)
	}
	return fmt.Errorf("%q is not %s", n, want)
}

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
			return typeError{"a string (S)", av}
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
		return "", typeError{"a number (N)", av}
	}
	return "0", nil
}

// decodeUsage reads the token_usage map called name; NULL makes it nil.
func decodeUsage(av types.AttributeValue, name string, dst **usage) error {
	m, ok := av.(*types.AttributeValueMemberM)
	if !ok {
		if !isNull(av) {
			return typeError{"a map (M)", av}
		}
		*dst = nil
		return nil
	}
	if *dst == nil {
		*dst = new(usage)
	}
	u := *dst
	for member, av := range m.Value {
		var dst *int64
		switch {
		case strings.EqualFold(member, "input_tokens"):
			dst = &u.InputTokens
		case strings.EqualFold(member, "output_tokens"):
			dst = &u.OutputTokens
		default:
			continue
		}
		n, err := number(av)
		if err == nil {
			*dst, err = strconv.ParseInt(n, 10, 64)
			err = numberError(n, "a whole number", err)
		}
		if err != nil {
			return &AttributeError{Name: name + "." + member, Reason: err.Error()}
		}
	}
	return nil
}
