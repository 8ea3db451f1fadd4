package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/careervp/vprstatus/bench"
	"github.com/careervp/vprstatus/s3result"
	"github.com/careervp/vprstatus/status"
)

// scenario is what one benchmark sends: reqs through h, in turn, each
// answered with want. The benchmarks time it; TestScenarios checks it, so
// that no benchmark can silently measure a 401.
type scenario struct {
	h    http.Handler
	reqs []*http.Request
	want int
	job  string // the job_id a 2xx body must name
}

// statusCases are the sub-benchmarks of BenchmarkStatus: alice polling with
// a token the cache holds.
var statusCases = []struct {
	name string
	id   string
	inm  bool // If-None-Match with the job's current ETag
	want int
}{
	{"pending", idPending, false, http.StatusAccepted},
	{"processing", idProcessing, false, http.StatusAccepted},
	{"completed", idCompleted, false, http.StatusOK},
	{"failed", idFailed, false, http.StatusOK},
	{"not_found", idAbsent, false, http.StatusNotFound},
	{"forbidden", idBobs, false, http.StatusForbidden},
	{"not_modified", idPending, true, http.StatusNotModified},
}

// statusScenario is alice polling job id (with the ETag of its last answer
// when inm), her token already verified and cached.
func statusScenario(tb testing.TB, id string, inm bool, want int) scenario {
	tb.Helper()
	f := newFixture(tb, fixtureOptions{})
	tok := f.token(tb, alice, "")
	r := request(id, tok)
	if inm {
		r.Header.Set("If-None-Match", serve(f.handler, request(id, tok)).Header().Get("ETag"))
	}
	return scenario{h: f.handler, reqs: []*http.Request{r}, want: want, job: id}
}

// floorScenario is the floor answering the request of the completed case
// with the body the handler writes for it.
func floorScenario(tb testing.TB) scenario {
	tb.Helper()
	sc := statusScenario(tb, idCompleted, false, http.StatusOK)
	w := serve(sc.h, sc.reqs[0])
	var body bench.Completed
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != http.StatusOK {
		tb.Fatalf("completed answer: %d %s (%v)", w.Code, w.Body, err)
	}
	sc.h = bench.Floor(body)
	return sc
}

// A cold token is one the cache does not hold, so its signature is checked.
// The cold-token benchmarks cycle, in order, through coldPool distinct
// tokens (same user, distinct jti) in front of a cache of coldCacheSize:
// a cache that small is one shard, a ring that drops its oldest entry, so
// each token has been pushed out by the time it comes round again and every
// request misses, then puts its token, evicting one, as a full production
// cache does. The handler is otherwise the complete one; only the cache's
// size differs, which changes no per-request work. (A pool larger than the
// default cache of 10,000 would take minutes of RSA signing to mint.)
const (
	coldCacheSize = 256
	coldPool      = 2 * coldCacheSize
)

// coldScenario is alice polling her completed job with a fresh token signed
// with alg each time.
func coldScenario(tb testing.TB, alg string, o fixtureOptions) scenario {
	tb.Helper()
	o.alg, o.cacheSize = alg, coldCacheSize
	f := newFixture(tb, o)
	toks := coldTokens(tb, f)
	reqs := make([]*http.Request, len(toks))
	for i, tok := range toks {
		reqs[i] = request(idCompleted, tok)
	}
	return scenario{h: f.handler, reqs: reqs, want: http.StatusOK, job: idCompleted}
}

// pools holds minted token pools by alg, across benchmark runs: minting
// hundreds of RS256 tokens takes about a second.
var pools sync.Map // alg → *pool

type pool struct {
	once sync.Once
	toks []string
}

// coldTokens returns coldPool distinct tokens of alice's, signed with f's
// algorithm.
func coldTokens(tb testing.TB, f *fixture) []string {
	tb.Helper()
	p, _ := pools.LoadOrStore(f.alg, new(pool))
	pl := p.(*pool)
	pl.once.Do(func() {
		pl.toks = make([]string, coldPool)
		for i := range pl.toks {
			pl.toks[i] = f.token(tb, alice, fmt.Sprintf("cold-%06d", i))
		}
	})
	if len(pl.toks) != coldPool || pl.toks[coldPool-1] == "" {
		tb.Fatal("token pool not minted")
	}
	return pl.toks
}

// s3Scenario is alice polling her completed job, its URL presigned by
// s3result over a real S3 client, as production presigns (the fast path),
// HeadObject faked.
func s3Scenario(tb testing.TB) scenario {
	tb.Helper()
	f := newFixture(tb, fixtureOptions{signer: s3Signer(tb)})
	tok := f.token(tb, alice, "")
	return scenario{h: f.handler, reqs: []*http.Request{request(idCompleted, tok)}, want: http.StatusOK, job: idCompleted}
}

