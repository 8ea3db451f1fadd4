package integration_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/careervp/vprstatus/internal/testkit"
)

// Names the tests use on the peers.
const (
	table  = "vpr-jobs"
	bucket = "vpr-results"
	region = "us-east-1"
)

// s3rver accepts this access key and secret only; dynalite accepts any.
var creds = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "S3RVER", SecretAccessKey: "S3RVER", Source: "integration test"}, nil
}))

// env is what TestMain set up: the peers' endpoints and clients to seed
// them, or why there are none.
var env struct {
	dynamoURL, s3URL string
	db               *dynamodb.Client
	s3               *s3.Client
	missing          string // the peers are not installed: how to install them
	err              error  // they are installed but did not start
}

func TestMain(m *testing.M) {
	stop, err := startPeers()
	if err != nil {
		env.err = err
	}
	code := m.Run()
	stop()
	runAtExit()
	os.Exit(code)
}

// needPeers skips or fails t when the peers are not running.
func needPeers(t *testing.T) {
	t.Helper()
	switch {
	case env.err != nil:
		t.Fatalf("protocol peers failed to start: %v", env.err)
	case env.missing != "":
		missingPeer(t, env.missing)
	}
}

// missingPeer stops t because a peer is not installed (why says which, and
// how to install it): a skip, or a failure under VPR_REQUIRE_PEERS=1.
func missingPeer(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("VPR_REQUIRE_PEERS") == "1" {
		t.Fatalf("VPR_REQUIRE_PEERS=1 but %s", why)
	}
	t.Skip(why)
}

// atExit holds clean-ups of things the tests share (a built binary, say),
// which TestMain runs after all tests.
var atExit struct {
	mu  sync.Mutex
	fns []func()
}

func addAtExit(fn func()) {
	atExit.mu.Lock()
	defer atExit.mu.Unlock()
	atExit.fns = append(atExit.fns, fn)
}

func runAtExit() {
	atExit.mu.Lock()
	defer atExit.mu.Unlock()
	for _, fn := range atExit.fns {
		fn()
	}
}

// peersDir is where .ci/peers.sh installs the peers.
func peersDir() string {
	if d := os.Getenv("VPR_PEERS_DIR"); d != "" {
		return d
	}
	repo, _ := filepath.Abs("..") // go test runs in the package directory
	return filepath.Join(repo, ".peers")
}

// startPeers starts dynalite and s3rver and prepares the table and bucket.
// It returns a function that stops them.
func startPeers() (stop func(), err error) {
	bin := filepath.Join(peersDir(), "node_modules", ".bin")
	for _, name := range []string{"dynalite", "s3rver"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			env.missing = fmt.Sprintf("%s is not installed in %s: run `bash .ci/peers.sh` (or set VPR_PEERS_DIR)", name, bin)
			return func() {}, nil
		}
	}
	var procs []*peer
	stop = func() {
		for _, p := range procs {
			p.stop()
		}
	}
	dyn, err := startPeer(filepath.Join(bin, "dynalite"), func(port int) []string {
		return []string{"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--createTableMs", "0"}
	})
	if err != nil {
		return stop, fmt.Errorf("dynalite: %w", err)
	}
	procs = append(procs, dyn)
	dataDir, err := os.MkdirTemp("", "vpr-s3rver-")
	if err != nil {
		return stop, err
	}
	s3p, err := startPeer(filepath.Join(bin, "s3rver"), func(port int) []string {
		return []string{"--directory", dataDir, "--address", "127.0.0.1", "--port", strconv.Itoa(port),
			"--configure-bucket", bucket}
	})
	if err != nil {
		os.RemoveAll(dataDir)
		return stop, fmt.Errorf("s3rver: %w", err)
	}
	procs = append(procs, s3p)
	stop = func() {
		for _, p := range procs {
			p.stop()
		}
		os.RemoveAll(dataDir)
	}

	env.dynamoURL, env.s3URL = "http://"+dyn.addr, "http://"+s3p.addr
	cfg := aws.Config{Region: region, Credentials: creds}
	env.db = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(env.dynamoURL) })
	env.s3 = s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint, o.UsePathStyle = aws.String(env.s3URL), true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := createTable(ctx, env.db); err != nil {
		return stop, err
	}
	// --configure-bucket creates the bucket at start-up; check it is there.
	if _, err := env.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return stop, fmt.Errorf("s3rver bucket %s: %w", bucket, err)
	}
	return stop, nil
}

// createTable creates the jobs table as the worker's stack does (job_id is
// the partition key) and waits until it is active.
func createTable(ctx context.Context, db *dynamodb.Client) error {
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("job_id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("job_id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	for {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err == nil && out.Table.TableStatus == types.TableStatusActive {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("table %s not active: %v", table, errors.Join(err, ctx.Err()))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// peer is a server process on a loopback port.
type peer struct {
	cmd  *exec.Cmd
	addr string
	out  *testkit.Buffer
	done chan struct{} // closed when the process has exited
	// graceful: stop asks with SIGTERM before it kills, for processes with
	// children of their own to shut down (the Lambda emulator).
	graceful bool
	stopOnce sync.Once
}

// startPeer runs bin with the arguments args gives for a free port, and
// waits until it accepts connections.
func startPeer(bin string, args func(port int) []string) (*peer, error) {
	return startProcess(func(port int) (*exec.Cmd, error) {
		return exec.Command(bin, args(port)...), nil
	})
}

// startProcess starts the command that command makes for a free port, and
// waits until it accepts connections there. A port taken between choosing
// and binding makes the process exit; then it tries another.
func startProcess(command func(port int) (*exec.Cmd, error)) (*peer, error) {
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd, err := command(port)
		if err != nil {
			return nil, err
		}
		p, err := launch(cmd, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return nil, err
		}
		if lastErr = p.waitReady(15 * time.Second); lastErr == nil {
			return p, nil
		}
		p.stop()
	}
	return nil, lastErr
}

// launch starts cmd, which is to listen on addr, capturing its output.
func launch(cmd *exec.Cmd, addr string) (*peer, error) {
	p := &peer{cmd: cmd, addr: addr, out: &testkit.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	// A child that keeps the output pipe open must not hold up Wait.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *peer) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("exited before listening on %s: %s", p.addr, p.out.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", p.addr, 100*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("not listening on %s after %v: %s", p.addr, timeout, p.out.String())
}

// stop ends the process and waits until it has exited. It may be called
// more than once.
func (p *peer) stop() {
	p.stopOnce.Do(func() {
		if p.graceful {
			p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
				return
			case <-time.After(3 * time.Second):
			}
		}
		p.cmd.Process.Kill()
		<-p.done
	})
}

// freePort returns a loopback port that was free a moment ago. (dynalite
// treats --port 0 as its default port, so the kernel cannot pick for it.)
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
