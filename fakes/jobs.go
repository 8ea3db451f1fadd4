// Package fakes holds in-memory stand-ins for the service's dependencies: a
// job store, a result signer that serves what it signs, and token minting
// with a matching JWKS. They are real implementations, safe for concurrent
// use, for tests, benchmarks and cmd/local.
package fakes

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/careervp/vprstatus/status"
)

// Faults injects failures into a fake. The zero value injects none.
type Faults struct {
	mu        sync.Mutex
	err       error
	latency   time.Duration
	throttled bool
}

// SetError makes every call fail with err (nil clears it).
func (f *Faults) SetError(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// SetLatency delays every call by d, or until its context ends.
func (f *Faults) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// SetThrottled makes every call fail as a throttled dependency would.
func (f *Faults) SetThrottled(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttled = on
}

// inject applies the configured faults to one call.
func (f *Faults) inject(ctx context.Context, op string) error {
	f.mu.Lock()
	err, latency, throttled := f.err, f.latency, f.throttled
	f.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
	}
	if throttled {
		return fmt.Errorf("%s: %w: throttled", op, status.ErrUnavailable)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// JobStore is an in-memory status.JobStore.
type JobStore struct {
	Faults
	mu   sync.RWMutex
	jobs table[status.Job]
	now  func() time.Time
}

var _ status.JobStore = (*JobStore)(nil)

// NewJobStore returns an empty store whose ttl checks use now (time.Now when nil).
func NewJobStore(now func() time.Time) *JobStore {
	if now == nil {
		now = time.Now
	}
	return &JobStore{jobs: newTable[status.Job](), now: now}
}

// Put stores a copy of j, replacing any job with its id.
func (s *JobStore) Put(j status.Job) {
	if j.TokenUsage != nil {
		tu := *j.TokenUsage
		j.TokenUsage = &tu
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs.put(j.ID, j)
}

// Update applies fn to the stored job with id, atomically; it reports
// whether the job was there.
func (s *JobStore) Update(id string, fn func(*status.Job)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs.m[id]
	if !ok {
		return false
	}
	fn(&j)
	s.jobs.put(id, j)
	return true
}

// Delete removes the job with id.
func (s *JobStore) Delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs.delete(id)
}

// DeleteExpired deletes the jobs whose ttl has passed, as DynamoDB's TTL
// does (there, up to two days late), and returns them, so that their results
// can go too.
func (s *JobStore) DeleteExpired() []status.Job {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs.deleteFunc(func(j status.Job) bool { return j.Expired(now) })
}

// Job returns a copy of the job with id. Like DynamoDB it keeps expired
// items; unlike DynamoDB's GetItem it does not return them.
func (s *JobStore) Job(ctx context.Context, id string) (*status.Job, error) {
	if err := s.inject(ctx, "fake job store"); err != nil {
		return nil, err
	}
	s.mu.RLock()
	j, ok := s.jobs.m[id]
	s.mu.RUnlock()
	if !ok || j.Expired(s.now()) {
		return nil, fmt.Errorf("job %s: %w", id, status.ErrNotFound)
	}
	if j.TokenUsage != nil {
		tu := *j.TokenUsage
		j.TokenUsage = &tu
	}
	return &j, nil
}
