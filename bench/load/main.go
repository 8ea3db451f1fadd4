// Command load polls the status API over loopback with many users at once,
// against cmd/local and against the floor (bench.Floor on a bare
// http.Server), and prints requests a second, latency, errors and wrong
// answers for each.
//
//	go run ./bench/load                          # both targets, 20,000 requests each
//	go run ./bench/load -c 64 -n 50000 -duration 20s -target local
//
// Each of -c pollers is a user of its own with a job of its own: it gets a
// token from POST /_local/token, creates a job with POST /_local/jobs that
// completes at once, waits for it to complete, then polls it with a
// keep-alive connection. Every answer is checked: a 200 must name the
// poller's own COMPLETED job and hold no other poller's job id (such an
// answer counts as wrong). The floor is given the same pollers, job ids
// and tokens, and answers with a body of the same shape and size.
//
// cmd/local is built from this module and run as a child process with
// limits it never reaches; the floor runs as a second child process of this
// command, so that both servers are processes of their own, measured by the
// same client. Everything listens on 127.0.0.1, and the run is bounded: at
// most -n requests and -duration per target, split over -rounds rounds that
// alternate the targets (which evens out a noisy machine's drift).
//
// With -mode wait the pollers are clients as they should be written:
// package client's Wait, which polls as the service asks (Retry-After, ETags
// and 304s). Each round every poller creates a job that stays PENDING for
// -pending-for and PROCESSING for -processing-for, waits for it and fetches
// its result; the command prints the requests each job cost, how many were
// answered 304, and how long after the job finished its poller knew. That
// is the load a population of real waiting clients puts on the service,
// against cmd/local only (the floor has no jobs to wait for); -n does not
// apply, and each round lasts at most -duration / -rounds.
//
//	go run ./bench/load -mode wait -c 64
//
// The exit status is 1 when any answer was an error, a 5xx or wrong; the
// throughput ratio is reported, not enforced.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/careervp/vprstatus/bench"
	"github.com/careervp/vprstatus/client"
	"github.com/careervp/vprstatus/status"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args, os.Stdout, os.Stderr)
	if errors.Is(err, errBadAnswers) {
		os.Exit(1)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// errBadAnswers: the run completed, but some answers were errors or wrong.
var errBadAnswers = errors.New("some answers were errors or wrong")

type options struct {
	n, c, rounds int
	duration     time.Duration
	targets      []string
	localBin     string
	serveFloor   string // internal: serve the floor with this body, as a child

	mode                   string // "hammer" or "wait"
	pendingFor, processFor time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.n, "n", 20_000, "requests per target, at most (split over the rounds)")
	fs.IntVar(&o.c, "c", 32, "concurrent pollers, each a user with a job of its own")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "polling time per target, at most (split over the rounds)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds, each polling every target in turn")
	target := fs.String("target", "both", `"local" (cmd/local), "floor" (bench.Floor), or "both"`)
	fs.StringVar(&o.localBin, "local-bin", "", "a cmd/local binary to run (default: go build ./cmd/local)")
	fs.StringVar(&o.serveFloor, "serve-floor", "", "internal: serve the floor, answering with this COMPLETED body")
	fs.StringVar(&o.mode, "mode", "hammer", `"hammer": poll completed jobs back to back, for throughput; "wait": wait for new jobs as package client does, honouring Retry-After`)
	fs.DurationVar(&o.pendingFor, "pending-for", 2*time.Second, "-mode wait: how long each job stays PENDING")
	fs.DurationVar(&o.processFor, "processing-for", 3*time.Second, "-mode wait: how long each job then stays PROCESSING")
	if err := fs.Parse(args[1:]); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.mode == "wait" {
		o.targets = []string{"local"}
		return o, waitFlags(o, *target)
	}
	if o.mode != "hammer" {
		return o, fmt.Errorf(`-mode %q: want "hammer" or "wait"`, o.mode)
	}
	switch *target {
	case "both":
		o.targets = []string{"local", "floor"}
	case "local", "floor":
		o.targets = []string{*target}
	default:
		return o, fmt.Errorf(`-target %q: want "local", "floor" or "both"`, *target)
	}
	switch {
	case o.c < 1 || o.c > 10_000:
		return o, errors.New("-c must be between 1 and 10,000")
	case o.rounds < 1:
		return o, errors.New("-rounds must be at least 1")
	case o.n < o.c*o.rounds || o.n > 10_000_000:
		return o, errors.New("-n must be at least -c × -rounds, and at most 10,000,000")
	case o.duration <= 0 || o.duration > 10*time.Minute:
		return o, errors.New("-duration must be positive and at most 10m")
	}
	return o, nil
}

