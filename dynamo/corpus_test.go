package dynamo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/careervp/vprstatus/dynamo"
	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/internal/testkit"
	"github.com/careervp/vprstatus/status"
)

// The job item's contract has three authors that must agree: the schema
// (job-item.schema.json, for the writers), the decoder (what the service
// reads) and docs/job-item.md (what the service answers). These tests hold
// them to each other, over the corpus and over every attribute of it
// changed to values of every type:
//
//   - every item the schema accepts decodes, and the service answers its
//     owner as the document says;
//   - every item the decoder refuses, the schema refuses too.
//
// The schema is stricter than the decoder where the service is lenient
// (an N for a string, a missing started_at): writers must not lean on that.

// itemSchema is the schema compiled twice: with "format" an annotation (as
// most validators treat it in draft 2020-12) and asserted. The two must
// agree, so that writers get the same answer from either kind.
type itemSchema struct{ annotated, asserted *jsonschema.Schema }

func loadSchema(t testing.TB) itemSchema {
	t.Helper()
	f, err := os.Open("job-item.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("job-item.schema.json: %v", err)
	}
	compile := func(assert bool) *jsonschema.Schema {
		c := jsonschema.NewCompiler()
		if assert {
			c.AssertFormat()
		}
		if err := c.AddResource("job-item.schema.json", doc); err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile("job-item.schema.json")
		if err != nil {
			t.Fatalf("compiling job-item.schema.json: %v", err)
		}
		return s
	}
	return itemSchema{annotated: compile(false), asserted: compile(true)}
}

// accepts validates the item in DynamoDB JSON; the error says why not.
func (s itemSchema) accepts(t testing.TB, itemJSON []byte) (bool, error) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(itemJSON))
	if err != nil {
		t.Fatalf("item is not JSON: %v", err)
	}
	errAnnotated, errAsserted := s.annotated.Validate(v), s.asserted.Validate(v)
	if (errAnnotated == nil) != (errAsserted == nil) {
		t.Fatalf("the schema with formats asserted disagrees on %s:\nannotated: %v\nasserted: %v", itemJSON, errAnnotated, errAsserted)
	}
	return errAnnotated == nil, errAnnotated
}

// wire answers the SDK's GetItem with body: the way to read DynamoDB JSON
// into attribute values with the SDK's own deserializer, as the service
// reads DynamoDB's answers.
type wire struct{ body []byte }

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	r.Body.Close()
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:       io.NopCloser(bytes.NewReader(w.body)),
		Request:    r,
	}, nil
}

// reader turns items in DynamoDB JSON into attribute values.
type reader struct {
	w      *wire
	client *dynamodb.Client
}

func newReader() *reader {
	w := &wire{}
	return &reader{w: w, client: dynamodb.New(dynamodb.Options{
		Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, BaseEndpoint: aws.String("http://dynamodb.test"),
		HTTPClient: &http.Client{Transport: w}, RetryMaxAttempts: 1,
	})}
}

func (rd *reader) item(t testing.TB, itemJSON []byte) map[string]types.AttributeValue {
	t.Helper()
	rd.w.body = append(append([]byte(`{"Item":`), itemJSON...), '}')
	out, err := rd.client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String("jobs"), Key: map[string]types.AttributeValue{"job_id": s(id)},
	})
	if err != nil {
		t.Fatalf("the SDK cannot read %s: %v", itemJSON, err)
	}
	return out.Item
}

// projecting is the jobs table as DynamoDB serves the store's GetItem: only
// the attributes the projection names, spelt exactly so.
type projecting struct {
	item map[string]types.AttributeValue
}

func (p *projecting) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out := map[string]types.AttributeValue{}
	for _, ref := range strings.Split(aws.ToString(in.ProjectionExpression), ", ") {
		name, ok := in.ExpressionAttributeNames[ref]
		if !ok {
			return nil, fmt.Errorf("projection %q: %s is not a #name", aws.ToString(in.ProjectionExpression), ref)
		}
		if v, ok := p.item[name]; ok {
			out[name] = v
		}
	}
	return &dynamodb.GetItemOutput{Item: out}, nil
}