// s3Signer is s3result's signer over an S3 client configured as
// awsenv.Load's (config.LoadDefaultConfig: a credentials cache, response
// checksums validated when supported) and its bucket, HeadObject faked;
// opts add to it. Unless opts ask for the SDK's presigner, it must have
// taken the fast path, as production does.
func s3Signer(tb testing.TB, opts ...s3result.Option) *s3result.Signer {
	tb.Helper()
	client := s3.NewFromConfig(aws.Config{
		Region:                     "eu-west-1",
		Credentials:                aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKIDBENCH", "bench-secret", "")),
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	})
	s := s3result.New(client, "vpr-results", append([]s3result.Option{s3result.WithHeadObject(headOK{})}, opts...)...)
	if name, why := s.Presigner(); name != "fast" && len(opts) == 0 {
		tb.Fatalf("s3result presigns with %s (%s), not the fast path", name, why)
	}
	return s
}

// headOK finds every object.
type headOK struct{}

var headFound = &s3.HeadObjectOutput{}

func (headOK) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return headFound, nil
}

// The parallel benchmark's users, each with a job in every state.
const parallelUsers = 256

// parallelScenario is parallelUsers users polling their own jobs; its
// requests are split into one set per goroutine, since ServeMux writes into
// a request it routes, so no two goroutines may share one.
type parallelScenario struct {
	h     http.Handler
	sets  [][]*http.Request
	wants [][]int
	jobs  [][]string
}

// newParallel builds the scenario for goroutines request sets, its tokens
// verified and cached.
func newParallel(tb testing.TB, goroutines int) parallelScenario {
	tb.Helper()
	f := newFixture(tb, fixtureOptions{})
	toks := userTokens(tb, f)
	ps := parallelScenario{h: f.handler, sets: make([][]*http.Request, goroutines),
		wants: make([][]int, goroutines), jobs: make([][]string, goroutines)}
	now := time.Now().UTC()
	created := now.Add(-time.Minute).Format(time.RFC3339)
	ttl := now.Add(24 * time.Hour)
	n := 0
	for u := range parallelUsers {
		user := fmt.Sprintf("user-%04d", u)
		for s, state := range []status.State{status.Pending, status.Processing, status.Completed, status.Failed} {
			id := fmt.Sprintf("%08x-%04x-4000-8000-000000000000", u, s)
			want := http.StatusOK
			switch state {
			case status.Pending, status.Processing:
				f.jobs.Put(status.Job{ID: id, UserID: user, State: state, CreatedAt: created, ExpiresAt: ttl})
				want = http.StatusAccepted
			case status.Completed:
				f.jobs.Put(f.completedJob(id, user, created, created, created, ttl))
			case status.Failed:
				f.jobs.Put(status.Job{ID: id, UserID: user, State: state, CreatedAt: created, Error: "failed", ExpiresAt: ttl})
			}
			// Interleaved, so each goroutine polls every user's jobs in
			// every state.
			g := n % goroutines
			n++
			ps.sets[g] = append(ps.sets[g], request(id, toks[u]))
			ps.wants[g] = append(ps.wants[g], want)
			ps.jobs[g] = append(ps.jobs[g], id)
		}
		// The first poll verifies the token and caches it.
		if w := serve(f.handler, request(fmt.Sprintf("%08x-%04x-4000-8000-000000000000", u, 0), toks[u])); w.Code != http.StatusAccepted {
			tb.Fatalf("%s: %d: %s", user, w.Code, w.Body)
		}
	}
	return ps
}

// userTokens returns a token for each of the parallel benchmark's users,
// minted once per process.
func userTokens(tb testing.TB, f *fixture) []string {
	tb.Helper()
	p, _ := pools.LoadOrStore("users/"+f.alg, new(pool))
	pl := p.(*pool)
	pl.once.Do(func() {
		pl.toks = make([]string, parallelUsers)
		for u := range pl.toks {
			pl.toks[u] = f.token(tb, fmt.Sprintf("user-%04d", u), "")
		}
	})
	if len(pl.toks) != parallelUsers || pl.toks[parallelUsers-1] == "" {
		tb.Fatal("token pool not minted")
	}
	return pl.toks
}

// parallelGoroutines is how many goroutines b.RunParallel starts.
func parallelGoroutines() int { return runtime.GOMAXPROCS(0) }
