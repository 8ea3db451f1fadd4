//go:build race

package bench_test

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts are not comparable under it.
const raceEnabled = true
