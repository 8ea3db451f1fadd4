package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/careervp/vprstatus/internal/testkit"
)

// result is what one run of jobcheck did.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) first() string { line, _, _ := strings.Cut(r.stdout, "\n"); return line }

// jobcheck runs the command with args, stdin and the environment env.
func jobcheck(t *testing.T, stdin string, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string { return env[k] }
	err := run(context.Background(), append([]string{"jobcheck"}, args...), getenv, strings.NewReader(stdin), &stdout, &stderr)
	// What main prints: the error, unless the verdict said it already.
	var reported exitStatus
	if err != nil && !errors.As(err, &reported) {
		fmt.Fprintln(&stderr, escape("jobcheck: "+err.Error()))
	}
	return result{code: exitCode(err), stdout: stdout.String(), stderr: stderr.String()}
}

// checkTerminalSafe fails t if out holds anything but graphic characters
// and line ends.
func checkTerminalSafe(t *testing.T, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("output is not UTF-8: %q", out)
	}
	for _, r := range out {
		if r != '\n' && !unicode.IsGraphic(r) {
			t.Errorf("output holds %U: %q", r, out)
			return
		}
	}
}

// TestCorpus runs every item of the corpus through jobcheck, as a file, on
// stdin, and on stdin in get-item's envelope: the same first line and exit
// status each time, the corpus's.
func TestCorpus(t *testing.T) {
	dir := t.TempDir()
	for _, it := range testkit.JobItems(t) {
		t.Run(it.Name, func(t *testing.T) {
			file := filepath.Join(dir, it.Name+".json")
			if err := os.WriteFile(file, it.JSON, 0o600); err != nil {
				t.Fatal(err)
			}
			want := exitAccepted
			if it.BadData {
				want = exitBadData
			}
			for how, r := range map[string]result{
				"file":     jobcheck(t, "", nil, file),
				"stdin":    jobcheck(t, string(it.JSON), nil),
				"- stdin":  jobcheck(t, string(it.JSON), nil, "-"),
				"envelope": jobcheck(t, `{"Item": `+string(it.JSON)+"}", nil),
				"envelope with consumed capacity": jobcheck(t,
					`{"ConsumedCapacity": {"TableName": "vpr-jobs", "CapacityUnits": 0.5}, "Item": `+string(it.JSON)+"}", nil),
			} {
				if r.code != want || !strings.HasPrefix(r.first(), it.Line) || r.stderr != "" {
					t.Errorf("%s: exit %d, first line %q, stderr %q\nwant exit %d, first line %q", how, r.code, r.first(), r.stderr, want, it.Line)
				}
				checkTerminalSafe(t, r.stdout)
			}
		})
	}
}

// TestOutput pins the whole output of a few items: the verdict, then what
// the service read, then what it did not.
func TestOutput(t *testing.T) {
	items := map[string]testkit.JobItem{}
	for _, it := range testkit.JobItems(t) {
		items[it.Name] = it
	}
	for name, want := range map[string]string{
		"completed": `200 COMPLETED (result_key results/user-1/7b0c5d2e-1f3a-4c8b-9d6e-000000000003.json)
  user_id       "user-1"
  status        "COMPLETED"
  created_at    2026-12-03T09:50:00Z
  started_at    2026-12-03T09:50:04Z
  completed_at  2026-12-03T09:51:30Z
  result_key    results/user-1/7b0c5d2e-1f3a-4c8b-9d6e-000000000003.json
  token_usage   input_tokens 7500, output_tokens 2100
  ttl           2100-01-01T00:00:00Z (in 73y)
  result object not checked: -bucket NAME checks that it exists (the service answers 410 when it does not)
  not read      inputs (the service never reads them)
`,
		"token-usage-string-count": `500 token_usage.input_tokens: want a number (N), got S
  logged        bad job record: job 7b0c5d2e-1f3a-4c8b-9d6e-000000000026: token_usage.input_tokens: want a number (N), got S
  not read      inputs (the service never reads them)
`,
		"failed": `200 FAILED
  user_id       "user-1"
  status        "FAILED"
  created_at    2026-12-03T09:50:00Z
  started_at    2026-12-03T09:50:04Z
  error         "The model refused the CV: it is not in a language we support"
  ttl           2100-01-01T00:00:00Z (in 73y)
  not read      inputs (the service never reads them)
`,
		"ttl-case-variant": `202 PENDING (Retry-After 2s)
  user_id       "user-1"
  status        "PENDING"
  created_at    2026-12-03T09:50:00Z
  ttl           none: the job never expires
  not read      inputs (the service never reads them)
  not read      the service reads ttl, not TTL: names are case-sensitive
`,
	} {
		r := jobcheck(t, string(items[name].JSON), nil)
		if r.stdout != want {
			t.Errorf("%s:\n%s\nwant\n%s", name, r.stdout, want)
		}
	}
}

