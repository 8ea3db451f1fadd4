package awsenv

import (
	"runtime/debug"
	"strconv"
)

// GCPercent is the garbage collector's target in a Lambda function when GOGC
// does not set one: a collection when the heap has grown by four times what
// the last one left live, not by once (Go's default). What a poll leaves live
// is a few MiB, and an answer with a presigned URL allocates about 7 KiB, so
// at the default a collection runs every few hundred requests and marks the
// whole live heap each time, on the fraction of a vCPU a small function has:
// in bench/, a third of what a presigned answer costs. The memory limit
// TuneGC sets bounds what the larger target may hold.
const GCPercent = 400

// GCSettings are what TuneGC set; zero where the environment decides.
type GCSettings struct {
	Percent     int   // the GC target, unless GOGC is set
	MemoryLimit int64 // bytes, unless GOMEMLIMIT is set or the function's memory is unknown
}

// TuneGC sizes the garbage collector for a function with
// AWS_LAMBDA_FUNCTION_MEMORY_SIZE MiB: GCPercent unless GOGC is set, and a
// soft memory limit of three quarters of the function's memory unless
// GOMEMLIMIT is set, so that a live heap grown large (the rate limiters'
// and the token cache's bounded maps, full) is collected more often rather
// than the function running out of memory.
func TuneGC(getenv func(string) string) GCSettings {
	var s GCSettings
	if getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
		s.Percent = GCPercent
	}
	if getenv("GOMEMLIMIT") == "" {
		if mib, err := strconv.ParseInt(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 10, 32); err == nil && mib > 0 {
			s.MemoryLimit = mib << 20 / 4 * 3
			debug.SetMemoryLimit(s.MemoryLimit)
		}
	}
	return s
}
