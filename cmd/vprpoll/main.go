// Command vprpoll waits for a VPR job and prints its final status, or its
// result: the submit-curl-sleep-curl-jq-fetch check as one command, on
// package client (so it polls as the service asks: Retry-After, ETags,
// bounded retries).
//
//	go run ./cmd/vprpoll [-base URL] [-token T | env VPR_TOKEN] [-fetch] [-timeout D] JOB_ID
//
// Stderr gets a line per change of the job's state (the time, the state and
// the wait the service asked for), or one progress line when it is a
// terminal. Stdout gets the final status JSON, or with -fetch the result
// JSON of a completed job.
//
// What the server chose is escaped before it is printed: on stderr every
// control character (C0, DEL, C1, and bytes that are not UTF-8) in a job's
// error, a problem's text or a redirect's Location comes out as \xNN,
// \u00NN, \n or \r; the JSON on stdout has DEL, C1, U+2028 and U+2029
// written as \uXXXX and no CR, a terminal or not. So no answer can clear
// the screen, retitle the window or forge a line.
//
// Exit status:
//
//	0  the job completed
//	1  the job failed
//	2  not found, forbidden, or the result is gone
//	3  unauthorized
//	4  timeout
//	5  anything else
package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		printError(os.Stderr, err)
	}
	os.Exit(exitCode(err))
}
