package awsenv_test

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/careervp/vprstatus/awsenv"
)

func TestTuneGC(t *testing.T) {
	// Restore the runtime's settings for the other tests.
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))

	for _, tt := range []struct {
		name string
		env  env
		want awsenv.GCSettings
	}{
		{"a 256 MiB function", env{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}, awsenv.GCSettings{Percent: awsenv.GCPercent, MemoryLimit: 192 << 20}},
		{"memory unknown", env{}, awsenv.GCSettings{Percent: awsenv.GCPercent}},
		{"memory malformed", env{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "lots"}, awsenv.GCSettings{Percent: awsenv.GCPercent}},
		{"GOGC and GOMEMLIMIT set", env{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "GOGC": "100", "GOMEMLIMIT": "100MiB"}, awsenv.GCSettings{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			got := awsenv.TuneGC(tt.env.get)
			if got != tt.want {
				t.Fatalf("TuneGC = %+v, want %+v", got, tt.want)
			}
			wantPercent, wantLimit := tt.want.Percent, tt.want.MemoryLimit
			if wantPercent == 0 {
				wantPercent = 100
			}
			if wantLimit == 0 {
				wantLimit = math.MaxInt64
			}
			if p := debug.SetGCPercent(100); p != wantPercent {
				t.Errorf("GC percent %d, want %d", p, wantPercent)
			}
			if l := debug.SetMemoryLimit(-1); l != wantLimit {
				t.Errorf("memory limit %d, want %d", l, wantLimit)
			}
		})
	}
}
