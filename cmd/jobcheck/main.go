// Command jobcheck says how the VPR status service reads one job item,
// and what it answers the job's owner: for the teams that write the item
// (in their own CI, on an item their code produced) and for operators (on a
// job that answers 500).
//
//	aws dynamodb get-item --table-name vpr-jobs --key '{"job_id":{"S":"…"}}' | jobcheck
//	jobcheck item.json
//	jobcheck -table vpr-jobs -id 3f2c1a9e-8b7d-4c6e-9f01-23456789abcd -bucket vpr-results
//
// The first line is the HTTP status the service would answer and why, the
// lines after it what the service read. The verdict comes from the
// service's own code: the item goes through the AWS SDK's deserializer and
// dynamo's decoder (served by a one-item table inside the process, or read
// from DynamoDB), then status.New's handler answers a GET as the owner.
// docs/job-item.md has the item's contract and the whole usage.
//
// Exit status:
//
//	0  the service accepts the item (an expired one included)
//	1  the item is bad data
//	2  usage or read error
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	var reported exitStatus
	if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.As(err, &reported) {
		fmt.Fprintln(os.Stderr, escape("jobcheck: "+err.Error()))
	}
	os.Exit(exitCode(err))
}
