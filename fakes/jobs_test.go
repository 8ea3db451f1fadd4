package fakes_test

import (
	"context"
	"errors"
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
