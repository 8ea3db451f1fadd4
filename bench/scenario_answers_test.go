package bench_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/careervp/vprstatus/auth"
	"github.com/careervp/vprstatus/fakes"
)

// check sends r through sc's handler once and checks the answer: the code,
// and for a 2xx the job it names.
func check(t *testing.T, sc scenario, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := serve(sc.h, r)
	if w.Code != sc.want {
		t.Fatalf("code %d, want %d: %s", w.Code, sc.want, w.Body)
	}
	if w.Code >= 300 {
		return w
	}
	var body struct {
		JobID string `json:"job_id"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.JobID != sc.job {
		t.Fatalf("body names job %q, want %q (%v): %s", body.JobID, sc.job, err, w.Body)
	}
	return w
}

// TestScenarios sends every benchmark's requests through its handler and
// checks the answers, so that a benchmark cannot silently measure a 401 or
// a 429. It asserts nothing about time.
func TestScenarios(t *testing.T) {
	t.Run("floor", func(t *testing.T) {
		t.Parallel()
		sc := floorScenario(t)
		floor := check(t, sc, sc.reqs[0])
		real := serve(statusScenario(t, idCompleted, false, http.StatusOK).h, sc.reqs[0])
		// The same body, but for the URL's signature and expiry, which
		// change every second: the same size, the same members.
		if floor.Body.Len() != real.Body.Len() {
			t.Errorf("floor body is %d bytes, the handler's %d:\n%s\n%s", floor.Body.Len(), real.Body.Len(), floor.Body, real.Body)
		}
	})
	for _, c := range statusCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sc := statusScenario(t, c.id, c.inm, c.want)
			check(t, sc, sc.reqs[0])
			check(t, sc, sc.reqs[0]) // and again, from the cache
		})
	}
	for _, a := range algs {
		t.Run("cold_"+a.name, func(t *testing.T) {
			t.Parallel()
			verified := new(fakes.Verifier)
			sc := coldScenario(t, a.alg, fixtureOptions{wrap: func(v auth.TokenVerifier) auth.TokenVerifier {
				verified.VerifyFunc = v.Verify
				return verified
			}})
			// Round the pool twice: a benchmark runs many rounds, and every
			// request of every round must check a signature.
			for range 2 {
				for _, r := range sc.reqs {
					check(t, sc, r)
				}
			}
			if got, want := verified.Calls(), int64(2*len(sc.reqs)); got != want {
				t.Errorf("%d signature checks for %d requests: the cache hit", got, want)
			}
		})
	}
	t.Run("s3_presign", func(t *testing.T) {
		t.Parallel()
		sc := s3Scenario(t)
		w := check(t, sc, sc.reqs[0])
		if !strings.Contains(w.Body.String(), "https://vpr-results.s3.eu-west-1.amazonaws.com/results/"+idCompleted+".json?") ||
			!strings.Contains(w.Body.String(), "X-Amz-Signature=") {
			t.Errorf("not a presigned S3 URL: %s", w.Body)
		}
	})
	t.Run("parallel", func(t *testing.T) {
		t.Parallel()
		ps := newParallel(t, 2)
		for g, set := range ps.sets {
			for i, r := range set {
				check(t, scenario{h: ps.h, want: ps.wants[g][i], job: ps.jobs[g][i]}, r)
			}
		}
	})
}

// TestCompletedAllocs holds BenchmarkStatus/completed to its budget of 50
// allocations. Allocation counts, unlike times, do not depend on the
// machine; the race detector makes sync.Pool drop items, so it is skipped
// under -race.
func TestCompletedAllocs(t *testing.T) {
	checkAllocs(t, statusScenario(t, idCompleted, false, http.StatusOK), 50)
}

// TestS3PresignAllocs holds BenchmarkStatusS3Presign, the poll production
// answers with a real presigned URL, to its budget of 90 allocations.
func TestS3PresignAllocs(t *testing.T) {
	checkAllocs(t, s3Scenario(t), 90)
}

// checkAllocs fails if an answer of sc takes more than budget allocations.
func checkAllocs(t *testing.T, sc scenario, budget float64) {
	t.Helper()
	if raceEnabled {
		t.Skip("allocation counts are not comparable under the race detector")
	}
	w := newDiscard()
	allocs := testing.AllocsPerRun(100, func() {
		w.reset()
		sc.h.ServeHTTP(w, sc.reqs[0])
	})
	if w.code != sc.want {
		t.Fatalf("code %d, want %d", w.code, sc.want)
	}
	if allocs > budget {
		t.Errorf("%v allocations per answer, budget %v", allocs, budget)
	}
	t.Logf("%v allocations per answer", allocs)
}
