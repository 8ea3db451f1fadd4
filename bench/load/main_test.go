package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/careervp/vprstatus/internal/testkit"
)

// TestMain lets the test binary stand in for the command when run serves
// the floor as a child (os.Executable is the test binary then).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-serve-floor" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestCheck(t *testing.T) {
	ps := newPollers(2)
	ps[0].job, ps[1].job = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	owner := map[string]int{ps[0].job: 0, ps[1].job: 1}
	body := func(id, url string) []byte {
		return fmt.Appendf(nil, `{"job_id":%q,"status":"COMPLETED","created_at":"2026-01-01T00:00:00Z","result_url":%q,"result_url_expires_at":"2026-01-01T01:00:00Z"}`, id, url)
	}
	tests := []struct {
		name string
		code int
		body []byte
		err  error
		want string // prefix of the complaint; "" for none
	}{
		{"own job", 200, body(ps[0].job, "http://127.0.0.1/r/"+ps[0].job+".json"), nil, ""},
		{"another's job", 200, body(ps[1].job, "http://127.0.0.1/r/x.json"), nil, "wrong"},
		{"another's result URL", 200, body(ps[0].job, "http://127.0.0.1/r/"+ps[1].job+".json"), nil, "wrong"},
		{"no job at all", 200, body("", ""), nil, "wrong"},
		{"not JSON", 200, []byte("<html>"), nil, "200 with a body"},
		{"429", 429, []byte(`{"error":"Too many requests"}`), nil, "429"},
		{"503", 503, nil, nil, "503"},
		{"transport", 0, nil, errors.New("connection reset"), "connection reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := check(tt.code, tt.body, tt.err, 0, ps[0], owner)
			if tt.want == "" && got != "" || !strings.HasPrefix(got, tt.want) {
				t.Errorf("check = %q, want %q…", got, tt.want)
			}
		})
	}
}

// TestRun polls both targets briefly: cmd/local built from this module,
// and the floor served by this test binary.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/local")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	var errs testkit.Buffer // both children write to it
	err := run(ctx, []string{"load", "-n", "200", "-c", "4", "-rounds", "2", "-duration", "10s"}, &out, &errs)
	if err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, &out, errs.String())
	}
	for _, want := range []string{`all\s+local\s+200\s`, `all\s+floor\s+200\s`, `local/floor requests a second: \d`} {
		if !regexp.MustCompile(want).Match(out.Bytes()) {
			t.Errorf("output lacks %s:\n%s", want, &out)
		}
	}
	t.Log(out.String())
}

// TestRunWait waits for jobs of cmd/local with package client: a job of
// 2 s, polled as the service asks (every 2 s), costs at most 3 requests.
func TestRunWait(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/local")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	var errs testkit.Buffer
	err := run(ctx, []string{"load", "-mode", "wait", "-c", "4", "-rounds", "1", "-duration", "7s", "-pending-for", "1s", "-processing-for", "1s"}, &out, &errs)
	if err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, &out, errs.String())
	}
	m := regexp.MustCompile(`all\s+local\s+(\d+)\s+(\d+)\s`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no totals row:\n%s", &out)
	}
	jobs, requests := atoi(t, m[1]), atoi(t, m[2])
	if jobs != 4 || requests < 2*jobs || requests > 3*jobs {
		t.Errorf("%d jobs, %d status requests; want 4 jobs of 2 to 3 requests each:\n%s", jobs, requests, &out)
	}
	t.Log(out.String())
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-target", "elsewhere"},
		{"-c", "0"},
		{"-n", "10", "-c", "20"},
		{"-duration", "1h"},
		{"extra"},
		{"-mode", "gentle"},
		{"-mode", "wait", "-target", "floor"},
		{"-mode", "wait", "-c", "1001"},
		{"-mode", "wait", "-pending-for", "-1s"},
		{"-mode", "wait", "-duration", "9s"}, // 3 rounds of 3 s: too short for 5 s jobs
	} {
		if _, err := parseFlags(append([]string{"load"}, args...), new(bytes.Buffer)); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	o, err := parseFlags([]string{"load"}, new(bytes.Buffer))
	if err != nil || o.n != 20_000 || o.c != 32 || len(o.targets) != 2 || o.duration != 30*time.Second || o.mode != "hammer" {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	o, err = parseFlags([]string{"load", "-mode", "wait"}, new(bytes.Buffer))
	if err != nil || fmt.Sprint(o.targets) != "[local]" || o.pendingFor != 2*time.Second || o.processFor != 3*time.Second {
		t.Errorf("-mode wait defaults: %+v, %v", o, err)
	}
}
