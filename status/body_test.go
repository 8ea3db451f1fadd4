package status_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/careervp/vprstatus/status"
)

// sameJSON fails unless got, a body's own encoding of v, is what writeJSON's
// encoder (encoding/json, SetEscapeHTML(false)) writes for v.
func sameJSON(t *testing.T, v any, got []byte) {
	t.Helper()
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("\n got %q\nwant %q", got, want.Bytes())
	}
}

// checkBodies holds every answer body, its optional members present or
// not, to encoding/json with strings s and numbers n in each member.
func checkBodies(t *testing.T, s [4]string, n [2]int64) {
	t.Helper()
	for _, omit := range []bool{false, true} {
		opt := func(v string) string {
			if omit {
				return ""
			}
			return v
		}
		p := status.PendingBody{JobID: s[0], Status: status.State(s[1]), CreatedAt: s[2], StartedAt: opt(s[3])}
		sameJSON(t, p, status.AppendJSON(p))
		var usage *status.TokenUsage
		if !omit {
			usage = &status.TokenUsage{InputTokens: n[0], OutputTokens: n[1]}
		}
		c := status.CompletedBody{JobID: s[0], Status: status.State(s[1]), CreatedAt: s[2], CompletedAt: opt(s[3]),
			ResultURL: s[3], ResultURLExpiresAt: s[1], TokenUsage: usage}
		sameJSON(t, c, status.AppendJSON(c))
		f := status.FailedBody{JobID: s[0], Status: status.State(s[1]), CreatedAt: s[2], Error: opt(s[3])}
		sameJSON(t, f, status.AppendJSON(f))
	}
}

// jsonCases are strings encoding/json escapes, or leaves alone, in every
// way it can.
var jsonCases = []string{
	"",
	"33333333-3333-4333-8333-333333333333",
	"https://vpr-results.s3.eu-west-1.amazonaws.com/results/a%20b.json?X-Amz-Algorithm=AWS4-HMAC-SHA256&x-id=GetObject",
	`"quoted" \back\slash/ <html> & 'single'`,
	"\x00\x01\x07\b\t\n\v\f\r\x1b\x1f\x7f",
	"résumé 日本語 😀",
	"line\u2028paragraph\u2029",
	"bad utf-8: \xff\xfe \xc3 \xe2\x80 end",
	strings.Repeat("x", 1000),
}

func TestBodyJSON(t *testing.T) {
	for _, s := range jsonCases {
		checkBodies(t, [4]string{s, s, s, s}, [2]int64{5120, 2048})
	}
	checkBodies(t, [4]string{"a", "b", "c", "d"}, [2]int64{-1 << 63, 1<<63 - 1})
}

// FuzzBodyJSON holds the bodies' own encoding to encoding/json over any
// strings and numbers.
func FuzzBodyJSON(f *testing.F) {
	for i, s := range jsonCases {
		f.Add(s, jsonCases[(i+1)%len(jsonCases)], "COMPLETED", s, int64(i), int64(-i))
	}
	f.Fuzz(func(t *testing.T, a, b, c, d string, n, m int64) {
		checkBodies(t, [4]string{a, b, c, d}, [2]int64{n, m})
	})
}