// maxLiveJobs is how many jobs cmd/local moves through their states at once.
const maxLiveJobs = 1000

// waitFlags checks the settings of -mode wait.
func waitFlags(o options, target string) error {
	switch {
	case target != "both" && target != "local":
		return errors.New("-mode wait polls cmd/local only: the floor has no jobs to wait for")
	case o.c < 1 || o.c > maxLiveJobs:
		return fmt.Errorf("-c must be between 1 and %d with -mode wait (cmd/local's limit of jobs in progress)", maxLiveJobs)
	case o.rounds < 1:
		return errors.New("-rounds must be at least 1")
	case o.pendingFor < 0 || o.processFor < 0 || o.pendingFor+o.processFor > time.Hour:
		return errors.New("-pending-for and -processing-for must not be negative, and at most 1h together")
	case o.duration <= 0 || o.duration > 2*time.Hour:
		return errors.New("-duration must be positive and at most 2h with -mode wait")
	}
	// The last poll comes up to ~2.2 s after the job finishes (the service
	// asks for 2 s, plus jitter), then the result is fetched.
	if round, need := o.duration/time.Duration(o.rounds), o.pendingFor+o.processFor+5*time.Second; round < need {
		return fmt.Errorf("-duration %v over %d rounds leaves %v a round; a job of %v needs %v", o.duration, o.rounds, round, o.pendingFor+o.processFor, need)
	}
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.serveFloor != "" {
		return serveFloor(ctx, o.serveFloor, stdout)
	}

	hc := &http.Client{
		Transport: &http.Transport{
			Proxy:               nil, // loopback only, never through a proxy
			MaxIdleConns:        o.c,
			MaxIdleConnsPerHost: o.c,
			MaxConnsPerHost:     o.c,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
		Timeout: 10 * time.Second,
	}
	defer hc.CloseIdleConnections()
	if o.mode == "wait" {
		return runWait(ctx, o, hc, stdout, stderr)
	}

	pollers := newPollers(o.c)
	bases := map[string]string{}
	floorBody := syntheticBody()
	if slices.Contains(o.targets, "local") {
		base, stop, err := startLocalFor(ctx, o.localBin, hc, pollers, stderr)
		if err != nil {
			return err
		}
		defer stop()
		// The floor answers with the body cmd/local gives, for the same size.
		if floorBody, err = sampleBody(ctx, hc, base, pollers[0]); err != nil {
			return err
		}
		bases["local"] = base
	}
	if slices.Contains(o.targets, "floor") {
		body, err := json.Marshal(floorBody)
		if err != nil {
			return err
		}
		base, stop, err := startFloor(ctx, string(body), stderr)
		if err != nil {
			return err
		}
		defer stop()
		bases["floor"] = base
	}

	fmt.Fprintf(stdout, "%d pollers, at most %d requests and %v per target, in %d rounds\n\n", o.c, o.n, o.duration, o.rounds)
	totals := map[string]*result{}
	for _, t := range o.targets {
		totals[t] = &result{}
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "round\ttarget\trequests\tseconds\treq/s\tp50\tp99\terrors\t5xx\twrong\t"
	fmt.Fprintln(tw, header)
	for round := 1; round <= o.rounds; round++ {
		for _, t := range o.targets {
			r, err := poll(ctx, hc, bases[t], pollers, o.n/o.rounds, o.duration/time.Duration(o.rounds))
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t\n", round, t, r.row())
			totals[t].add(r)
		}
	}
	for _, t := range o.targets {
		fmt.Fprintf(tw, "all\t%s\t%s\t\n", t, totals[t].row())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if l, f := totals["local"], totals["floor"]; l != nil && f != nil {
		ratio := l.rate() / f.rate()
		met := "met"
		if ratio < 0.5 {
			met = "MISSED"
		}
		fmt.Fprintf(stdout, "\nlocal/floor requests a second: %.2f (target at least 0.50: %s)\n", ratio, met)
	}
	for _, t := range o.targets {
		if r := totals[t]; r.errors+r.wrong > 0 {
			fmt.Fprintf(stdout, "%s: %d errors (%d of them 5xx), %d wrong answers; first: %s\n", t, r.errors, r.fiveXX, r.wrong, r.first)
			return errBadAnswers
		}
	}
	return nil
}

// poller is one user polling its own job.
type poller struct {
	user, token, job string
}

// newPollers returns c pollers with distinct users and, until cmd/local
// gives them real ones, distinct made-up job ids and tokens.
func newPollers(c int) []*poller {
	ps := make([]*poller, c)
	for i := range ps {
		ps[i] = &poller{
			user: fmt.Sprintf("load-user-%05d", i),
			job:  fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			// The size of a development token, for the floor alone.
			token: strings.Repeat("x", 40) + "." + strings.Repeat("y", 150) + "." + strings.Repeat("z", 43),
		}
	}
	return ps
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// startChild runs cmd, reads the address it listens on from its stdout and
// checks it is loopback. stop interrupts the child and waits for it.
func startChild(ctx context.Context, cmd *exec.Cmd, stderr io.Writer) (base string, stop func(), err error) {
	cmd.Stderr = stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	found := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, out) // #nosec G104 -- only keeps the child from blocking on a full pipe; a read error ends it the same way
	}()
	stop = func() {
		cmd.Process.Signal(os.Interrupt) // #nosec G104 -- fails only if the child has exited already, which is what is asked
		select {
		case <-drained: // the child closed its stdout: it is exiting
		case <-time.After(10 * time.Second):
			cmd.Process.Kill() // #nosec G104 -- fails only if the child has exited already
			<-drained
		}
		cmd.Wait() // #nosec G104 -- reaps the child it interrupted or killed: its exit status says nothing the measurements do not
	}
	select {
	case base = <-found:
	case <-drained:
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	if base == "" {
		stop()
		return "", nil, fmt.Errorf("%s printed no listening address", filepath.Base(cmd.Path))
	}
	u, err := url.Parse(base)
	if err != nil {
		stop()
		return "", nil, err
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		stop()
		return "", nil, fmt.Errorf("%s listens on %s, not loopback", filepath.Base(cmd.Path), base)
	}
	return base, stop, nil
}

// startLocal builds cmd/local, unless bin names one, and runs it on the
// in-memory fakes with limits no poller reaches.
func startLocal(ctx context.Context, bin string, stderr io.Writer) (string, func(), error) {
	if bin == "" {
		dir, err := os.MkdirTemp("", "vprstatus-load-")
		if err != nil {
			return "", nil, err
		}
		defer os.RemoveAll(dir) // the running binary stays open
		bin = filepath.Join(dir, "local")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/careervp/vprstatus/cmd/local") // #nosec G204 -- go build of this module's cmd/local into a temporary directory of its own
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return "", nil, fmt.Errorf("go build ./cmd/local: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, bin,
		"-addr", "127.0.0.1:0",
		"-backend", "fakes",
		"-log-level", "WARN",
		"-job-ttl", "0",
		"-rate-limit-rps", "1e9",
		"-rate-limit-burst", "1000000000",
	)
	// The per-address limit follows the per-user one unless the environment
	// sets it.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "RATE_LIMIT_") })
	return startChild(ctx, cmd, stderr)
}

// startFloor runs this command again as the floor server.
func startFloor(ctx context.Context, body string, stderr io.Writer) (string, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	return startChild(ctx, exec.CommandContext(ctx, self, "-serve-floor", body), stderr) // #nosec G204 -- this very binary, run again as the floor server
}

// serveFloor serves bench.Floor on loopback with body until ctx ends, with
// cmd/local's server settings.
func serveFloor(ctx context.Context, body string, stdout io.Writer) error {
	var b bench.Completed
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		return fmt.Errorf("-serve-floor: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           bench.Floor(b),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    32 << 10,
	}
	fmt.Fprintf(stdout, "floor listening on http://%s\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutCtx)
}

// startLocalFor starts cmd/local and sets it up for pollers (see
// setupLocal); stop ends it.
func startLocalFor(ctx context.Context, bin string, hc *http.Client, pollers []*poller, stderr io.Writer) (base string, stop func(), err error) {
	base, stop, err = startLocal(ctx, bin, stderr)
	if err != nil {
		return "", nil, err
	}
	setupCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := setupLocal(setupCtx, hc, base, pollers); err != nil {
		stop()
		return "", nil, fmt.Errorf("setting up cmd/local: %w", err)
	}
	return base, stop, nil
}

// setupLocal gives every poller a token and a job on cmd/local, and waits
// for the jobs to complete.
func setupLocal(ctx context.Context, hc *http.Client, base string, pollers []*poller) error {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	errs := make([]error, len(pollers))
	for i, p := range pollers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = setupPoller(ctx, hc, base, p)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func setupPoller(ctx context.Context, hc *http.Client, base string, p *poller) error {
	var tok struct {
		Token string `json:"token"`
	}
	if err := postJSON(ctx, hc, base+"/_local/token", map[string]string{"sub": p.user}, &tok); err != nil {
		return err
	}
	var job struct {
		JobID string `json:"job_id"`
	}
	err := postJSON(ctx, hc, base+"/_local/jobs", map[string]string{
		"user_id": p.user, "outcome": "COMPLETED", "pending_for": "0s", "processing_for": "0s",
	}, &job)
	if err != nil {
		return err
	}
	if tok.Token == "" || !status.ValidJobID(job.JobID) {
		return fmt.Errorf("%s: no token or job id from cmd/local", p.user)
	}
	p.token, p.job = tok.Token, job.JobID
	// Setting up is not measured: poll faster than the service asks, to
	// start sooner.
	c, err := p.newClient(base, hc, client.WithPollBounds(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		return err
	}
	s, err := c.Wait(ctx, p.job, nil)
	if err != nil {
		return fmt.Errorf("%s: job %s did not complete: %w", p.user, p.job, err)
	}
	if s.State != string(status.Completed) {
		return fmt.Errorf("%s: job %s ended %s", p.user, p.job, s.State)
	}
	return nil
}

// newClient is a client of the status API at base for p, on hc.
func (p *poller) newClient(base string, hc *http.Client, opts ...client.Option) (*client.Client, error) {
	token := p.token
	return client.New(base, append([]client.Option{
		client.WithHTTPClient(hc),
		client.WithToken(func(context.Context) (string, error) { return token, nil }),
	}, opts...)...)
}

func postJSON(ctx context.Context, hc *http.Client, u string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %d %s", u, resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

// get polls p's job once, reading the body into buf.
func get(ctx context.Context, hc *http.Client, base string, p *poller, buf *bytes.Buffer) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/vpr/status/"+p.job, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, 1<<20)); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, buf.Bytes(), nil
}

// sampleBody is cmd/local's answer for p's completed job.
func sampleBody(ctx context.Context, hc *http.Client, base string, p *poller) (bench.Completed, error) {
	var b bench.Completed
	code, body, err := get(ctx, hc, base, p, nil)
	if err != nil {
		return b, err
	}
	if code != http.StatusOK {
		return b, fmt.Errorf("sample answer: %d %s", code, body)
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return b, fmt.Errorf("sample answer: %w", err)
	}
	// The result URL names the sample's job; name none of the pollers'.
	b.ResultURL = strings.ReplaceAll(b.ResultURL, p.job, "ffffffff-ffff-4fff-bfff-ffffffffffff")
	return b, nil
}

// syntheticBody is a COMPLETED body of cmd/local's shape, for when the floor
// is measured alone.
func syntheticBody() bench.Completed {
	now := time.Now().UTC().Truncate(time.Second)
	return bench.Completed{
		Status: status.Completed, CreatedAt: now.Format(time.RFC3339), CompletedAt: now.Format(time.RFC3339),
		ResultURL: "http://127.0.0.1:40000/_local/results/results/ffffffff-ffff-4fff-bfff-ffffffffffff.json?expires=" +
			fmt.Sprint(now.Add(time.Hour).Unix()) + "&signature=" + strings.Repeat("0", 64),
		ResultURLExpiresAt: now.Add(time.Hour).Format(time.RFC3339),
		TokenUsage:         &status.TokenUsage{InputTokens: 5120, OutputTokens: 2048},
	}
}

// result is what polling one target gave.
type result struct {
	requests              int
	elapsed               time.Duration
	latencies             []time.Duration
	errors, fiveXX, wrong int
	first                 string // the first bad answer, described
}

func (r *result) add(o *result) {
	r.requests += o.requests
	r.elapsed += o.elapsed
	r.latencies = append(r.latencies, o.latencies...)
	r.errors += o.errors
	r.fiveXX += o.fiveXX
	r.wrong += o.wrong
	if r.first == "" {
		r.first = o.first
	}
}

func (r *result) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r *result) row() string {
	return fmt.Sprintf("%d\t%.2f\t%.0f\t%v\t%v\t%d\t%d\t%d",
		r.requests, r.elapsed.Seconds(), r.rate(),
		quantile(r.latencies, 0.50).Round(time.Microsecond), quantile(r.latencies, 0.99).Round(time.Microsecond),
		r.errors, r.fiveXX, r.wrong)
}

// poll runs the pollers against base until n requests are sent or d has
// passed, after a warm-up of a few untimed requests each.
func poll(ctx context.Context, hc *http.Client, base string, pollers []*poller, n int, d time.Duration) (*result, error) {
	owner := make(map[string]int, len(pollers))
	for i, p := range pollers {
		owner[p.job] = i
	}
	for range 3 {
		if err := each(pollers, func(i int, p *poller) error {
			_, _, err := get(ctx, hc, base, p, nil)
			return err
		}); err != nil {
			return nil, fmt.Errorf("warming up %s: %w", base, err)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var sent atomic.Int64
	parts := make([]result, len(pollers))
	start := time.Now()
	err := each(pollers, func(i int, p *poller) error {
		r := &parts[i]
		var buf bytes.Buffer
		for sent.Add(1) <= int64(n) && ctx.Err() == nil {
			t := time.Now()
			code, body, err := get(ctx, hc, base, p, &buf)
			lat := time.Since(t)
			if ctx.Err() != nil {
				break // cut off by the time bound: not an answer
			}
			r.requests++
			r.latencies = append(r.latencies, lat)
			if bad := check(code, body, err, i, p, owner); bad != "" {
				switch {
				case strings.HasPrefix(bad, "wrong"):
					r.wrong++
				default:
					r.errors++
					if code >= 500 {
						r.fiveXX++
					}
				}
				if r.first == "" {
					r.first = bad
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	total := &result{elapsed: time.Since(start)}
	for i := range parts {
		total.add(&parts[i])
	}
	return total, nil
}

// check describes what is wrong with an answer to poller i, or returns "".
// Answers naming another poller's job begin with "wrong".
func check(code int, body []byte, err error, i int, p *poller, owner map[string]int) string {
	if err != nil {
		return err.Error()
	}
	if code != http.StatusOK {
		return fmt.Sprintf("%d %s", code, body)
	}
	if bad := leak(body, i, p, owner); bad != "" {
		return bad
	}
	var b bench.Completed
	if err := json.Unmarshal(body, &b); err != nil {
		return fmt.Sprintf("200 with a body that is not JSON: %v", err)
	}
	if b.JobID != p.job || b.Status != status.Completed {
		return fmt.Sprintf("wrong: %s polling %s got job %q, status %q", p.user, p.job, b.JobID, b.Status)
	}
	return ""
}

// leak describes the job id of another poller's that body holds, if any,
// in words beginning with "wrong".
func leak(body []byte, i int, p *poller, owner map[string]int) string {
	for j := 0; j+36 <= len(body); j++ {
		if body[j+8] != '-' || body[j+13] != '-' {
			continue
		}
		if id := string(body[j : j+36]); status.ValidJobID(id) {
			if k, ok := owner[id]; ok && k != i {
				return fmt.Sprintf("wrong: %s got job %s, poller %d's", p.user, id, k)
			}
		}
	}
	return ""
}

// each runs fn for every poller at once and waits for all.
func each(pollers []*poller, fn func(i int, p *poller) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(pollers))
	for i, p := range pollers {
		wg.Go(func() { errs[i] = fn(i, p) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
