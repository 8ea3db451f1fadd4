package testkit

import (
	"embed"
	"encoding/json"
	"path"
	"testing"
)

// JobItem is one item of the job item corpus (jobitems/*.json): a job in
// DynamoDB JSON, as `aws dynamodb get-item` prints it and boto3's
// TypeSerializer writes it (the files were made with it), with what dynamo/job-item.schema.json, the
// service and cmd/jobcheck make of it. The valid items cover every state;
// each invalid one breaks one rule of docs/job-item.md. dynamo's corpus test
// holds the schema and the decoder to them, cmd/jobcheck's tests hold its
// verdicts, and integration's hold the running service on dynalite.
type JobItem struct {
	Name string // the file's name, without .json
	JSON []byte // the item, without the {"Item": …} envelope
	// Valid: the schema accepts it. Rule, for an invalid one, says which
	// of the schema's rules it breaks.
	Valid bool
	Rule  string
	// Code is what the service answers the job's owner, with the result
	// object of a COMPLETED item stored unless NoObject is set.
	Code     int
	NoObject bool
	// Line is the first line cmd/jobcheck prints for the item without
	// -bucket, or a prefix of it where the rest is a duration or a job id.
	Line string
	// BadData: cmd/jobcheck exits 1; otherwise 0.
	BadData bool
	// Unstorable: DynamoDB refuses to hold it (its key is missing or not
	// a string), so only cmd/jobcheck reads it.
	Unstorable bool
}

// The verdicts the corpus's items share.
const (
	linePending    = "202 PENDING (Retry-After 2s)"
	lineProcessing = "202 PROCESSING (Retry-After 2s)"
	lineFailed     = "200 FAILED"
	lineExpired    = "404 expired: ttl 2026-01-01T00:00:00Z passed "
	lineCompleted  = "200 COMPLETED (result_key results/user-1/7b0c5d2e-1f3a-4c8b-9d6e-"
)