// An item with two faults names both; the first line names the first, in
// the order of their names.
func TestEveryFault(t *testing.T) {
	r := jobcheck(t, `{"job_id":{"S":"3f2c1a9e-8b7d-4c6e-9f01-23456789abcd"},"user_id":{"S":"u"},"status":{"S":"PENDING"},
		"created_at":{"S":"2026-12-03T09:50:00Z"},"ttl":{"S":"soon"},"error":{"BOOL":true}}`, nil)
	want := "500 error: want a string (S), got BOOL\n  also          ttl: want a number (N), got S\n"
	if r.code != exitBadData || !strings.HasPrefix(r.stdout, want) {
		t.Errorf("exit %d:\n%s\nwant it to start\n%s", r.code, r.stdout, want)
	}
}

func TestUsageErrors(t *testing.T) {
	pending := `{"job_id":{"S":"3f2c1a9e-8b7d-4c6e-9f01-23456789abcd"}}`
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"-table without -id", []string{"-table", "jobs"}, "-table and -id go together"},
		{"-id without -table", []string{"-id", "x"}, "-table and -id go together"},
		{"-table with a file", []string{"-table", "jobs", "-id", "x", "item.json"}, "not both"},
		{"two files", []string{"a.json", "b.json"}, "want at most one FILE"},
		{"an unknown flag", []string{"-tabel", "jobs"}, "flag provided but not defined: -tabel"},
		{"a missing file", []string{filepath.Join(t.TempDir(), "nope.json")}, "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := jobcheck(t, pending, nil, tc.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
	t.Run("-h", func(t *testing.T) {
		r := jobcheck(t, "", nil, "-h")
		if r.code != exitAccepted || !strings.Contains(r.stderr, "usage: jobcheck") || !strings.Contains(r.stderr, "-bucket") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

// TestInputErrors: what is not one item in DynamoDB JSON, or more than any
// item can be, is a usage error with a reason, never a verdict.
func TestInputErrors(t *testing.T) {
	const key = `"job_id":{"S":"3f2c1a9e-8b7d-4c6e-9f01-23456789abcd"}`
	deep := strings.Repeat(`{"L":[`, 40) + `{"S":"x"}` + strings.Repeat(`]}`, 40)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"nothing", "", "no item in the input"},
		{"blank", " \n\t", "no item in the input"},
		{"an empty object", "{}", "no item in the input"},
		{"an empty envelope", `{"Item": {}}`, "no item in the input"},
		{"not JSON", "job_id: 3f2c", "not JSON"},
		{"text output of the CLI", "ITEM\tS\t3f2c", "not JSON"},
		{"a list", `[{` + key + `}]`, "not a JSON object"},
		{"two items", `{` + key + `} {` + key + `}`, "not JSON"},
		{"not UTF-8", "{\"job_id\":{\"S\":\"\xff\"}}", "not UTF-8"},
		{"too large", `{` + key + `,"x":{"S":"` + strings.Repeat("a", maxInput) + `"}}`, "over 4 MiB"},
		{"plain JSON, as boto3's Table resource takes it", `{"job_id":"3f2c1a9e-8b7d-4c6e-9f01-23456789abcd","status":"PENDING"}`,
			`job_id: want an attribute value such as {"S": "…"}, got the string "3f2c1a9e-8b7d-4c6e-9f01-23456789abcd"`},
		{"an empty value", `{` + key + `,"status":{}}`, "status: an empty attribute value {}"},
		{"an unknown type", `{` + key + `,"status":{"STRING":"PENDING"}}`, `status: "STRING" is not a DynamoDB type`},
		{"two types", `{` + key + `,"ttl":{"N":"1","S":"1"}}`, `ttl: more than one type (N and "S")`},
		{"a number as a JSON number", `{` + key + `,"ttl":{"N":1767225600}}`, "ttl: N wants a JSON string, got the number 1767225600"},
		{"a number that is not one", `{` + key + `,"ttl":{"N":"soon"}}`, `ttl: N "soon" is not a number`},
		{"bad base64", `{` + key + `,"cv":{"B":"not base64!"}}`, `cv: B "not base64!" is not base64`},
		{"NULL false", `{` + key + `,"error":{"NULL":false}}`, "error: NULL is always true"},
		{"BOOL a string", `{` + key + `,"x":{"BOOL":"true"}}`, `x: BOOL wants true or false, got the string "true"`},
		{"an empty set", `{` + key + `,"tags":{"SS":[]}}`, "tags: an empty SS"},
		{"a set with a duplicate", `{` + key + `,"tags":{"NS":["1","1"]}}`, `tags: NS holds "1" twice`},
		{"a name twice", `{` + key + `,"status":{"S":"PENDING"},"status":{"S":"FAILED"}}`, "status: the name appears twice"},
		{"a name twice in a map", `{` + key + `,"token_usage":{"M":{"a":{"N":"1"},"a":{"N":"2"}}}}`, "token_usage.a: the name appears twice"},
		{"an empty name", `{` + key + `,"":{"S":"x"}}`, "an attribute name is empty"},
		{"nested too deep", `{` + key + `,"inputs":` + deep + `}`, "nested deeper than DynamoDB's 32 levels"},
		{"a list member that is not a value", `{` + key + `,"l":{"L":["x"]}}`, `l[0]: want an attribute value`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := jobcheck(t, tc.in, nil)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %.300q; want exit 2 and %q", r.code, r.stdout, r.stderr, tc.want)
			}
			checkTerminalSafe(t, r.stderr)
		})
	}
}

