package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/careervp/vprstatus/client"
)

// Exit codes, as the package documentation lists them.
const (
	exitCompleted    = 0
	exitFailed       = 1
	exitNotFound     = 2
	exitUnauthorized = 3
	exitTimeout      = 4
	exitOther        = 5
)

// jobFailedError: the job ended FAILED, which the exit code reports.
type jobFailedError struct{ id, reason string }

func (e *jobFailedError) Error() string { return fmt.Sprintf("job %s FAILED: %s", e.id, e.reason) }

// exitCode maps what run returned to the command's exit code.
func exitCode(err error) int {
	var failed *jobFailedError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitCompleted
	case errors.As(err, &failed):
		return exitFailed
	case errors.Is(err, client.ErrNotFound), errors.Is(err, client.ErrForbidden), errors.Is(err, client.ErrResultGone):
		return exitNotFound
	case errors.Is(err, client.ErrUnauthorized):
		return exitUnauthorized
	case errors.Is(err, context.DeadlineExceeded):
		return exitTimeout
	}
	return exitOther
}

const usage = `usage: vprpoll [-base URL] [-token T | env VPR_TOKEN] [-fetch] [-timeout D] JOB_ID

Waits for job JOB_ID to complete or fail, polling as the service asks, and
prints its final status JSON, or with -fetch its result JSON.

Exit status: 0 completed, 1 the job failed, 2 not found, forbidden or the
result is gone, 3 unauthorized, 4 timeout, 5 anything else.

`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	base := fs.String("base", "http://127.0.0.1:8080", "base URL of the status API")
	token := fs.String("token", "", "bearer token (default $VPR_TOKEN, which keeps it out of the process list)")
	fetch := fs.Bool("fetch", false, "print the result JSON of the completed job instead of its status")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long (0: never)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want one JOB_ID")
	}
	jobID := fs.Arg(0)
	tok := cmp.Or(*token, getenv("VPR_TOKEN"))
	if tok == "" {
		return fmt.Errorf("no token: set VPR_TOKEN or pass -token (%w)", client.ErrUnauthorized)
	}
	if *timeout < 0 {
		return errors.New("-timeout must not be negative")
	}
	c, err := client.New(*base, client.WithToken(func(context.Context) (string, error) { return tok, nil }))
	if err != nil {
		return err
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}

	p := newProgress(stderr, isTerminal(stderr), time.Now)
	s, err := c.Wait(ctx, jobID, p.update)
	p.finish()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("job %s not finished within -timeout %v (%w)", jobID, *timeout, err)
	}
	if err != nil {
		return err
	}
	if s.State == "FAILED" || !*fetch {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if err := writeJSON(stdout, b); err != nil {
			return err
		}
		if s.State == "FAILED" {
			return &jobFailedError{id: s.JobID, reason: s.Error}
		}
		return nil
	}
	b, err := c.FetchResult(ctx, s)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("result of job %s not fetched within -timeout %v (%w)", jobID, *timeout, err)
	}
	if err != nil {
		return err
	}
	return writeJSON(stdout, b) // FetchResult checked that b is JSON
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress reports the job's state on stderr: a line per change, or on a
// terminal one line rewritten in place, each second too (the time in the
// state goes on).
type progress struct {
	out console
	tty bool
	now func() time.Time

	mu    sync.Mutex
	state string
	since time.Time
	asked time.Duration

	stop, stopped chan struct{} // the terminal's ticker
}

func newProgress(w io.Writer, tty bool, now func() time.Time) *progress {
	p := &progress{out: console{w}, tty: tty, now: now}
	if tty {
		p.stop, p.stopped = make(chan struct{}), make(chan struct{})
		go p.tick()
	}
	return p
}

// update is Wait's onUpdate.
func (p *progress) update(s *client.Status) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state, p.since, p.asked = s.State, p.now(), s.RetryAfter
	if p.tty {
		p.draw()
		return
	}
	line := p.since.Format(time.RFC3339) + " " + s.State
	if s.RetryAfter > 0 {
		line += fmt.Sprintf(", asked to wait %v", s.RetryAfter)
	}
	p.out.line(line)
}

// draw rewrites the terminal's line; p.mu is held.
func (p *progress) draw() {
	if p.state == "" {
		return
	}
	in := p.now().Sub(p.since).Truncate(time.Second)
	line := fmt.Sprintf("%s %s for %v", p.since.Format(time.TimeOnly), p.state, in)
	if p.asked > 0 {
		line += fmt.Sprintf(", asked to wait %v", p.asked)
	}
	p.out.redraw(line)
}

func (p *progress) tick() {
	defer close(p.stopped)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
		case <-p.stop:
			return
		}
	}
}

// finish stops the ticker and ends the terminal's line.
func (p *progress) finish() {
	if !p.tty {
		return
	}
	close(p.stop)
	<-p.stopped
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != "" {
		p.out.endLine()
	}
}
