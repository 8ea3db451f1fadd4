package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/careervp/vprstatus/status"
)

// runWait is -mode wait: rounds of pollers each waiting for a job of its
// own with package client, as a real client would.
func runWait(ctx context.Context, o options, hc *http.Client, stdout, stderr io.Writer) error {
	pollers := newPollers(o.c)
	base, stop, err := startLocalFor(ctx, o.localBin, hc, pollers, stderr)
	if err != nil {
		return err
	}
	defer stop()

	round := o.duration / time.Duration(o.rounds)
	fmt.Fprintf(stdout, "%d pollers waiting with package client for jobs PENDING %v then PROCESSING %v, in %d rounds of at most %v\n\n",
		o.c, o.pendingFor, o.processFor, o.rounds, round)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\ttarget\tjobs\trequests\treq/job\t304s\tseconds\treq/s\tp50\tp99\tlag p50\tlag p99\terrors\t5xx\twrong\t")
	total := &waitResult{}
	for n := 1; n <= o.rounds; n++ {
		r, err := waitRound(ctx, hc, base, pollers, o.pendingFor, o.processFor, round)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%d\tlocal\t%s\t\n", n, r.row())
		total.add(r)
	}
	fmt.Fprintf(tw, "all\tlocal\t%s\t\n", total.row())
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nlag: from when a job finished (its creation + %v) to when its poller knew.\n", o.pendingFor+o.processFor)
	if total.errors+total.fiveXX+total.wrong > 0 {
		fmt.Fprintf(stdout, "local: %d jobs not done, %d 5xx answers, %d wrong answers; first: %s\n", total.errors, total.fiveXX, total.wrong, total.first)
		return errBadAnswers
	}
	return nil
}

// waitResult is what one round of waiting pollers gave.
type waitResult struct {
	// requests counts status requests, latencies times them, errors
	// counts jobs that were not waited for and fetched, fiveXX the 5xx
	// answers (retried ones too).
	result
	jobs, notModified int
	// lags are, for each job, how long after it finished its poller knew.
	lags []time.Duration
}

func (r *waitResult) add(o *waitResult) {
	r.result.add(&o.result)
	r.jobs += o.jobs
	r.notModified += o.notModified
	r.lags = append(r.lags, o.lags...)
}

func (r *waitResult) row() string {
	perJob := 0.0
	if r.jobs > 0 {
		perJob = float64(r.requests) / float64(r.jobs)
	}
	return fmt.Sprintf("%d\t%d\t%.1f\t%d\t%.2f\t%.1f\t%v\t%v\t%v\t%v\t%d\t%d\t%d",
		r.jobs, r.requests, perJob, r.notModified, r.elapsed.Seconds(), r.rate(),
		quantile(r.latencies, 0.50).Round(time.Microsecond), quantile(r.latencies, 0.99).Round(time.Microsecond),
		quantile(r.lags, 0.50).Round(time.Millisecond), quantile(r.lags, 0.99).Round(time.Millisecond),
		r.errors, r.fiveXX, r.wrong)
}

// quantile is the p-quantile of ds, which it sorts.
func quantile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}

// waitRound gives every poller a new job, then has each wait for its own
// and fetch its result, within d.
func waitRound(ctx context.Context, hc *http.Client, base string, pollers []*poller, pending, processing, d time.Duration) (*waitResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	finishes := make([]time.Time, len(pollers))
	err := each(pollers, func(i int, p *poller) error {
		var job struct {
			JobID string `json:"job_id"`
		}
		err := postJSON(ctx, hc, base+"/_local/jobs", map[string]string{
			"user_id": p.user, "outcome": string(status.Completed),
			"pending_for": pending.String(), "processing_for": processing.String(),
		}, &job)
		if err != nil {
			return err
		}
		if !status.ValidJobID(job.JobID) {
			return fmt.Errorf("%s: no job id from cmd/local", p.user)
		}
		// cmd/local started the job's clock before it answered.
		p.job, finishes[i] = job.JobID, time.Now().Add(pending+processing)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("creating jobs: %w", err)
	}
	owner := make(map[string]int, len(pollers))
	for i, p := range pollers {
		owner[p.job] = i
	}
	parts := make([]waitResult, len(pollers))
	if err := each(pollers, func(i int, p *poller) error {
		parts[i] = waitJob(ctx, hc, base, i, p, owner, finishes[i])
		return nil
	}); err != nil {
		return nil, err
	}
	total := &waitResult{result: result{elapsed: time.Since(start)}}
	for i := range parts {
		total.add(&parts[i])
	}
	return total, nil
}

// waitJob has poller i wait for its job, which finishes at finish, and
// fetch its result.
func waitJob(ctx context.Context, hc *http.Client, base string, i int, p *poller, owner map[string]int, finish time.Time) waitResult {
	var r waitResult
	rec := &recorder{next: hc.Transport}
	fail := func(what string, err error) waitResult {
		r.errors++
		r.first = fmt.Sprintf("%s, job %s: %s: %v", p.user, p.job, what, err)
		rec.into(&r)
		return r
	}
	c, err := p.newClient(base, &http.Client{Transport: rec, Timeout: hc.Timeout})
	if err != nil {
		return fail("client", err)
	}
	s, err := c.Wait(ctx, p.job, nil)
	known := time.Now()
	if err != nil {
		return fail("waiting", err)
	}
	if s.State != string(status.Completed) {
		return fail("waiting", fmt.Errorf("ended %s", s.State))
	}
	b, err := c.FetchResult(ctx, s)
	if err != nil {
		return fail("fetching the result", err)
	}
	if bad := checkResult(b, i, p, owner); bad != "" {
		r.wrong++
		r.first = bad
	}
	r.jobs = 1
	r.lags = append(r.lags, known.Sub(finish))
	rec.into(&r)
	return r
}

// checkResult describes what is wrong with the result poller i fetched, or
// returns "". Results naming another poller's job begin with "wrong".
func checkResult(b []byte, i int, p *poller, owner map[string]int) string {
	if bad := leak(b, i, p, owner); bad != "" {
		return bad
	}
	var res struct {
		JobID string `json:"job_id"`
	}
	if err := json.Unmarshal(b, &res); err != nil || res.JobID != p.job {
		return fmt.Sprintf("wrong: %s fetched the result of job %q for job %s", p.user, res.JobID, p.job)
	}
	return ""
}

// recorder is an http.RoundTripper that counts one poller's requests and
// times the status requests, to their answers' header.
type recorder struct {
	next http.RoundTripper

	mu          sync.Mutex
	requests    int
	notModified int
	fiveXX      int
	latencies   []time.Duration
}

func (rec *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := rec.next.RoundTrip(r)
	lat := time.Since(start)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !strings.HasPrefix(r.URL.Path, "/api/vpr/status/") {
		return resp, err // a result
	}
	rec.requests++
	rec.latencies = append(rec.latencies, lat)
	if err == nil {
		switch {
		case resp.StatusCode == http.StatusNotModified:
			rec.notModified++
		case resp.StatusCode >= 500:
			rec.fiveXX++
		}
	}
	return resp, err
}

// into adds what rec counted to r.
func (rec *recorder) into(r *waitResult) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	r.requests += rec.requests
	r.notModified += rec.notModified
	r.fiveXX += rec.fiveXX
	r.latencies = append(r.latencies, rec.latencies...)
}

var _ http.RoundTripper = (*recorder)(nil)
