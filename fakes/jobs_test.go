package fakes_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/status"
)

func TestDeleteExpired(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clk := fakes.NewClock(t0)
	s := fakes.NewJobStore(clk.Now)
	s.Put(status.Job{ID: "short", ExpiresAt: t0.Add(time.Second)})
	s.Put(status.Job{ID: "long", ExpiresAt: t0.Add(time.Hour)})
	s.Put(status.Job{ID: "forever"})
	if gone := s.DeleteExpired(); len(gone) != 0 {
		t.Fatalf("deleted %v before any ttl passed", gone)
	}
	clk.Advance(time.Second)
	gone := s.DeleteExpired()
	if len(gone) != 1 || gone[0].ID != "short" {
		t.Fatalf("deleted %v, want the job whose ttl passed", gone)
	}
	for id, want := range map[string]error{"short": status.ErrNotFound, "long": nil, "forever": nil} {
		if _, err := s.Job(context.Background(), id); !errors.Is(err, want) && err != want {
			t.Errorf("%s: %v, want %v", id, err, want)
		}
	}
}

// TestExpiredJobsFreeTheirMemory: what a development server made with 100,000
// short-lived jobs, each with a result, is given back once they expire.
func TestExpiredJobsFreeTheirMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100,000 jobs")
	}
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clk := fakes.NewClock(t0)
	jobs := fakes.NewJobStore(clk.Now)
	results, err := fakes.NewResults("http://127.0.0.1/_local/results/", time.Hour, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 200)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	start := heap()
	const n = 100_000
	for i := range n {
		id := "00000000-0000-4000-8000-" + strconv.Itoa(100_000_000_000+i)
		key := "results/" + id + ".json"
		jobs.Put(status.Job{ID: id, UserID: "demo-user", State: status.Completed, CreatedAt: t0.Format(time.RFC3339),
			ResultKey: key, ExpiresAt: t0.Add(time.Second)})
		results.Put(key, body)
	}
	full := heap()
	clk.Advance(2 * time.Second)
	for _, j := range jobs.DeleteExpired() {
		results.Delete(j.ResultKey)
	}
	end := heap()
	runtime.KeepAlive(jobs) // or the GC frees the stores themselves
	runtime.KeepAlive(results)
	const slack = 3 << 20
	t.Logf("heap: %.1f MiB at start, %.1f MiB with %d jobs, %.1f MiB after they expired",
		mib(start), mib(full), n, mib(end))
	if full < start+10<<20 {
		t.Fatalf("the jobs took only %.1f MiB: the measure is off", mib(full-start))
	}
	if end > start+slack {
		t.Errorf("%.1f MiB still held after the jobs expired, want under %.0f MiB", mib(end-start), mib(slack))
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
