package integration_test

import (
	"archive/zip"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/internal/testkit"
)

// TestColdStart measures the function's cold start under the Runtime
// Interface Emulator, and the size of the arm64 artifact. It only runs when
// asked, and reports with -v:
//
//	bash .ci/peers.sh
//	VPR_COLDSTART=1 go test -count=1 -run TestColdStart -v ./integration/
//
// VPR_COLDSTART_RUNS sets the number of cold starts per identity mode
// (default 7). Each run starts a fresh emulator and bootstrap (built for the
// host), then invokes it until the first answer, a 202 for a pending job
// read from dynalite. Reported per mode, as median, min and max:
//
//   - first answer: from starting the emulator's process to the first answer;
//   - init: the bootstrap's init as the emulator reports it ("INIT REPORT
//     durationMs": from exec to the runtime's first /next), which is when
//     run() builds everything; the emulator starts the bootstrap only on the
//     first invocation;
//   - first invoke: the first invocation's round trip, init included.
func TestColdStart(t *testing.T) {
	if os.Getenv("VPR_COLDSTART") != "1" {
		t.Skip("measures cold starts only when asked: VPR_COLDSTART=1 go test -count=1 -run TestColdStart -v ./integration/")
	}
	needPeers(t)
	rie, bootstrap := needLambda(t)
	runs := 7
	if v := os.Getenv("VPR_COLDSTART_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("VPR_COLDSTART_RUNS=%q: want a positive integer", v)
		}
		runs = n
	}

	id := newID()
	putItem(t, item(id, map[string]types.AttributeValue{"status": str("PENDING")}))
	iss, err := fakes.NewIssuer("", "vpr-client-id")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /pool/.well-known/jwks.json", iss.JWKSHandler())
	jwksSrv := httptest.NewServer(mux)
	t.Cleanup(jwksSrv.Close)
	iss.Issuer = jwksSrv.URL + "/pool"
	tok, err := iss.Token("RS256", "user-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	base := map[string]string{
		"JOBS_TABLE_NAME":           table,
		"VPR_RESULTS_BUCKET_NAME":   bucket,
		"AWS_REGION":                region,
		"AWS_ENDPOINT_URL_DYNAMODB": env.dynamoURL,
		"AWS_ENDPOINT_URL_S3":       env.s3URL,
		"S3_FORCE_PATH_STYLE":       "true",
		"AWS_ACCESS_KEY_ID":         "S3RVER",
		"AWS_SECRET_ACCESS_KEY":     "S3RVER",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	path := "/api/vpr/status/" + id
	modes := []struct {
		name    string
		environ map[string]string
		event   testkit.Event
	}{
		{"gateway (AUTH_TRUST_GATEWAY=true)", with(map[string]string{"AUTH_TRUST_GATEWAY": "true"}),
			testkit.Event{Kind: "apigw-v2", Path: path, Claims: map[string]string{"sub": "user-1"}}},
		{"jwt (JWKS fetched at start)", with(map[string]string{"JWT_ISSUER": iss.Issuer, "JWT_AUDIENCE": iss.Audience}),
			testkit.Event{Kind: "apigw-v2", Path: path, Headers: map[string]string{"authorization": "Bearer " + tok}}},
	}
	for _, m := range modes {
		payload := m.event.Render(t)
		var first, init, invoke []time.Duration
		for range runs {
			r := coldStart(t, rie, bootstrap, m.environ, payload)
			first, init, invoke = append(first, r.first), append(init, r.init), append(invoke, r.invoke)
		}
		t.Logf("%s, %d cold starts:", m.name, runs)
		t.Logf("  first answer  %s", stats(first))
		t.Logf("  init          %s", stats(init))
		t.Logf("  first invoke  %s", stats(invoke))
	}

	reportSize(t)
}

type coldRun struct{ first, init, invoke time.Duration }

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// coldStart starts the emulator and bootstrap once and times the first
// answer to payload.
func coldStart(t *testing.T, rie, bootstrap string, environ map[string]string, payload []byte) coldRun {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	apiPort, err := freePort()
	for err == nil && apiPort == port {
		apiPort, err = freePort()
	}
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := emulatorCmd(rie, bootstrap, t.TempDir(), port, apiPort, environ)
	start := time.Now()
	p, err := launch(cmd, addr)
	if err != nil {
		t.Fatal(err)
	}
	p.graceful = true
	defer p.stop()
	em := &emulator{peer: p, url: invocationsURL(addr)}
	var r coldRun
	for {
		sent := time.Now()
		code, body, err := em.invokeRaw(payload, nil)
		if err != nil {
			// Not listening yet.
			select {
			case <-p.done:
				t.Fatalf("emulator exited: %s", p.out.String())
			default:
			}
			if time.Since(start) > 15*time.Second {
				t.Fatalf("no answer after 15s: %v\n%s", err, p.out.String())
			}
			time.Sleep(time.Millisecond)
			continue
		}
		r.first, r.invoke = time.Since(start), time.Since(sent)
		var resp testkit.ProxyResponse
		if code != http.StatusOK || json.Unmarshal(body, &resp) != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("first answer: %d %s\n%s", code, body, p.out.String())
		}
		break
	}
	// The emulator logs the init report before the answer, but relays
	// output asynchronously.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := initReport.FindStringSubmatch(p.out.String()); m != nil {
			ms, _ := strconv.ParseFloat(m[1], 64)
			r.init = time.Duration(ms * float64(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no INIT REPORT in:\n%s", p.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return r
}

// stats renders the median, min and max of ds.
func stats(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	return fmt.Sprintf("median %s  min %s  max %s", ms(med), ms(s[0]), ms(s[len(s)-1]))
}

// reportSize builds the deployable artifact as cmd/lambda's doc says, and
// reports its size and that of its zip (zip -9, or Go's deflate at its best
// compression where there is no zip command).
func reportSize(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", bin, "../cmd/lambda")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	zipped := filepath.Join(dir, "bootstrap.zip")
	how := "cd dist && zip -9 bootstrap.zip bootstrap"
	if _, err := exec.LookPath("zip"); err == nil {
		cmd := exec.Command("zip", "-9", "-q", "bootstrap.zip", "bootstrap")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	} else {
		// Go's deflate compresses a little less than Info-ZIP's -9.
		how = "archive/zip, deflate at flate.BestCompression (no zip command)"
		if err := zipFile(zipped, bin); err != nil {
			t.Fatal(err)
		}
	}
	zi, err := os.Stat(zipped)
	if err != nil {
		t.Fatal(err)
	}
	mib := func(n int64) string { return fmt.Sprintf("%d bytes (%.2f MiB)", n, float64(n)/(1<<20)) }
	t.Logf("linux/arm64 bootstrap: %s", mib(fi.Size()))
	t.Logf("bootstrap.zip:         %s", mib(zi.Size()))
	t.Logf("built with: CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags='-s -w' -o dist/bootstrap ./cmd/lambda")
	t.Logf("zipped with: %s", how)
}

// zipFile writes a zip at dst holding src as "bootstrap", executable.
func zipFile(dst, src string) error {
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	zw := zip.NewWriter(out)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	h, err := zip.FileInfoHeader(fi)
	if err != nil {
		return err
	}
	h.Name, h.Method = "bootstrap", zip.Deflate
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return out.Close()
}
