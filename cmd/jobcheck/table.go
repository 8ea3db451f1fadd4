package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/careervp/vprstatus/dynamo"
)

// table is a DynamoDB table holding one item, in the client's transport:
// it answers the job store's GetItem as DynamoDB would, with the item's
// JSON as the input spelt it, so that the SDK's own deserializer and then
// dynamo's decoder read it, exactly as in the service. Like DynamoDB, it
// returns only the attributes the projection names, spelt exactly so: the
// store never sees the others (a "Status" beside "status", say).
type table struct {
	item *item
}

// client returns a DynamoDB client whose only endpoint is t. awsenv builds
// the service's clients; this one needs no retries, region or credentials
// of its own, and none of its requests leaves the process.
func (t *table) client() *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:           "jobcheck",
		Credentials:      aws.AnonymousCredentials{},
		BaseEndpoint:     aws.String("http://jobcheck.invalid"),
		HTTPClient:       &http.Client{Transport: t},
		RetryMaxAttempts: 1,
	})
}

// getItemRequest is the part of GetItem's request the table reads.
type getItemRequest struct {
	Key                      map[string]json.RawMessage
	ProjectionExpression     *string
	ExpressionAttributeNames map[string]string
}

// A projection's paths: top-level names only (#name or a plain name).
var plainName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

func (t *table) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = r.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	if op := r.Header.Get("X-Amz-Target"); op != "DynamoDB_20120810.GetItem" {
		return t.fail(r, "UnknownOperationException", "jobcheck's table answers GetItem only, not "+op), nil
	}
	var req getItemRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return t.fail(r, "SerializationException", err.Error()), nil
	}
	names := t.item.names
	if req.ProjectionExpression != nil {
		names = nil
		for path := range strings.SplitSeq(*req.ProjectionExpression, ",") {
			path = strings.TrimSpace(path)
			name, ok := req.ExpressionAttributeNames[path]
			switch {
			case ok:
			case plainName.MatchString(path):
				name = path
			default:
				// The store projects top-level attributes; a nested path
				// here means it changed, and this table must change with it.
				return t.fail(r, "ValidationException", fmt.Sprintf("jobcheck's table reads top-level projections only, not %q", path)), nil
			}
			names = append(names, name)
		}
	}
	var out bytes.Buffer
	if t.matches(req.Key) {
		out.WriteString(`{"Item":{`)
		n := 0
		for _, name := range names {
			v, ok := t.item.attrs[name]
			if !ok {
				continue
			}
			if n > 0 {
				out.WriteByte(',')
			}
			n++
			k, _ := json.Marshal(name)
			out.Write(k)
			out.WriteByte(':')
			out.Write(v)
		}
		out.WriteString(`}}`)
	} else {
		out.WriteString(`{}`)
	}
	return response(r, http.StatusOK, out.Bytes()), nil
}

// matches reports whether key names the item: each key attribute equal to
// the item's, as JSON values.
func (t *table) matches(key map[string]json.RawMessage) bool {
	if len(key) == 0 {
		return false
	}
	for name, want := range key {
		got, ok := t.item.attrs[name]
		if !ok || !sameJSON(got, want) {
			return false
		}
	}
	return true
}

func sameJSON(a, b json.RawMessage) bool {
	var va, vb any
	return json.Unmarshal(a, &va) == nil && json.Unmarshal(b, &vb) == nil && reflect.DeepEqual(va, vb)
}

// fail answers with a DynamoDB error, which the SDK reports as such.
func (t *table) fail(r *http.Request, code, msg string) *http.Response {
	b, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#" + code, "message": msg})
	return response(r, http.StatusBadRequest, b)
}

func response(r *http.Request, code int, body []byte) *http.Response {
	return &http.Response{
		Status:        http.StatusText(code),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}

// reads passes the store's GetItem on, and notes what it asked for and
// whether an item came back: an item without any attribute the store reads
// comes back empty, which the store takes for no item at all.
type reads struct {
	next dynamo.GetItemAPI

	mu        sync.Mutex
	projected []string // the attribute names of the last projection
	found     bool     // the last GetItem found an item
}

var _ dynamo.GetItemAPI = (*reads)(nil)

func (r *reads) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := r.next.GetItem(ctx, in, optFns...)
	var names []string
	for path := range strings.SplitSeq(aws.ToString(in.ProjectionExpression), ",") {
		path = strings.TrimSpace(path)
		if name, ok := in.ExpressionAttributeNames[path]; ok {
			path = name
		}
		names = append(names, path)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.projected, r.found = names, err == nil && out != nil && out.Item != nil
	return out, err
}

// last returns what the last GetItem projected and whether it found an item.
func (r *reads) last() (projected []string, found bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.projected, r.found
}
