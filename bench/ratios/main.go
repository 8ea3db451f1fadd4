// Command ratios reads `go test -bench` output of ./bench/ and prints each
// target of the benchmarks as a ratio of medians: the status handler
// against the floor, cold tokens against golang-jwt's own parse plus a
// cached poll, the real presigner's poll against the floor, and the
// allocation budgets. Each target also shows the median of its per-run
// figures and their range, the spread on a noisy machine.
//
//	go test -run '^$' -bench . -benchmem -count 10 ./bench/ > new.txt
//	go run ./bench/ratios new.txt
//
// It reports; it does not fail on a missed target (timings depend on the
// machine), only on input it cannot read.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ratios:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	res := results{}
	if len(args) == 0 {
		if err := res.read(stdin); err != nil {
			return err
		}
	}
	for _, name := range args {
		f, err := os.Open(name) // #nosec G304 G703 -- the benchmark files named on its own command line
		if err != nil {
			return err
		}
		err = errors.Join(res.read(f), f.Close())
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if len(res) == 0 {
		return errors.New("no benchmark results in the input")
	}
	return report(stdout, res)
}

// results holds every sample of every benchmark, by name without the
// -GOMAXPROCS suffix and without the Benchmark prefix, then by unit.
type results map[string]map[string][]float64

// read adds the result lines of r: "BenchmarkX-2  N  v unit  v unit ...".
func (res results) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue // a benchmark's own log line
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			if res[name] == nil {
				res[name] = map[string][]float64{}
			}
			res[name][f[i+1]] = append(res[name][f[i+1]], v)
		}
	}
	return sc.Err()
}

// median returns the median of name's samples in unit, and how many there
// are.
func (res results) median(name, unit string) (float64, int, bool) {
	s := slices.Clone(res[name][unit])
	if len(s) == 0 {
		return 0, 0, false
	}
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return m, len(s), true
}

// A target is a ratio and its limit. Ratios of times are of medians.
type target struct {
	what  string
	num   []string // summed numerator benchmarks
	minus []string // subtracted from the numerator
	den   []string // summed denominator benchmarks; none: an absolute figure
	unit  string
	limit float64
}

var targets = []target{
	{"completed ≤ 3× floor", []string{"Status/completed"}, nil, []string{"Floor"}, "ns/op", 3},
	{"completed ≤ 50 allocs", []string{"Status/completed"}, nil, nil, "allocs/op", 50},
	{"pending ≤ 2.5× floor", []string{"Status/pending"}, nil, []string{"Floor"}, "ns/op", 2.5},
	{"not_modified ≤ 2.5× floor", []string{"Status/not_modified"}, nil, []string{"Floor"}, "ns/op", 2.5},
	{"cold rs256 ≤ 1.3× (jwt rs256 + completed)", []string{"StatusColdToken/rs256"}, nil, []string{"JWTParse/rs256", "Status/completed"}, "ns/op", 1.3},
	{"cold es256 ≤ 1.3× (jwt es256 + completed)", []string{"StatusColdToken/es256"}, nil, []string{"JWTParse/es256", "Status/completed"}, "ns/op", 1.3},
	{"cold hs256 ≤ 1.3× (jwt hs256 + completed)", []string{"StatusColdToken/hs256"}, nil, []string{"JWTParse/hs256", "Status/completed"}, "ns/op", 1.3},
	{"s3 presign ≤ 12× floor", []string{"StatusS3Presign"}, nil, []string{"Floor"}, "ns/op", 12},
	{"s3 presign ≤ 90 allocs", []string{"StatusS3Presign"}, nil, nil, "allocs/op", 90},
	// Not a target of the issue: how completed fares without the fake
	// signer's share, which production does not run.
	{"(completed − fake signer) ≤ 3× floor", []string{"Status/completed"}, []string{"FakeSigner"}, []string{"Floor"}, "ns/op", 3},
}

// sum adds the medians of names in unit; ok is false if one is missing.
func (res results) sum(names []string, unit string) (total float64, ok bool) {
	for _, name := range names {
		m, _, ok := res.median(name, unit)
		if !ok {
			return 0, false
		}
		total += m
	}
	return total, true
}

// sums adds the i-th samples of names in unit, for every i all of them
// have.
func (res results) sums(names []string, unit string) []float64 {
	n := -1
	for _, name := range names {
		if k := len(res[name][unit]); n < 0 || k < n {
			n = k
		}
	}
	if n <= 0 {
		return nil
	}
	out := make([]float64, n)
	for _, name := range names {
		for i, v := range res[name][unit][:n] {
			out[i] += v
		}
	}
	return out
}

// figure returns t's figure from the medians, and the figures of each run
// taken alone (the i-th sample of every benchmark involved), one per run.
// Runs interleaved (each a -count 1 of the whole suite) pair samples taken
// close in time, which cancels much of a noisy machine's drift; with
// -count N the median of the per-run figures agrees with the figure of
// medians about as well as the samples do.
func (t target) figure(res results) (medians float64, perRun []float64, ok bool) {
	num, ok := res.sum(t.num, t.unit)
	if !ok {
		return 0, nil, false
	}
	sub, ok := res.sum(t.minus, t.unit)
	if !ok {
		return 0, nil, false
	}
	den := 1.0
	if t.den != nil {
		if den, ok = res.sum(t.den, t.unit); !ok || den == 0 {
			return 0, nil, false
		}
	}
	names := slices.Concat(t.num, t.minus, t.den)
	nums, subs := res.sums(t.num, t.unit), res.sums(t.minus, t.unit)
	dens := res.sums(t.den, t.unit)
	figs := make([]float64, len(res.sums(names, t.unit)))
	for i := range figs {
		figs[i] = nums[i]
		if t.minus != nil {
			figs[i] -= subs[i]
		}
		if t.den != nil {
			figs[i] /= dens[i]
		}
	}
	return (num - sub) / den, figs, true
}

func medianOf(s []float64) float64 {
	if len(s) == 0 {
		return 0
	}
	s = slices.Clone(s)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

func report(w io.Writer, res results) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tof medians\tper run (median)\tlimit\tmet\truns\tper-run range")
	for _, t := range targets {
		medians, perRun, ok := t.figure(res)
		if !ok {
			fmt.Fprintf(tw, "%s\tmissing\t\t\t\t\t\n", t.what)
			continue
		}
		paired := medianOf(perRun)
		met := "yes"
		if paired > t.limit {
			met = "NO"
		}
		prec := 2
		if t.den == nil {
			prec = 0 // a count
		}
		fmt.Fprintf(tw, "%s\t%.*f\t%.*f\t%g\t%s\t%d\t%.*f–%.*f\n", t.what, prec, medians, prec, paired, t.limit, met,
			len(perRun), prec, slices.Min(perRun), prec, slices.Max(perRun))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	// Every benchmark, for the README's table.
	floor, _, hasFloor := res.median("Floor", "ns/op")
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "benchmark\tns/op\t× floor\tB/op\tallocs/op\truns\t")
	names := make([]string, 0, len(res))
	for name := range res {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		ns, n, ok := res.median(name, "ns/op")
		if !ok {
			continue
		}
		x := "–"
		if hasFloor {
			x = fmt.Sprintf("%.2f", ns/floor)
		}
		b, _, _ := res.median(name, "B/op")
		a, _, _ := res.median(name, "allocs/op")
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.0f\t%.0f\t%d\t\n", name, ns, x, b, a, n)
	}
	return tw.Flush()
}
