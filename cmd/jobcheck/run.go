package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/careervp/vprstatus/awsenv"
	"github.com/careervp/vprstatus/awsenv/defaultchain"
	"github.com/careervp/vprstatus/dynamo"
	"github.com/careervp/vprstatus/status"
)

// Exit statuses, as the package documentation lists them.
const (
	exitAccepted = 0 // the service accepts the item (an expired one included)
	exitBadData  = 1 // the item is bad data
	exitUsage    = 2 // usage or read error
)

// exitStatus ends run with a status whose reason is on stdout already.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// exitCode maps what run returned to the command's exit status.
func exitCode(err error) int {
	var st exitStatus
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitAccepted
	case errors.As(err, &st):
		return int(st)
	}
	return exitUsage
}

const usage = `usage: jobcheck [-bucket NAME] [FILE]
       jobcheck -table NAME -id JOB_ID [-bucket NAME]

Says how the VPR status service reads one job item, and what it answers
the job's owner: the service's own decoder and handler give the verdict.

The item is read in DynamoDB JSON, with or without the {"Item": …} envelope
of aws dynamodb get-item, from FILE or stdin; or with -table and -id from
DynamoDB itself, with the SDK's default credentials and region (the
environment, shared config and credentials files, AWS_PROFILE, SSO) and
the endpoint in AWS_ENDPOINT_URL_DYNAMODB, if set. With -bucket it also
checks that a COMPLETED job's result object exists, the same way.

The first line is the HTTP status the service would answer and why, e.g.

  202 PENDING (Retry-After 2s)
  200 COMPLETED (result_key results/u/….json)
  404 expired: ttl 2026-12-03T10:00:00Z passed 3m ago
  500 token_usage.input_tokens: want a number (N), got S

and the lines after it say what the service read. The item's contract is
docs/job-item.md, and dynamo/job-item.schema.json.

Exit status: 0 the service accepts the item (an expired one included),
1 the item is bad data, 2 usage or read error.

`

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	tableName := fs.String("table", "", "read the item from this DynamoDB table (with -id)")
	id := fs.String("id", "", "the job_id of the item to read from -table")
	bucket := fs.String("bucket", "", "the results bucket: check that a COMPLETED job's result object exists")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var (
		file string
		errs []string
	)
	switch {
	case fs.NArg() > 1:
		errs = append(errs, fmt.Sprintf("want at most one FILE, got %d arguments", fs.NArg()))
	case fs.NArg() == 1:
		file = fs.Arg(0)
	}
	switch {
	case (*tableName == "") != (*id == ""):
		errs = append(errs, "-table and -id go together")
	case *tableName != "" && file != "":
		errs = append(errs, "give -table and -id, or a FILE, not both")
	}
	if len(errs) > 0 {
		fs.Usage()
		return errors.New(strings.Join(errs, "; "))
	}
	now := time.Now()

	var backends *awsenv.Backends
	if *tableName != "" || *bucket != "" {
		var err error
		if backends, err = loadAWS(ctx, getenv, *tableName, *bucket); err != nil {
			return err
		}
	}
	var signer status.URLSigner
	if *bucket != "" {
		signer = backends.Results
	}

	if *tableName != "" {
		// The store awsenv builds, over a client that notes what it read.
		rd := &reads{next: backends.DynamoDB}
		store := dynamo.New(rd, *tableName, dynamo.WithCallTimeout(backends.Settings.CallTimeout))
		v, err := check(ctx, store, signer, *bucket, *id, now)
		if errors.Is(err, errNotFound) {
			if v, ok := noAttributes(rd); ok {
				return report(stdout, v, exitBadData)
			}
			return report(stdout, verdict{code: 404, why: fmt.Sprintf("not found: no item with job_id %q in table %s", *id, *tableName)}, exitUsage)
		}
		if err != nil {
			return err
		}
		return report(stdout, v, exitFor(v))
	}

	in := stdin
	if file != "" && file != "-" {
		f, err := os.Open(file) // #nosec G304 G703 -- the file the user named on the command line
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	b, err := readInput(in)
	if err != nil {
		return err
	}
	it, err := parseItem(b)
	if err != nil {
		return err
	}
	key, problem := jobID(it)
	if problem != "" {
		return report(stdout, verdict{code: 404, why: problem, bad: true}, exitBadData)
	}
	rd := &reads{next: (&table{item: it}).client()}
	v, err := check(ctx, dynamo.New(rd, "jobcheck"), signer, *bucket, key, now)
	if errors.Is(err, errNotFound) {
		v, _ = noAttributes(rd) // the table holds the item, and has been asked for its key
		err = nil
	}
	if err != nil {
		return err
	}
	v.details = append(v.details, ignored(it, rd)...)
	return report(stdout, v, exitFor(v))
}

