package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkFloor-2                 	  100	      2000 ns/op	     144 B/op	       3 allocs/op
BenchmarkStatus/completed-2      	  100	      5000 ns/op	    1616 B/op	      30 allocs/op
BenchmarkStatus/pending-2        	  100	      4000 ns/op	     379 B/op	      10 allocs/op
BenchmarkStatusS3Presign-2       	  100	     20000 ns/op	    7000 B/op	      80 allocs/op
BenchmarkFloor-2                 	  100	      4000 ns/op	     144 B/op	       3 allocs/op
BenchmarkStatus/completed-2      	  100	      8000 ns/op	    1616 B/op	      30 allocs/op
BenchmarkStatus/pending-2        	  100	     12000 ns/op	     379 B/op	      10 allocs/op
BenchmarkStatusS3Presign-2       	  100	     52000 ns/op	    7000 B/op	      80 allocs/op
BenchmarkStatus/not_modified     	  100	      3000 ns/op
PASS
`

func TestReport(t *testing.T) {
	var out bytes.Buffer
	if err := run(nil, strings.NewReader(sample), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		// medians 6500/3000 = 2.17; per run 2.5 and 2.0, median 2.25
		`completed ≤ 3× floor\s+2\.17\s+2\.25\s+3\s+yes\s+2\s+2\.00–2\.50\n`,
		`completed ≤ 50 allocs\s+30\s+30\s+50\s+yes\s+2\s+30–30\n`,
		// medians 36000/3000 = 12.00; per run 10.0 and 13.0, median 11.50
		`s3 presign ≤ 12× floor\s+12\.00\s+11\.50\s+12\s+yes\s+2\s+10\.00–13\.00\n`,
		`s3 presign ≤ 90 allocs\s+80\s+80\s+90\s+yes\s+2\s+80–80\n`,
		// medians 8000/3000 = 2.67; per run 2.0 and 3.0, median 2.50
		`pending ≤ 2\.5× floor\s+2\.67\s+2\.50\s+2\.5\s+yes\s+2`,
		// one sample: the one run it pairs with is the first
		`not_modified ≤ 2\.5× floor\s+1\.00\s+1\.50\s+2\.5\s+yes\s+1`,
		`cold rs256 .*missing`,
		`Status/completed\s+6500\s+2\.17\s+1616\s+30\s+2`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("output lacks %s:\n%s", want, &out)
		}
	}
}

func TestNoResults(t *testing.T) {
	if err := run(nil, strings.NewReader("PASS\n"), new(bytes.Buffer)); err == nil {
		t.Error("no error for input without results")
	}
}
