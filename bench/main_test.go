package bench_test

import (
	"os"
	"testing"

	"github.com/careervp/vprstatus/awsenv"
)

// TestMain runs the benchmarks, the floor and the handler alike, under the
// garbage collector settings the function runs with: awsenv.TuneGC's for a
// 256 MiB function, as infra/ deploys it. GOGC and GOMEMLIMIT in the
// environment still win, as they do in Lambda.
func TestMain(m *testing.M) {
	awsenv.TuneGC(func(k string) string {
		if k == "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" {
			return "256"
		}
		return os.Getenv(k)
	})
	os.Exit(m.Run())
}
