// Command local serves the VPR status API for development, on in-memory
// fakes by default: no AWS account needed.
//
//	go run ./cmd/local
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vprstatus:", err)
		os.Exit(1)
	}
}