// The input is bounded: a stream that never ends is refused after
// maxInput bytes, not read to the end.
func TestEndlessInput(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"jobcheck"}, func(string) string { return "" }, endless{}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "over 4 MiB") {
		t.Errorf("err = %v", err)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// TestHostileValues: what an item holds reaches the terminal escaped,
// whatever it is: escape sequences, carriage returns, bidirectional
// overrides, in the values the verdict shows and in names it lists.
func TestHostileValues(t *testing.T) {
	const id = `"job_id":{"S":"3f2c1a9e-8b7d-4c6e-9f01-23456789abcd"}`
	for _, in := range []string{
		`{` + id + `,"user_id":{"S":"u\u001b[2J"},"status":{"S":"FAILED"},"created_at":{"S":"2026-12-03T09:50:00Z"},"error":{"S":"line1\r\nline2\u0007\u202egnp.exe"}}`,
		`{` + id + `,"user_id":{"S":"u"},"status":{"S":"COMPLETED\u001b]0;pwned\u0007"},"created_at":{"S":"2026-12-03T09:50:00Z"}}`,
		`{` + id + `,"user_id":{"S":"u"},"status":{"S":"COMPLETED"},"created_at":{"S":"2026-12-03T09:50:00Z"},"result_key":{"S":"r/\u009b31m\u2028x.json"}}`,
		`{` + id + `,"user_id":{"S":"u"},"status":{"S":"PENDING"},"created_at":{"S":"2026-12-03\u001b[1mT09:50:00Z"}}`,
		`{` + id + `,"user_id":{"S":"u"},"status":{"S":"PENDING"},"created_at":{"S":"2026-12-03T09:50:00Z"},"evil\u001b[31m":{"S":"x"}}`,
		`{"job_id":{"S":"\u001b[31mjob"},"user_id":{"S":"u"},"status":{"S":"PENDING"},"created_at":{"S":"2026-12-03T09:50:00Z"}}`,
		`{` + id + `,"x\u001b":{"N":"1","S":"2"}}`,
	} {
		r := jobcheck(t, in, nil)
		if r.stdout == "" && r.stderr == "" {
			t.Errorf("no output for %s", in)
		}
		checkTerminalSafe(t, r.stdout)
		checkTerminalSafe(t, r.stderr)
		if strings.Contains(r.stdout+r.stderr, "\x1b") || strings.Contains(r.stdout+r.stderr, "\u202e") {
			t.Errorf("raw control character in %q %q", r.stdout, r.stderr)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, ü ✓ 日本":   "plain text, ü ✓ 日本",
		"a\tb\nc\rd":           `a\tb\nc\rd`,
		"\x1b[31mred":          `\u001b[31mred`,
		"\u202egnp.exe":        `\u202egnp.exe`,
		"\u0085\u009b":         `\u0085\u009b`,
		"bad \xff byte":        `bad \xff byte`,
		"\U000e0001 tag":       `\U000e0001 tag`,
		"zero\u200bwidth":      `zero\u200bwidth`,
		"line\u2028separator":  `line\u2028separator`,
		"nbsp\u00a0is graphic": "nbsp\u00a0is graphic",
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSpan(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 42 * time.Second: "42s", 3*time.Minute + 59*time.Second: "3m", 5 * time.Hour: "5h",
		5*time.Hour + 12*time.Minute: "5h12m", 47 * time.Hour: "47h", 336 * 24 * time.Hour: "336d",
		73 * 8766 * time.Hour: "73y",
	} {
		if got := span(d); got != want {
			t.Errorf("span(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestBucket: with -bucket, a COMPLETED item's result object is looked up in
// S3 (here a stand-in that answers HeadObject), with the SDK's default
// credentials and the endpoint from the environment.
func TestBucket(t *testing.T) {
	var items = map[string]testkit.JobItem{}
	for _, it := range testkit.JobItems(t) {
		items[it.Name] = it
	}
	completed := string(items["completed"].JSON)
	key := regexp.MustCompile(`results/user-1/[0-9a-f-]+\.json`).FindString(completed)
	for _, tc := range []struct {
		name   string
		status int // HeadObject's
		code   int
		first  string
		detail string
	}{
		{"the object exists", 200, exitAccepted, "200 COMPLETED (result_key " + key + ")", "result object s3://vpr-results/" + key + " exists"},
		{"the object is gone", 404, exitAccepted, "410 COMPLETED, but the result object is gone: s3://vpr-results/" + key, ""},
		{"S3 refuses", 403, exitUsage, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var heads []string
			s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				heads = append(heads, r.Method+" "+r.URL.Path)
				w.WriteHeader(tc.status)
			}))
			defer s3.Close()
			awsEnv(t)
			env := map[string]string{"AWS_ENDPOINT_URL_S3": s3.URL, "S3_FORCE_PATH_STYLE": "true", "AWS_REGION": "eu-west-1"}
			r := jobcheck(t, completed, env, "-bucket", "vpr-results")
			if r.code != tc.code || r.first() != tc.first || !strings.Contains(r.stdout, tc.detail) {
				t.Errorf("exit %d:\n%s\nstderr %s\nwant exit %d, first line %q and %q", r.code, r.stdout, r.stderr, tc.code, tc.first, tc.detail)
			}
			if want := "HEAD /vpr-results/" + key; len(heads) == 0 || heads[0] != want {
				t.Errorf("S3 got %q, want %q first", heads, want)
			}
			if tc.code == exitUsage && (r.stdout != "" || !strings.Contains(r.stderr, "read error")) {
				t.Errorf("a refused HeadObject: stdout %q, stderr %q; want a read error", r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, "X-Amz-Signature") {
				t.Errorf("a presigned URL's signature in the output: %s %s", r.stdout, r.stderr)
			}
		})
	}
}

// awsEnv gives the SDK's default chain credentials in the environment and
// nothing else: no profile, no files.
func awsEnv(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDJOBCHECK", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_S3": "", "AWS_ENDPOINT_URL_DYNAMODB": "",
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
}

// Without a region anywhere, -table and -bucket say so.
func TestNoRegion(t *testing.T) {
	awsEnv(t)
	r := jobcheck(t, "", nil, "-table", "vpr-jobs", "-id", "3f2c1a9e-8b7d-4c6e-9f01-23456789abcd")
	if r.code != exitUsage || !strings.Contains(r.stderr, "no AWS region") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestInputRulesAreTheSchemas holds what jobcheck takes for DynamoDB JSON
// to the schema's AttributeValue (dynamo/job-item.schema.json): an extra
// attribute with each of these values is refused by both or by neither.
func TestInputRulesAreTheSchemas(t *testing.T) {
	f, err := os.Open("../../dynamo/job-item.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("job-item.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("job-item.schema.json#/$defs/AttributeValue")
	if err != nil {
		t.Fatal(err)
	}
	values := []string{
		`{"S":""}`, `{"S":"x"}`, `{"S":1}`, `{"S":null}`, `{"S":["x"]}`,
		`{"N":"0"}`, `{"N":"-1.5e+3"}`, `{"N":".5"}`, `{"N":"5."}`, `{"N":"007"}`, `{"N":"+5"}`, `{"N":""}`, `{"N":"1e"}`,
		`{"N":"NaN"}`, `{"N":"0x10"}`, `{"N":" 1"}`, `{"N":"1\n"}`, `{"N":1}`,
		`{"B":""}`, `{"B":"eA=="}`, `{"B":"eHk="}`, `{"B":"eA"}`, `{"B":"e A=="}`, `{"B":"eA==\n"}`, `{"B":"-_8="}`,
		`{"BOOL":true}`, `{"BOOL":false}`, `{"BOOL":"true"}`, `{"BOOL":1}`,
		`{"NULL":true}`, `{"NULL":false}`, `{"NULL":null}`,
		`{"M":{}}`, `{"M":{"a":{"S":"x"}}}`, `{"M":{"a":"x"}}`, `{"M":{"a":{}}}`, `{"M":[]}`, `{"M":{"a":{"L":[{"M":{"b":{"N":"x"}}}]}}}`,
		`{"L":[]}`, `{"L":[{"S":"x"},{"N":"1"}]}`, `{"L":["x"]}`, `{"L":[{}]}`, `{"L":{}}`,
		`{"SS":["a","b"]}`, `{"SS":[]}`, `{"SS":["a","a"]}`, `{"SS":[1]}`,
		`{"NS":["1","2"]}`, `{"NS":["1","x"]}`, `{"NS":["1","1"]}`, `{"NS":[]}`,
		`{"BS":["eA=="]}`, `{"BS":["!"]}`, `{"BS":[]}`,
		`{}`, `{"X":"y"}`, `{"s":"x"}`, `{"S":"x","N":"1"}`, `"x"`, `1`, `null`, `[]`, `true`,
	}
	for _, v := range values {
		in := `{"job_id":{"S":"3f2c1a9e-8b7d-4c6e-9f01-23456789abcd"},"extra_attr":` + v + `}`
		_, parseErr := parseItem([]byte(in))
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(v))
		if err != nil {
			t.Fatal(err)
		}
		schemaErr := schema.Validate(inst)
		if (parseErr == nil) != (schemaErr == nil) {
			t.Errorf("%s: jobcheck says %v, the schema %v", v, parseErr, schemaErr)
		}
	}
}