// service is status.New over the store, reading the one item in table, and
// an in-memory bucket, polled by the item's owner.
type service struct {
	table   *projecting
	results *fakes.Results
	h       http.Handler
}

type ownerAuth struct{ user *string }

func (a ownerAuth) Authenticate(*http.Request) (string, error) { return *a.user, nil }

func newService(t testing.TB, user *string) *service {
	t.Helper()
	results, err := fakes.NewResults("https://results.test/", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	table := &projecting{}
	return &service{table: table, results: results, h: status.New(status.Config{
		Logger:  slog.New(slog.DiscardHandler),
		Auth:    ownerAuth{user},
		Jobs:    dynamo.New(table, "jobs"),
		Results: results,
	})}
}

// poll answers a GET of job id, as the owner.
func (svc *service) poll(id string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	svc.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/vpr/status/"+id, nil))
	return w
}

// str is the S of attribute name in item, or the text of its N (which the
// service reads as a string too).
func str(item map[string]types.AttributeValue, name string) string {
	switch v := item[name].(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	}
	return ""
}

func TestJobItemCorpus(t *testing.T) {
	schema := loadSchema(t)
	rd := newReader()
	var owner string
	svc := newService(t, &owner)
	for _, it := range testkit.JobItems(t) {
		t.Run(it.Name, func(t *testing.T) {
			valid, why := schema.accepts(t, it.JSON)
			if valid != it.Valid {
				t.Errorf("schema accepts it: %v, want %v (%v)", valid, it.Valid, why)
			}
			if it.Unstorable {
				return // DynamoDB holds no such item, so the service never reads one
			}
			item := rd.item(t, it.JSON)
			if _, err := dynamo.DecodeItem(item); err != nil && valid {
				t.Errorf("the schema accepts it, the decoder refuses it: %v", err)
			}
			owner = cmpOr(str(item, "user_id"), "someone")
			svc.table.item = item
			if key := str(item, "result_key"); key != "" && !it.NoObject {
				svc.results.Put(key, []byte(`{"vpr":{}}`))
			}
			w := svc.poll(str(item, "job_id"))
			if w.Code != it.Code {
				t.Errorf("the service answers %d %s, want %d", w.Code, w.Body, it.Code)
			}
			if it.Valid && w.Code >= 500 {
				t.Errorf("a valid item answered %d", w.Code)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// values are attribute values of every type in DynamoDB JSON, well and
// badly formed for each attribute the service reads.
var values = []string{
	`{"S":""}`, `{"S":"PENDING"}`, `{"S":"PROCESSING"}`, `{"S":"COMPLETED"}`, `{"S":"FAILED"}`, `{"S":"failed"}`,
	`{"S":"user-2"}`, `{"S":"ü ✓"}`, `{"S":"12"}`, `{"S":"results/user-1/x.json"}`,
	`{"S":"2026-12-03T09:50:00Z"}`, `{"S":"2026-12-03T09:50:00.123456+00:00"}`, `{"S":"2026-12-03T10:50:00+01:00"}`,
	`{"S":"2024-02-29T00:00:00Z"}`, `{"S":"2026-02-29T00:00:00Z"}`, `{"S":"2000-02-29T23:59:59Z"}`, `{"S":"1900-02-29T00:00:00Z"}`,
	`{"S":"2026-12-03T24:00:00Z"}`, `{"S":"2026-12-03T09:50:60Z"}`, `{"S":"2026-12-03t09:50:00z"}`, `{"S":"2026-12-03T09:50:00Z\n"}`,
	`{"S":"2026-12-03T09:50:00.1234567891Z"}`, `{"S":"2026-12-03T09:50:00,5Z"}`, `{"S":"2026-12-03T09:50:00"}`,
	`{"N":"0"}`, `{"N":"1"}`, `{"N":"-7"}`, `{"N":"100.5"}`, `{"N":"1e3"}`, `{"N":"1767225600"}`, `{"N":"4102444800"}`,
	`{"N":"4102444800000"}`, `{"N":"9999999999"}`, `{"N":"123456789012345678"}`, `{"N":"9223372036854775807"}`,
	`{"N":"9223372036854775808"}`, `{"N":"20261203"}`,
	`{"B":"eA=="}`, `{"BOOL":true}`, `{"BOOL":false}`, `{"NULL":true}`, `{"NULL":false}`,
	`{"L":[]}`, `{"L":[{"S":"PENDING"}]}`, `{"SS":["PENDING"]}`, `{"NS":["1"]}`, `{"BS":["eA=="]}`,
	`{"M":{}}`, `{"M":{"input_tokens":{"N":"1"},"output_tokens":{"N":"2"}}}`,
	`{"M":{"input_tokens":{"S":"1"},"output_tokens":{"N":"2"}}}`,
	`{"M":{"input_tokens":{"N":"1"}}}`,
	`{"M":{"INPUT_TOKENS":{"N":"1"},"output_tokens":{"N":"2"}}}`,
	`{"M":{"input_tokens":{"N":"1"},"output_tokens":{"N":"2"},"cache_tokens":{"S":"x"}}}`,
	`{"M":{"input_tokens":{"N":"1"},"output_tokens":{"N":"2"},"Output_Tokens":{"BOOL":true}}}`,
	`{"M":{"input_tokens":{"N":"1"},"output_tokens":{"N":"2"},"ſ":{"N":"x"}}}`,
}

// caseVariants are names that differ from one the service reads only in
// case (the decoder matches them, as attributevalue does; DynamoDB does not).
var caseVariants = []string{"USER_ID", "Status", "ſtatus", "Created_At", "STARTED_AT", "completed_AT", "Result_Key",
	"TOKEN_USAGE", "token_uſage", "Error", "TTL", "Ttl"}

// TestSchemaHoldsTheDecoder changes each attribute of a valid item of every
// state (and adds its case variants, and changes token_usage's members) to
// each of values, or removes it, and holds the schema, the decoder and the
// service to each other on every result.
func TestSchemaHoldsTheDecoder(t *testing.T) {
	schema := loadSchema(t)
	rd := newReader()
	var owner string
	svc := newService(t, &owner)
	names := append(slices.Clone(fields), caseVariants...)
	checked, accepted := 0, 0
	for _, base := range testkit.JobItems(t) {
		if !slices.Contains([]string{"pending", "processing", "completed", "failed", "pending-expired"}, base.Name) {
			continue
		}
		var attrs map[string]json.RawMessage
		if err := json.Unmarshal(base.JSON, &attrs); err != nil {
			t.Fatal(err)
		}
		try := func(what string, changed map[string]json.RawMessage) {
			t.Helper()
			b, err := json.Marshal(changed)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			valid, _ := schema.accepts(t, b)
			item := rd.item(t, b)
			_, decodeErr := dynamo.DecodeItem(item)
			owner = cmpOr(str(item, "user_id"), "someone")
			svc.table.item = item
			if key := str(item, "result_key"); key != "" {
				svc.results.Put(key, []byte(`{"vpr":{}}`))
			}
			w := svc.poll(str(item, "job_id"))
			switch {
			case decodeErr != nil && valid:
				t.Errorf("%s %s: the schema accepts it, the decoder refuses it: %v", base.Name, what, decodeErr)
			case valid && w.Code != documentedCode(item):
				t.Errorf("%s %s: the schema accepts it, the service answers %d %s, want %d", base.Name, what, w.Code, w.Body, documentedCode(item))
			case w.Code == http.StatusInternalServerError && valid:
				t.Errorf("%s %s: the schema accepts it, the service answers 500", base.Name, what)
			}
			if valid {
				accepted++
			}
		}
		for _, name := range names {
			for _, v := range values {
				changed := maps.Clone(attrs)
				changed[name] = json.RawMessage(v)
				try(name+"="+v, changed)
			}
			changed := maps.Clone(attrs)
			delete(changed, name)
			try("without "+name, changed)
		}
		if _, ok := attrs["token_usage"]; ok {
			var usage struct{ M map[string]json.RawMessage }
			if err := json.Unmarshal(attrs["token_usage"], &usage); err != nil {
				t.Fatal(err)
			}
			for _, member := range []string{"input_tokens", "output_tokens", "Input_Tokens", "output_toKens"} {
				for _, v := range values {
					m := maps.Clone(usage.M)
					m[member] = json.RawMessage(v)
					raw, _ := json.Marshal(map[string]any{"M": m})
					changed := maps.Clone(attrs)
					changed["token_usage"] = raw
					try("token_usage."+member+"="+v, changed)
				}
			}
		}
	}
	// The test means something only if both verdicts occur often.
	if accepted < 100 || checked-accepted < 1000 {
		t.Errorf("%d items checked, %d accepted: too few of one kind", checked, accepted)
	}
	t.Logf("%d items checked, %d of them valid under the schema", checked, accepted)
}

// documentedCode is what docs/job-item.md says the service answers the
// owner of a valid item (its result object stored): 404 once the ttl has
// passed, else 202 while the job runs and 200 when it has finished.
func documentedCode(item map[string]types.AttributeValue) int {
	if n, ok := item["ttl"].(*types.AttributeValueMemberN); ok {
		var ttl int64
		fmt.Sscan(n.Value, &ttl)
		if !time.Now().Before(time.Unix(ttl, 0)) {
			return http.StatusNotFound
		}
	}
	switch str(item, "status") {
	case "PENDING", "PROCESSING":
		return http.StatusAccepted
	}
	return http.StatusOK
}

// TestSchemaPortable: the schema validates alike in Go, JavaScript and
// Python. Every pattern uses [0-9], never \d (Python's matches the digits
// of every script), and every pattern anchored with $ comes with a "not"
// that refuses a newline (Python's $ also matches before a final one),
// which a Go validator cannot show by validating.
func TestSchemaPortable(t *testing.T) {
	b, err := os.ReadFile("job-item.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	patterns := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			// A pattern under a "not" is a newline guard, or the names the
			// propertyNames rule refuses: neither needs a guard of its own.
			if p, ok := v["pattern"].(string); ok && !strings.HasSuffix(path, "/not") {
				patterns++
				if strings.Contains(p, `\d`) {
					t.Errorf("%s: pattern %q uses \\d", path, p)
				}
				if !strings.HasPrefix(p, "^") {
					t.Errorf("%s: pattern %q is not anchored at the start", path, p)
				}
				if not, _ := v["not"].(map[string]any); strings.HasSuffix(p, "$") && (not == nil || not["pattern"] != "\n") {
					t.Errorf(`%s: pattern %q ends with $ without "not": {"pattern": "\n"}`, path, p)
				}
			}
			for k, e := range v {
				walk(path+"/"+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s/%d", path, i), e)
			}
		}
	}
	walk("", doc)
	if patterns < 6 {
		t.Errorf("%d patterns found: the walk is broken", patterns)
	}
}

// TestTimestampPattern holds the schema's timestamp pattern to the
// decoder's time.Parse(time.RFC3339): every timestamp it matches parses,
// and it matches every UTC timestamp that parses, over every day of leap
// and common years (1900, 2000 and 2100 among them) and days past each
// month's end.
func TestTimestampPattern(t *testing.T) {
	b, err := os.ReadFile("job-item.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Defs map[string]struct{ Pattern string } `json:"$defs"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	re, err := regexp.Compile(doc.Defs["Timestamp"].Pattern)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, year := range []int{0, 1900, 1996, 2000, 2023, 2024, 2026, 2100, 2400, 9999} {
		for month := 1; month <= 13; month++ {
			for day := 0; day <= 32; day++ {
				for _, clock := range []string{"00:00:00", "23:59:59", "12:30:45.5", "09:50:00.123456789", "24:00:00", "12:60:00", "12:00:60"} {
					for _, zone := range []string{"Z", "+00:00", "+01:00", "-00:00", "z", ""} {
						ts := fmt.Sprintf("%04d-%02d-%02dT%s%s", year, month, day, clock, zone)
						_, err := time.Parse(time.RFC3339, ts)
						utc := zone == "Z" || zone == "+00:00"
						if matched := re.MatchString(ts); matched && err != nil {
							t.Errorf("pattern matches %q, which time.Parse refuses: %v", ts, err)
						} else if !matched && err == nil && utc {
							t.Errorf("pattern refuses %q, a UTC timestamp time.Parse reads", ts)
						}
						checked++
					}
				}
			}
		}
	}
	t.Logf("%d timestamps checked", checked)
}
