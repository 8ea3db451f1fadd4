package integration_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/careervp/vprstatus/internal/testkit"
)

// TestLocalAWSBackend runs `cmd/local -backend aws -seed` against dynalite
// and s3rver, as the README's steps do by hand: the seeded demo jobs answer
// as the contract says, and the completed one's URL fetches from s3rver.
func TestLocalAWSBackend(t *testing.T) {
	needPeers(t)
	bin := filepath.Join(t.TempDir(), "local")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/local").CombinedOutput(); err != nil {
		t.Fatalf("go build ../cmd/local: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A table and a bucket of their own: -seed must create both.
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0", "-backend", "aws", "-seed")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"JOBS_TABLE_NAME=local-seeded-jobs", "VPR_RESULTS_BUCKET_NAME=local-seeded-results",
		"AWS_REGION=" + region, "AWS_ACCESS_KEY_ID=S3RVER", "AWS_SECRET_ACCESS_KEY=S3RVER",
		"AWS_ENDPOINT_URL_DYNAMODB=" + env.dynamoURL, "AWS_ENDPOINT_URL_S3=" + env.s3URL, "S3_FORCE_PATH_STYLE=true",
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testkit.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()

	// Read the welcome text up to its last line.
	var welcome strings.Builder
	lines := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(30*time.Second, cancel)
	for lines.Scan() {
		welcome.WriteString(lines.Text() + "\n")
		if strings.HasPrefix(lines.Text(), "Health: ") {
			break
		}
	}
	deadline.Stop()
	go io.Copy(io.Discard, stdout)
	text := welcome.String()
	base := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(text)
	tok := regexp.MustCompile(`export TOKEN=(\S+)`).FindStringSubmatch(text)
	if base == nil || tok == nil {
		t.Fatalf("welcome text lacks the address or token:\n%s\nstderr: %s", text, stderr.String())
	}
	want := map[string]int{"PENDING": 202, "PROCESSING": 202, "COMPLETED": 200, "FAILED": 200}
	demos := regexp.MustCompile(`# (\w+)\n\s+curl -i -H "Authorization: Bearer \$TOKEN" (\S+)`).FindAllStringSubmatch(text, -1)
	if len(demos) != 4 {
		t.Fatalf("%d demo commands, want 4:\n%s", len(demos), text)
	}
	for _, m := range demos {
		req, _ := http.NewRequest("GET", m[2], nil)
		req.Header.Set("Authorization", "Bearer "+tok[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != want[m[1]] || body["status"] != m[1] {
			t.Fatalf("%s: %d %v (%v)", m[1], resp.StatusCode, body, err)
		}
		if m[1] != "COMPLETED" {
			continue
		}
		u, _ := body["result_url"].(string)
		if !strings.HasPrefix(u, env.s3URL+"/local-seeded-results/") {
			t.Fatalf("result_url %q is not on s3rver", u)
		}
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		var report map[string]any
		err = json.NewDecoder(res.Body).Decode(&report)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || report["job_id"] == nil {
			t.Fatalf("result from s3rver: %d %v (%v)", res.StatusCode, report, err)
		}
	}
}