// noAttributes is the verdict on an item that the store took for no item
// because it has none of the attributes the store reads, if rd saw one.
func noAttributes(rd *reads) (verdict, bool) {
	projected, found := rd.last()
	return verdict{code: 404, bad: true,
		why: "not found: the item has none of the attributes the service reads (" + strings.Join(projected, ", ") + "), so the store reads it as no item",
	}, found
}

// exitFor is the exit status of v.
func exitFor(v verdict) int {
	if v.bad {
		return exitBadData
	}
	return exitAccepted
}

// report prints v, each line with its control characters escaped, and
// returns the exit status.
func report(w io.Writer, v verdict, code int) error {
	lines := append([]string{fmt.Sprintf("%d %s", v.code, v.why)}, v.details...)
	for i, l := range lines {
		if i > 0 {
			l = "  " + l
		}
		if _, err := fmt.Fprintln(w, escape(l)); err != nil {
			return err
		}
	}
	if code == exitAccepted {
		return nil
	}
	return exitStatus(code)
}

// keyName is the jobs table's partition key.
const keyName = "job_id"

// jobID returns the item's key, or why there is none to poll with.
func jobID(it *item) (id, problem string) {
	raw, ok := it.attrs[keyName]
	if !ok {
		return "", "job_id: missing: DynamoDB cannot hold an item without its key, and no poll can name it"
	}
	var v map[string]json.RawMessage
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", "job_id: " + err.Error() // parseItem has checked it is an attribute value
	}
	for typ, text := range v {
		if typ != "S" {
			return "", "job_id: want a string (S), got " + typ + ": DynamoDB cannot hold an item whose key has another type than the table's, and no poll can name it"
		}
		if err := json.Unmarshal(text, &id); err != nil {
			return "", "job_id: " + err.Error()
		}
	}
	return id, ""
}

// ignored lists the item's attributes that the store did not read, and
// names those that differ from one it reads only in case.
func ignored(it *item, rd *reads) []string {
	projected, _ := rd.last()
	var plain, variants []string
	for _, name := range it.names {
		if name == keyName || slices.Contains(projected, name) {
			continue
		}
		if i := slices.IndexFunc(projected, func(p string) bool { return strings.EqualFold(p, name) }); i >= 0 {
			variants = append(variants, fmt.Sprintf("%-13s the service reads %s, not %s: names are case-sensitive", "not read", projected[i], name))
			continue
		}
		plain = append(plain, name)
	}
	var out []string
	if len(plain) > 0 {
		out = append(out, fmt.Sprintf("%-13s %s (the service never reads them)", "not read", strings.Join(plain, ", ")))
	}
	return append(out, variants...)
}

// loadAWS builds the AWS backends for -table and -bucket as cmd/local's
// -backend aws does (defaultchain.Load), with the table and bucket of the
// flags. awsenv wants both names; the one not given is never used.
func loadAWS(ctx context.Context, getenv func(string) string, tableName, bucket string) (*awsenv.Backends, error) {
	return defaultchain.Load(ctx, func(k string) string {
		switch k {
		case "JOBS_TABLE_NAME":
			return cmp.Or(tableName, "unused")
		case "VPR_RESULTS_BUCKET_NAME":
			return cmp.Or(bucket, "unused")
		}
		return getenv(k)
	})
}
