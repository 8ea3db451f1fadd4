package integration_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/careervp/vprstatus/awsenv"
	"github.com/careervp/vprstatus/internal/testkit"
)

// TestJobItems writes every item of the corpus into dynalite in DynamoDB
// JSON, as the writers' boto3 sends it (the result object of a COMPLETED
// one into s3rver), and holds three readings of each to the same status
// code: the running service's answer to the owner's poll, cmd/jobcheck's on
// the item's file, and cmd/jobcheck's with -table, -id and -bucket.
func TestJobItems(t *testing.T) {
	needPeers(t)
	bin := buildJobcheck(t)
	svc := serve(t, backends(awsenv.Settings{}))
	dir := t.TempDir()
	jobcheckEnv := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"AWS_REGION=" + region, "AWS_ACCESS_KEY_ID=S3RVER", "AWS_SECRET_ACCESS_KEY=S3RVER",
		"AWS_ENDPOINT_URL_DYNAMODB=" + env.dynamoURL, "AWS_ENDPOINT_URL_S3=" + env.s3URL, "S3_FORCE_PATH_STYLE=true",
	}
	for _, it := range testkit.JobItems(t) {
		if it.Unstorable {
			continue // DynamoDB refuses it: cmd/jobcheck's own tests read it
		}
		t.Run(it.Name, func(t *testing.T) {
			t.Parallel()
			var attrs map[string]map[string]json.RawMessage
			if err := json.Unmarshal(it.JSON, &attrs); err != nil {
				t.Fatal(err)
			}
			text := func(name string) string {
				for _, typ := range []string{"S", "N"} {
					var s string
					if json.Unmarshal(attrs[name][typ], &s) == nil && s != "" {
						return s
					}
				}
				return ""
			}
			id := text("job_id")
			putItemJSON(t, it.JSON)
			if key := text("result_key"); key != "" && !it.NoObject {
				putObject(t, key, `{"vpr":{}}`)
			}
			owner := text("user_id")
			if owner == "" {
				owner = "user-1" // an item without an owner is a 500 for anyone
			}
			served := svc.poll(t, id, owner).code
			if served != it.Code {
				t.Errorf("the service answers %d, the corpus says %d", served, it.Code)
			}

			file := filepath.Join(t.TempDir(), it.Name+".json")
			if err := os.WriteFile(file, it.JSON, 0o600); err != nil {
				t.Fatal(err)
			}
			fromFile := runJobcheck(t, bin, jobcheckEnv, file)
			fromTable := runJobcheck(t, bin, jobcheckEnv, "-table", table, "-id", id, "-bucket", bucket)
			// Without -bucket, jobcheck cannot see that an object is gone.
			wantFile := served
			if served == http.StatusGone {
				wantFile = http.StatusOK
			}
			if fromFile.status != wantFile || fromTable.status != served {
				t.Errorf("the service answers %d; jobcheck says\n  %s (exit %d) on the file, want %d\n  %s (exit %d) on the table, want %d\n%s",
					served, fromFile.first, fromFile.exit, wantFile, fromTable.first, fromTable.exit, served, fromTable.stderr)
			}
			if fromTable.exit != fromFile.exit || (served != http.StatusGone && fromTable.first != fromFile.first) {
				t.Errorf("jobcheck on the table says %q (exit %d), on the file %q (exit %d)", fromTable.first, fromTable.exit, fromFile.first, fromFile.exit)
			}
		})
	}
}

// TestJobcheckTable covers what only a real table shows: a job_id no item
// has, and a table that does not exist.
func TestJobcheckTable(t *testing.T) {
	needPeers(t)
	bin := buildJobcheck(t)
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_REGION=" + region,
		"AWS_ACCESS_KEY_ID=S3RVER", "AWS_SECRET_ACCESS_KEY=S3RVER", "AWS_ENDPOINT_URL_DYNAMODB=" + env.dynamoURL}
	id := newID()
	r := runJobcheck(t, bin, base, "-table", table, "-id", id)
	if want := `404 not found: no item with job_id "` + id + `" in table ` + table; r.exit != 2 || r.first != want {
		t.Errorf("no such item: exit %d, %q; want exit 2, %q", r.exit, r.first, want)
	}
	r = runJobcheck(t, bin, base, "-table", "no-such-table", "-id", id)
	if r.exit != 2 || r.first != "" || !strings.Contains(r.stderr, "read error") || !strings.Contains(r.stderr, "ResourceNotFoundException") {
		t.Errorf("no such table: exit %d, stdout %q, stderr %q", r.exit, r.first, r.stderr)
	}
}

// jobcheckRun is what one run of the binary printed.
type jobcheckRun struct {
	exit   int
	first  string // stdout's first line
	status int    // its status code
	stderr string
}

func runJobcheck(t *testing.T, bin string, env []string, args ...string) jobcheckRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	r := jobcheckRun{stderr: stderr.String()}
	switch {
	case errors.As(err, &exit):
		r.exit = exit.ExitCode()
	case err != nil:
		t.Fatalf("jobcheck %q: %v", args, err)
	}
	r.first, _, _ = strings.Cut(stdout.String(), "\n")
	code, _, _ := strings.Cut(r.first, " ")
	r.status, _ = strconv.Atoi(code)
	return r
}

var jobcheckBuild struct {
	once sync.Once
	bin  string
	err  error
}

// buildJobcheck builds cmd/jobcheck once for the tests that run it.
func buildJobcheck(t *testing.T) string {
	t.Helper()
	b := &jobcheckBuild
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "vpr-jobcheck-")
		if err != nil {
			b.err = err
			return
		}
		addAtExit(func() { os.RemoveAll(dir) })
		b.bin = filepath.Join(dir, "jobcheck")
		if out, err := exec.Command("go", "build", "-o", b.bin, "../cmd/jobcheck").CombinedOutput(); err != nil {
			b.err = errors.New("go build ../cmd/jobcheck: " + err.Error() + "\n" + string(out))
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin
}

// putItemJSON writes an item given in DynamoDB JSON with a PutItem of its
// own making, so that the item reaches dynalite byte for byte as written,
// not as the Go SDK would encode it.
func putItemJSON(t *testing.T, itemJSON []byte) {
	t.Helper()
	ctx := context.Background()
	name, _ := json.Marshal(table)
	body := []byte(`{"TableName":` + string(name) + `,"Item":` + string(itemJSON) + `}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env.dynamoURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.PutItem")
	c, err := creds.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, c, req, hex.EncodeToString(sum[:]), "dynamodb", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK {
		t.Fatalf("PutItem: %d %s", resp.StatusCode, b)
	}
}