// jobItems lists the corpus. The codes and lines are docs/job-item.md's;
// an item the schema refuses may still be one the service answers.
var jobItems = []JobItem{
	{Name: "pending", Valid: true, Code: 202, Line: linePending},
	{Name: "processing", Valid: true, Code: 202, Line: lineProcessing},
	{Name: "completed", Valid: true, Code: 200, Line: lineCompleted},
	{Name: "completed-object-gone", Valid: true, Code: 410, NoObject: true, Line: lineCompleted},
	{Name: "failed", Valid: true, Code: 200, Line: lineFailed},
	{Name: "failed-while-pending", Valid: true, Code: 200, Line: lineFailed},
	{Name: "pending-expired", Valid: true, Code: 404, Line: lineExpired},
	{Name: "completed-expired", Valid: true, Code: 404, Line: lineExpired},
	{Name: "python-isoformat", Valid: true, Code: 202, Line: lineProcessing},
	{Name: "completed-more-usage", Valid: true, Code: 200, Line: lineCompleted},
	{Name: "upper-case-job-id", Valid: true, Code: 202, Line: linePending},
	{Name: "minimal-pending", Valid: true, Code: 202, Line: linePending},

	{Name: "no-job-id", Rule: "job_id is required", Unstorable: true, BadData: true,
		Line: "404 job_id: missing: DynamoDB cannot hold an item without its key, and no poll can name it"},
	{Name: "job-id-not-uuid", Rule: "job_id is a canonical UUID", Code: 404, BadData: true,
		Line: `404 job_id "job-42" is not a canonical UUID: the service answers every poll for it 404`},
	{Name: "job-id-number", Rule: "job_id is S", Unstorable: true, BadData: true,
		Line: "404 job_id: want a string (S), got N: DynamoDB cannot hold an item whose key has another type than the table's, and no poll can name it"},
	{Name: "no-user-id", Rule: "user_id is required", Code: 500, BadData: true, Line: "500 user_id: missing or empty"},
	{Name: "user-id-empty", Rule: "user_id is not empty", Code: 500, BadData: true, Line: "500 user_id: missing or empty"},
	{Name: "user-id-number", Rule: "user_id is S (the service reads an N as its digits)", Code: 202, Line: linePending},
	{Name: "no-status", Rule: "status is required", Code: 500, BadData: true, Line: "500 status: missing or empty"},
	{Name: "status-unknown", Rule: "status is one of the four states", Code: 500, BadData: true, Line: `500 unknown job status "CANCELLED"`},
	{Name: "status-lower-case", Rule: "status is one of the four states, in capitals", Code: 500, BadData: true, Line: `500 unknown job status "pending"`},
	{Name: "status-set", Rule: "status is S", Code: 500, BadData: true, Line: "500 status: want a string (S), got SS"},
	{Name: "no-created-at", Rule: "created_at is required", Code: 500, BadData: true, Line: "500 created_at: missing or empty"},
	{Name: "created-at-not-rfc3339", Rule: "created_at is RFC 3339", Code: 500, BadData: true,
		Line: `500 created_at: "2026-12-03 09:50:00" is not an RFC 3339 timestamp`},
	{Name: "created-at-naive", Rule: "created_at has a time zone (Python's utcnow().isoformat() writes none)", Code: 500, BadData: true,
		Line: `500 created_at: "2026-12-03T09:50:00.123456" is not an RFC 3339 timestamp`},
	{Name: "created-at-not-utc", Rule: "created_at is in UTC (the service passes other offsets on)", Code: 202, Line: linePending},
	{Name: "created-at-no-such-day", Rule: "created_at is a real date", Code: 500, BadData: true,
		Line: `500 created_at: "2026-02-30T09:50:00Z" is not an RFC 3339 timestamp`},
	{Name: "created-at-number", Rule: "created_at is S", Code: 500, BadData: true,
		Line: `500 created_at: "1764755400" is not an RFC 3339 timestamp`},
	{Name: "started-at-not-rfc3339", Rule: "started_at is RFC 3339", Code: 500, BadData: true,
		Line: `500 started_at: "yesterday" is not an RFC 3339 timestamp`},
	{Name: "processing-no-started-at", Rule: "PROCESSING requires started_at (the service answers without it)", Code: 202, Line: lineProcessing},
	{Name: "completed-no-result-key", Rule: "COMPLETED requires result_key", Code: 500, BadData: true, Line: "500 completed job has no result_key"},
	{Name: "completed-empty-result-key", Rule: "result_key is not empty", Code: 500, BadData: true, Line: "500 completed job has no result_key"},
	{Name: "completed-no-completed-at", Rule: "COMPLETED requires completed_at (the service answers without it)", Code: 200, Line: lineCompleted},
	{Name: "completed-at-not-rfc3339", Rule: "completed_at is RFC 3339", Code: 500, BadData: true,
		Line: `500 completed_at: "03/12/2026 09:51" is not an RFC 3339 timestamp`},
	{Name: "completed-no-token-usage", Rule: "COMPLETED requires token_usage (the service answers without it)", Code: 200, Line: lineCompleted},
	{Name: "token-usage-not-a-map", Rule: "token_usage is M", Code: 500, BadData: true, Line: "500 token_usage: want a map (M), got S"},
	{Name: "token-usage-string-count", Rule: "token counts are N", Code: 500, BadData: true,
		Line: "500 token_usage.input_tokens: want a number (N), got S"},
	{Name: "token-usage-fraction", Rule: "token counts are whole numbers", Code: 500, BadData: true,
		Line: `500 token_usage.output_tokens: "2100.5" is not a whole number`},
	{Name: "token-usage-missing-member", Rule: "token_usage has input_tokens and output_tokens (the service reads a missing one as 0)", Code: 200, Line: lineCompleted},
	{Name: "token-usage-member-case", Rule: "token_usage's members are spelt in lower case (the service matches them regardless)", Code: 200, Line: lineCompleted},
	{Name: "failed-no-error", Rule: "FAILED requires error (the service answers \"Unknown error\")", Code: 200, Line: lineFailed},
	{Name: "failed-error-null", Rule: "error is S, never NULL (the service reads NULL as absent)", Code: 200, Line: lineFailed},
	{Name: "ttl-string", Rule: "ttl is N", Code: 500, BadData: true, Line: "500 ttl: want a number (N), got S"},
	{Name: "ttl-milliseconds", Rule: "ttl is in seconds (the service reads milliseconds as a date 50,000 years on)", Code: 202, Line: linePending},
	{Name: "ttl-fraction", Rule: "ttl is a whole number", Code: 202, Line: linePending},
	{Name: "no-ttl", Rule: "ttl is required (without it the job never expires)", Code: 202, Line: linePending},
	{Name: "status-case-variant", Rule: "no attribute differs from one the service reads only in case", Code: 202, Line: linePending},
	{Name: "only-job-id", Rule: "user_id, status, created_at and ttl are required (with none of the attributes it reads, the store finds no job)",
		Code: 404, BadData: true, Line: "404 not found: the item has none of the attributes the service reads ("},
	{Name: "ttl-case-variant", Rule: "ttl is spelt in lower case (TTL is another attribute, which nothing reads)", Code: 202, Line: linePending},
}

//go:embed jobitems/*.json
var jobItemFiles embed.FS

// JobItems returns the corpus, each item's JSON read from jobitems/, and
// fails tb if a file is missing, unlisted or not JSON.
func JobItems(tb testing.TB) []JobItem {
	tb.Helper()
	listed := map[string]bool{}
	items := make([]JobItem, len(jobItems))
	for i, it := range jobItems {
		b, err := jobItemFiles.ReadFile(path.Join("jobitems", it.Name+".json"))
		if err != nil {
			tb.Fatalf("job item %s: %v", it.Name, err)
		}
		if !json.Valid(b) {
			tb.Fatalf("job item %s is not JSON", it.Name)
		}
		if it.Valid == (it.Rule != "") {
			tb.Fatalf("job item %s: a valid item breaks no rule, an invalid one names it", it.Name)
		}
		it.JSON = b
		items[i] = it
		listed[it.Name+".json"] = true
	}
	files, err := jobItemFiles.ReadDir("jobitems")
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range files {
		if !listed[f.Name()] {
			tb.Fatalf("jobitems/%s is not listed in testkit's jobItems", f.Name())
		}
	}
	return items
}
