package bench_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/careervp/vprstatus/s3result"
	"github.com/careervp/vprstatus/status"
)

// run times sc: its requests in turn, each into the same reset writer,
// every answer's code checked.
func run(b *testing.B, sc scenario) {
	w := newDiscard()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w.reset()
		sc.h.ServeHTTP(w, sc.reqs[i])
		if w.code != sc.want {
			b.Fatalf("request %d: code %d, want %d", i, w.code, sc.want)
		}
		if i++; i == len(sc.reqs) {
			i = 0
		}
	}
}

// BenchmarkFloor is the floor: a bare ServeMux route writing the completed
// case's body with encoding/json, for the completed case's request, into the
// same writer. Every ratio is taken against it.
func BenchmarkFloor(b *testing.B) {
	run(b, floorScenario(b))
}

// BenchmarkStatus is alice polling her jobs with a token the cache holds:
// the common case, a client polling every few seconds.
func BenchmarkStatus(b *testing.B) {
	for _, c := range statusCases {
		b.Run(c.name, func(b *testing.B) {
			sc := statusScenario(b, c.id, c.inm, c.want)
			warm(b, sc)
			run(b, sc)
		})
	}
}

// BenchmarkStatusColdToken is the completed case with a token the cache does
// not hold, so its signature is checked (see coldPool).
func BenchmarkStatusColdToken(b *testing.B) {
	for _, a := range algs {
		b.Run(a.name, func(b *testing.B) {
			run(b, coldScenario(b, a.alg, fixtureOptions{}))
		})
	}
}

// BenchmarkJWTParse is golang-jwt's own parse-and-verify of the cold-token
// benchmarks' tokens into MapClaims, with the same validation and the key
// at hand: with BenchmarkStatus/completed, what a cold token should cost.
func BenchmarkJWTParse(b *testing.B) {
	for _, a := range algs {
		b.Run(a.name, func(b *testing.B) {
			f := newFixture(b, fixtureOptions{alg: a.alg})
			toks := coldTokens(b, f)
			p, kf := jwtParser(f.iss, a.alg)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := p.ParseWithClaims(toks[i], jwt.MapClaims{}, kf); err != nil {
					b.Fatal(err)
				}
				if i++; i == len(toks) {
					i = 0
				}
			}
		})
	}
}

// BenchmarkStatusS3Presign is the completed case with the URL presigned by
// s3result over a real S3 client, as production presigns; HeadObject is
// faked.
func BenchmarkStatusS3Presign(b *testing.B) {
	sc := s3Scenario(b)
	warm(b, sc)
	run(b, sc)
}

// BenchmarkPresign is s3result's SignResult alone, HeadObject faked: sdk
// presigns through s3.PresignClient (the client's whole middleware stack
// and endpoint rules per URL), fast as production does (the endpoint
// resolved once, the SDK's v4.Signer per URL).
func BenchmarkPresign(b *testing.B) {
	for _, c := range []struct {
		name string
		opts []s3result.Option
	}{
		{"sdk", []s3result.Option{s3result.WithSDKPresigner()}},
		{"fast", nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := s3Signer(b, c.opts...)
			ctx := context.Background()
			key := "results/" + idCompleted + ".json"
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.SignResult(ctx, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFakeSigner is the fake result signer alone: the part of
// BenchmarkStatus/completed spent in fakes.Results.SignResult (an HMAC
// keyed afresh, url.Values, URL.String), which production replaces with
// s3result. What completed costs beyond it is the handler's own.
func BenchmarkFakeSigner(b *testing.B) {
	f := newFixture(b, fixtureOptions{})
	ctx := context.Background()
	key := "results/" + idCompleted + ".json"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.results.SignResult(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStatusParallel is many users polling their own jobs, in every
// state, from GOMAXPROCS goroutines at once; their tokens are cached.
func BenchmarkStatusParallel(b *testing.B) {
	n := parallelGoroutines()
	ps := newParallel(b, n)
	var next atomic.Int32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := int(next.Add(1)-1) % n
		reqs, wants := ps.sets[g], ps.wants[g]
		w := newDiscard()
		i := 0
		for pb.Next() {
			w.reset()
			ps.h.ServeHTTP(w, reqs[i])
			if w.code != wants[i] {
				b.Errorf("code %d, want %d", w.code, wants[i])
				return
			}
			if i++; i == len(reqs) {
				i = 0
			}
		}
	})
}

// warm sends sc's requests once, untimed, so that tokens are cached and
// pools filled before timing starts.
func warm(b *testing.B, sc scenario) {
	b.Helper()
	for _, r := range sc.reqs {
		if w := serve(sc.h, r); w.Code != sc.want {
			b.Fatalf("code %d, want %d: %s", w.Code, sc.want, w.Body)
		}
	}
}

// BenchmarkRequestLog is the completed case inside the request log that
// cmd/lambda and cmd/local wrap every request in (status.LogRequests, a
// JSON line per request, here to io.Discard): what production adds to each
// poll beyond BenchmarkStatus/completed, before the write to stdout.
func BenchmarkRequestLog(b *testing.B) {
	sc := statusScenario(b, idCompleted, false, http.StatusOK)
	sc.h = status.LogRequests(slog.New(slog.NewJSONHandler(io.Discard, nil)), sc.h)
	warm(b, sc)
	run(b, sc)
}
