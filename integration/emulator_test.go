package integration_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careervp/vprstatus/internal/testkit"
)

// The Lambda function (cmd/lambda, built for the host) runs under the AWS
// Lambda Runtime Interface Emulator, which .ci/peers.sh installs into
// $VPR_PEERS_DIR/bin. These are the helpers that build, start and invoke it.

// buildTags are the deployable artifact's (see cmd/lambda): lambda.norpc
// drops aws-lambda-go's RPC mode, grpcnotrace gRPC's request tracing, which
// links html/template.
const buildTags = "lambda.norpc,grpcnotrace"

// lambdaBuild is the bootstrap, built once per test binary, and the emulator.
var lambdaBuild struct {
	once      sync.Once
	rie       string
	bootstrap string
	missing   string // the emulator is not installed: how to install it
	err       error  // the build failed
}

// needLambda returns the emulator's and the bootstrap's paths, building the
// bootstrap on first use. It skips or fails t when the emulator is missing.
func needLambda(t *testing.T) (rie, bootstrap string) {
	t.Helper()
	lb := &lambdaBuild
	lb.once.Do(func() {
		lb.rie = filepath.Join(peersDir(), "bin", "aws-lambda-rie")
		if _, err := os.Stat(lb.rie); err != nil {
			lb.missing = fmt.Sprintf("aws-lambda-rie is not installed at %s: run `bash .ci/peers.sh` (or set VPR_PEERS_DIR)", lb.rie)
			return
		}
		dir, err := os.MkdirTemp("", "vpr-bootstrap-")
		if err != nil {
			lb.err = err
			return
		}
		addAtExit(func() { os.RemoveAll(dir) })
		lb.bootstrap = filepath.Join(dir, "bootstrap")
		// As deployed (see cmd/lambda), but for the host. go test puts its own
		// go first in PATH.
		cmd := exec.Command("go", "build", "-tags", buildTags, "-trimpath", "-o", lb.bootstrap, "../cmd/lambda")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			lb.err = fmt.Errorf("go build ../cmd/lambda: %v\n%s", err, out)
		}
	})
	switch {
	case lb.missing != "":
		missingPeer(t, lb.missing)
	case lb.err != nil:
		t.Fatal(lb.err)
	}
	return lb.rie, lb.bootstrap
}

// emulator is aws-lambda-rie running the bootstrap.
type emulator struct {
	*peer
	url string // the invocations endpoint
}

// emulatorCmd is the command that runs the bootstrap under the emulator,
// invoked on port and with its Runtime API on apiPort, and environ (with
// nothing of the test's own environment but PATH) for the bootstrap.
func emulatorCmd(rie, bootstrap, dir string, port, apiPort int, environ map[string]string) *exec.Cmd {
	// --log-level: the emulator reads LOG_LEVEL too, which is the bootstrap's.
	cmd := exec.Command(rie, "--log-level", "info",
		"--runtime-interface-emulator-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		"--runtime-api-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(apiPort)),
		bootstrap)
	cmd.Dir = dir
	// The emulator hands its whole environment to the bootstrap. The
	// developer's AWS profile and config files must not reach it.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"TZ=:UTC", // as Lambda sets it: the first time formatted reads no zone file
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "aws-credentials"),
	}
	for _, k := range slices.Sorted(maps.Keys(environ)) {
		cmd.Env = append(cmd.Env, k+"="+environ[k])
	}
	return cmd
}

// startEmulator starts the emulator with the bootstrap and environ, on two
// free loopback ports, and waits until it accepts invocations. The emulator
// starts the bootstrap itself on the first invocation. It is stopped when t
// ends.
func startEmulator(t *testing.T, environ map[string]string) *emulator {
	t.Helper()
	rie, bootstrap := needLambda(t)
	dir := t.TempDir()
	p, err := startProcess(func(port int) (*exec.Cmd, error) {
		apiPort, err := freePort()
		for err == nil && apiPort == port {
			apiPort, err = freePort()
		}
		if err != nil {
			return nil, err
		}
		return emulatorCmd(rie, bootstrap, dir, port, apiPort, environ), nil
	})
	if err != nil {
		t.Fatalf("aws-lambda-rie: %v", err)
	}
	p.graceful = true
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("emulator output:\n%s", p.out.String())
		}
	})
	return &emulator{peer: p, url: invocationsURL(p.addr)}
}

func invocationsURL(addr string) string {
	return "http://" + addr + "/2015-03-31/functions/function/invocations"
}

var invokeClient = &http.Client{Timeout: 30 * time.Second}

// invokeRaw POSTs payload to the emulator with header (X-Amzn-RequestId and
// X-Amzn-Trace-Id reach the function's context) and returns the emulator's
// HTTP status and body.
func (e *emulator) invokeRaw(payload []byte, header http.Header) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := invokeClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// invoke invokes the function with payload and decodes its proxy response.
func (e *emulator) invoke(t *testing.T, payload []byte) testkit.ProxyResponse {
	t.Helper()
	return e.invokeWith(t, payload, nil)
}

func (e *emulator) invokeWith(t *testing.T, payload []byte, header http.Header) testkit.ProxyResponse {
	t.Helper()
	code, body, err := e.invokeRaw(payload, header)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if code != http.StatusOK {
		t.Fatalf("invoke: emulator answered %d %s", code, body)
	}
	var p testkit.ProxyResponse
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("invoke: answer %s: %v", body, err)
	}
	return p
}

// logLines returns the JSON lines the bootstrap logged (the emulator's own
// lines are not JSON).
func (e *emulator) logLines() []map[string]any {
	var lines []map[string]any
	for _, l := range strings.Split(e.out.String(), "\n") {
		var m map[string]any
		if strings.HasPrefix(l, "{") && json.Unmarshal([]byte(l), &m) == nil {
			lines = append(lines, m)
		}
	}
	return lines
}

// counter is a TCP forwarder on loopback that counts the connections it
// accepts: put in front of a peer, it shows whether and when the function
// talked to it. With no target it only counts, and closes each connection.
type counter struct {
	addr  string
	conns atomic.Int64
}

func newCounter(t *testing.T, target string) *counter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{addr: l.Addr().String()}
	var (
		mu    sync.Mutex
		open  []net.Conn
		wg    sync.WaitGroup
		track = func(cs ...net.Conn) {
			mu.Lock()
			defer mu.Unlock()
			open = append(open, cs...)
		}
	)
	wg.Go(func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			c.conns.Add(1)
			if target == "" {
				in.Close()
				continue
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			track(in, out)
			pipe := func(dst, src net.Conn) {
				io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
			}
			wg.Go(func() { pipe(out, in) })
			wg.Go(func() { pipe(in, out) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return c
}
